package io.jitdi.cache;

import io.jitdi.oci.Digest;
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
    MessageDigest sha256 = Digest.newSha256();
    ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      while (channel.read(buffer) >= 0) {
        buffer.flip();
        sha256.update(buffer);
        buffer.clear();
      }
    }
    return Digest.ofSha256Bytes(sha256.digest());
  }
}
