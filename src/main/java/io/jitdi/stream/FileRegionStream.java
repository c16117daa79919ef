package io.jitdi.stream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Bytes {@code [offset, offset + length)} of a file, read with positional reads (the channel's own position is left
 * alone, so several streams may read one channel). A file that ends before the region does fails the read rather
 * than end it short. Closing the stream runs {@code onClose}, not a close of the channel.
 *
 * <p>A subclass reads a file that is still being written: {@link #readableFrom} waits until the bytes exist, and
 * {@link #reachedEnd} may check the content before the end is reported.
 */
public class FileRegionStream extends InputStream {
  private final FileChannel channel;
  private final Runnable onClose;
  private final long end;
  private long position;
  private boolean ended;

  /**
   * @param size the size of the content the region lies in; a region outside it is refused (after {@code onClose})
   * @throws IllegalArgumentException when the region is not inside {@code [0, size)}
   */
  public FileRegionStream(FileChannel channel, long offset, long length, long size, Runnable onClose) {
    if (offset < 0 || length < 0 || offset + length > size) {
      onClose.run();
      throw new IllegalArgumentException("bytes " + offset + "+" + length + " are outside content of " + size
          + " bytes");
    }
    this.channel = channel;
    this.onClose = onClose;
    this.position = offset;
    this.end = offset + length;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  /**
   * How far the file may be read now, from {@code position} (which it must exceed): the region's end here; a subclass
   * may block until more of the file is written.
   */
  protected long readableFrom(long position) throws IOException {
    return end;
  }

  /** Called once, when a read reaches the region's end and before it reports it; may fail that read. */
  protected void reachedEnd() throws IOException {}

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (position >= end) {
      if (!ended) {
        reachedEnd();
        ended = true;
      }
      return -1;
    }
    if (len == 0) {
      return 0;
    }
    long limit = Math.min(end, readableFrom(position));
    int n = channel.read(ByteBuffer.wrap(b, off, (int) Math.min(len, limit - position)), position);
    if (n < 0) {
      throw new IOException("the file ended at byte " + position + ", before byte " + end);
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
    // what is left of the region, also while a subclass still waits for it: GZIPInputStream reads a next member only
    // when available() > 0, so "not arrived yet" must not read as "nothing more"
    return (int) Math.min(Integer.MAX_VALUE, end - position);
  }

  @Override
  public void close() {
    onClose.run();
  }
}
