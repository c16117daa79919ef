package io.jitdi.jit.sources;

import io.jitdi.oci.Digest;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;

/**
 * Passes bytes through while computing their sha256; at the end, fails with an IOException unless the digest and
 * length are the expected ones. Readers that use every byte before the end see the failure before they finish.
 */
public final class VerifyingInputStream extends FilterInputStream {
  private final Digest expected;
  private final long size;
  private final String what;
  private final MessageDigest sha256 = Digest.newSha256();
  private long count;
  private boolean checked;

  public VerifyingInputStream(InputStream in, Digest expected, long size, String what) {
    super(in);
    this.expected = expected;
    this.size = size;
    this.what = what;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    int n = read(one, 0, 1);
    return n < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = super.read(b, off, len);
    if (n < 0) {
      check();
      return -1;
    }
    sha256.update(b, off, n);
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
    Digest actual = Digest.ofSha256Bytes(sha256.digest());
    if (count != size || !actual.equals(expected)) {
      throw new IOException(what + " has sha256 " + actual + " (" + count + " bytes), not the expected " + expected
          + " (" + size + " bytes)");
    }
  }

  @Override
  public long skip(long n) throws IOException {
    throw new IOException("a verified stream is read, not skipped");
  }
}
