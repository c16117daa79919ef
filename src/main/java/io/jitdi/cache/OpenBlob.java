package io.jitdi.cache;

import io.jitdi.oci.Digest;
import io.vertx.core.Context;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A committed blob opened for reading. While open it is pinned: eviction skips it, and the open descriptor keeps its
 * bytes readable even if the file is deleted. Close it exactly when the response is done.
 *
 * <p>The blob's bytes are {@code [offset(), offset() + size())} of {@link #channel()}: the whole file, or for a blob
 * held inside another one ({@link #region}), a range of the container's file.
 */
public final class OpenBlob implements AutoCloseable {
  private final Digest digest;
  private final FileChannel channel;
  private final long offset;
  private final long size;
  private final boolean jit;
  private final Runnable unpin;
  private final Executor io;
  private final AtomicBoolean closed = new AtomicBoolean();

  /** @param io where the close runs when asked on an event loop: the last close of a deleted file frees its blocks */
  OpenBlob(Digest digest, FileChannel channel, long size, boolean jit, Runnable unpin, Executor io) {
    this(digest, channel, 0, size, jit, unpin, io);
  }

  private OpenBlob(Digest digest, FileChannel channel, long offset, long size, boolean jit, Runnable unpin,
      Executor io) {
    this.io = io;
    this.digest = digest;
    this.channel = channel;
    this.offset = offset;
    this.size = size;
    this.jit = jit;
    this.unpin = unpin;
  }

  /** Whether jitdi built this blob (a JIT layer or config). */
  public boolean jit() {
    return jit;
  }

  public Digest digest() {
    return digest;
  }

  public FileChannel channel() {
    return channel;
  }

  public long size() {
    return size;
  }

  /** Where the blob's first byte is in {@link #channel()}. */
  public long offset() {
    return offset;
  }

  /**
   * Blob {@code inner}, bytes {@code [offset, offset + size)} of this one, which it takes over: closing it closes
   * (and unpins) this.
   */
  OpenBlob region(Digest inner, long offset, long size) {
    if (offset < 0 || size < 0 || offset + size > this.size) {
      throw new IllegalArgumentException(inner + " at [" + offset + ", " + (offset + size) + ") is outside "
          + digest + " (" + this.size + " bytes)");
    }
    return new OpenBlob(inner, channel, this.offset + offset, size, false, this::close, io);
  }

  /** Closes the file and unpins the blob; off the event loop. Idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      if (Context.isOnEventLoopThread()) {
        io.execute(this::closeNow);
      } else {
        closeNow();
      }
    }
  }

  private void closeNow() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // read-only channel; nothing to lose
    } finally {
      unpin.run();
    }
  }
}
