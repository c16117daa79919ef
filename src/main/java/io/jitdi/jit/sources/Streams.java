package io.jitdi.jit.sources;

import java.io.IOException;
import java.io.InputStream;

/** What the sources' streams share. */
final class Streams {
  private Streams() {}

  /** {@link InputStream#read()} in terms of the stream's own {@code read(byte[], int, int)}. */
  static int readOne(InputStream in) throws IOException {
    byte[] one = new byte[1];
    int n = in.read(one, 0, 1);
    return n < 0 ? -1 : one[0] & 0xff;
  }
}
