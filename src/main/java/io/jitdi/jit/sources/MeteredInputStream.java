package io.jitdi.jit.sources;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.function.LongConsumer;

/**
 * Passes bytes through and tells {@code read} of every byte read, as it is read; skipped bytes are not read, so they
 * are not told, but {@link #position()} counts both. A build meters its sources with it: the bytes it told are the
 * bytes the build really read from a source.
 */
public final class MeteredInputStream extends FilterInputStream {
  private final LongConsumer read;
  private long position;

  public MeteredInputStream(InputStream in, LongConsumer read) {
    super(in);
    this.read = read;
  }

  /** Bytes read or skipped since the stream was opened. */
  public long position() {
    return position;
  }

  @Override
  public int read() throws IOException {
    return Streams.readOne(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = in.read(b, off, len);
    if (n > 0) {
      position += n;
      read.accept(n);
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long skipped = in.skip(n);
    if (skipped > 0) {
      position += skipped;
    }
    return skipped;
  }

  /** Marks are not supported: a reset would count bytes twice. */
  @Override
  public boolean markSupported() {
    return false;
  }
}
