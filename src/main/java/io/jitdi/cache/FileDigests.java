package io.jitdi.cache;

import io.jitdi.oci.Digest;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;

/** Re-hashing files on disk (blocking): for start-up reconciliation and {@code jitdi verify}. */
public final class FileDigests {
  private FileDigests() {}

  /** The sha256 of the whole file. */
  public static Digest sha256(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      return sha256(channel, 0, channel.size());
    }
  }

  /** The sha256 of bytes {@code [offset, offset + length)} of {@code channel}, read positionally. */
  public static Digest sha256(FileChannel channel, long offset, long length) throws IOException {
    MessageDigest sha256 = Digest.newSha256();
    ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
    long at = offset;
    long end = offset + length;
    while (at < end) {
      buffer.clear().limit((int) Math.min(buffer.capacity(), end - at));
      int n = channel.read(buffer, at);
      if (n < 0) {
        throw new EOFException("the file ended at byte " + at + ", before byte " + end);
      }
      sha256.update(buffer.flip());
      at += n;
    }
    return Digest.ofSha256Bytes(sha256.digest());
  }
}
