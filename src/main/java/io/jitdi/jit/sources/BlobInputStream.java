package io.jitdi.jit.sources;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/** {@code length} bytes of a blob from {@code offset}, read with positional reads; closing it closes the blob. */
public final class BlobInputStream extends InputStream {
  private final ArtifactRegistry.Blob blob;
  private final long end;
  private long position;

  public BlobInputStream(ArtifactRegistry.Blob blob, long offset, long length) {
    if (offset < 0 || length < 0 || offset + length > blob.size()) {
      blob.close();
      throw new IllegalArgumentException("bytes " + offset + "+" + length + " are outside a blob of " + blob.size());
    }
    this.blob = blob;
    this.position = offset;
    this.end = offset + length;
  }

  @Override
  public int read() throws IOException {
    return Streams.readOne(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (position >= end) {
      return -1;
    }
    int n = blob.channel().read(ByteBuffer.wrap(b, off, (int) Math.min(len, end - position)), position);
    if (n < 0) {
      throw new IOException("the blob ended at byte " + position + ", before " + end);
    }
    position += n;
    return n;
  }

  @Override
  public long skip(long n) {
    long skipped = Math.max(0, Math.min(n, end - position));
    position += skipped;
    return skipped;
  }

  @Override
  public int available() {
    return (int) Math.min(Integer.MAX_VALUE, end - position);
  }

  @Override
  public void close() {
    blob.close();
  }
}
