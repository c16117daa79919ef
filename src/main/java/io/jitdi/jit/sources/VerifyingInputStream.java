package io.jitdi.jit.sources;

import io.jitdi.oci.Digest;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Passes bytes through while hashing them; at the end, fails with an IOException unless the hash and length are the
 * expected ones. Readers that use every byte before the end see the failure before they finish.
 */
public final class VerifyingInputStream extends FilterInputStream {
  private final String algorithm;
  private final String expectedHex;
  private final long size;
  private final String what;
  private final MessageDigest hash;
  private long count;
  private boolean checked;

  private VerifyingInputStream(InputStream in, MessageDigest hash, String algorithm, String expectedHex, long size,
      String what) {
    super(in);
    this.hash = hash;
    this.algorithm = algorithm;
    this.expectedHex = expectedHex;
    this.size = size;
    this.what = what;
  }

  /** Expects {@code size} bytes whose sha256 is {@code expected}. */
  public VerifyingInputStream(InputStream in, Digest expected, long size, String what) {
    this(in, Digest.newSha256(), "sha256", expected.hex(), size, what);
  }

  /**
   * Expects {@code size} bytes that git stores as blob {@code sha1Hex}: the SHA-1 of {@code "blob <size>\0"} followed
   * by the content (what the Hugging Face tree API gives as {@code oid} for files not in LFS).
   */
  public static VerifyingInputStream gitBlob(InputStream in, String sha1Hex, long size, String what) {
    MessageDigest sha1;
    try {
      sha1 = MessageDigest.getInstance("SHA-1");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    sha1.update(("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
    return new VerifyingInputStream(in, sha1, "git blob id", sha1Hex, size, what);
  }

  @Override
  public int read() throws IOException {
    return Streams.readOne(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = super.read(b, off, len);
    if (n < 0) {
      check();
      return -1;
    }
    hash.update(b, off, n);
    count += n;
    if (count == size) {
      check();
    }
    return n;
  }

  private void check() throws IOException {
    if (checked) {
      return;
    }
    checked = true;
    String actual = HexFormat.of().formatHex(hash.digest());
    if (count != size || !actual.equals(expectedHex)) {
      throw new IOException(what + " has " + algorithm + " " + actual + " (" + count + " bytes), not the expected "
          + expectedHex + " (" + size + " bytes)");
    }
  }

  @Override
  public long skip(long n) throws IOException {
    throw new IOException("a verified stream is read, not skipped");
  }
}
