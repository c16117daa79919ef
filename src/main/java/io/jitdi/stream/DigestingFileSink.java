package io.jitdi.stream;

import io.jitdi.concurrent.SerialExecutor;
import io.jitdi.oci.Digest;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.streams.WriteStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * A write stream into a file that computes the sha256 of everything written.
 *
 * <p>Hashing and file writes run on a {@link SerialExecutor} over the IO pool, never on the event loop. Back-pressure:
 * {@link #writeQueueFull()} is true while more than {@link #setWriteQueueMaxSize(int) max} bytes wait to be written,
 * and the drain handler runs on the owning context once half of that is written. {@code progress} is told the total
 * written after each write, on the IO thread: bytes it has been told about are in the file and readable by others.
 *
 * <p>After the first IO failure every write and {@link #end()} fail with it. {@link #end()} does not close the file;
 * {@link #result()} gives the digest and size once every write is done.
 */
public final class DigestingFileSink implements WriteStream<Buffer> {
  /** The sha256 and length of everything written. */
  public record Written(Digest digest, long size) {}

  private final FileChannel channel;
  private final Context context;
  private final Executor io;
  private final LongConsumer progress;
  private final MessageDigest sha256 = Digest.newSha256();
  private final AtomicLong queued = new AtomicLong();
  private final AtomicBoolean drainWanted = new AtomicBoolean();
  private final Promise<Written> result = Promise.promise();
  private volatile long written;
  private long accepted;
  private volatile Throwable failure;
  private volatile int maxQueued = 8 * 1024 * 1024;
  private volatile Handler<Void> drainHandler;
  private volatile Handler<Throwable> exceptionHandler;
  private boolean ended;

  /**
   * @param channel open for writing, positioned where writing starts
   * @param context where drain and exception handlers run
   * @param pool threads for hashing and writing
   * @param progress told the running total after each write (on an IO thread)
   */
  public DigestingFileSink(FileChannel channel, Context context, Executor pool, LongConsumer progress) {
    this.channel = channel;
    this.context = context;
    this.io = new SerialExecutor(pool);
    this.progress = progress;
  }

  @Override
  public Future<Void> write(Buffer data) {
    Throwable failed = failure;
    if (failed != null) {
      return Future.failedFuture(failed);
    }
    if (ended) {
      return Future.failedFuture(new IllegalStateException("write after end"));
    }
    int length = data.length();
    accepted += length;
    queued.addAndGet(length);
    io.execute(() -> {
      try {
        if (failure == null) {
          ByteBuffer bytes = ((BufferInternal) data).getByteBuf().nioBuffer();
          sha256.update(bytes.duplicate());
          while (bytes.hasRemaining()) {
            channel.write(bytes);
          }
          written += length;
          progress.accept(written);
        }
      } catch (IOException | RuntimeException e) {
        fail(e);
      } finally {
        long left = queued.addAndGet(-length);
        if (left <= maxQueued / 2 && drainWanted.compareAndSet(true, false)) {
          context.runOnContext(v -> {
            Handler<Void> h = drainHandler;
            if (h != null) {
              h.handle(null);
            }
          });
        }
      }
    });
    return Future.succeededFuture();
  }

  private void fail(Throwable e) {
    if (failure == null) {
      failure = e;
      Handler<Throwable> h = exceptionHandler;
      if (h != null) {
        context.runOnContext(v -> h.handle(e));
      }
    }
  }

  /** Fails every later write, e.g. when the fill is abandoned; bytes already queued are dropped. */
  public void abort(Throwable cause) {
    fail(cause);
  }

  @Override
  public Future<Void> end() {
    if (!ended) {
      ended = true;
      io.execute(() -> {
        Throwable failed = failure;
        if (failed != null) {
          result.tryFail(failed);
        } else {
          result.tryComplete(new Written(Digest.ofSha256Bytes(sha256.digest()), written));
        }
      });
    }
    return result.future().mapEmpty();
  }

  /** The digest and size of what was written; completes after {@link #end()}. */
  public Future<Written> result() {
    return result.future();
  }

  /**
   * Bytes handed to {@link #write} so far (call on the owning context): where the file will end once the queue is
   * written, and so the offset to resume a cut transfer from.
   */
  public long accepted() {
    return accepted;
  }

  /** The IO failure that stopped this sink, if any. */
  public java.util.Optional<Throwable> failure() {
    return java.util.Optional.ofNullable(failure);
  }

  /** Bytes written to the file so far. */
  public long written() {
    return written;
  }

  @Override
  public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  @Override
  public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
    this.maxQueued = maxSize;
    return this;
  }

  @Override
  public boolean writeQueueFull() {
    if (queued.get() >= maxQueued) {
      drainWanted.set(true);
      // the IO thread may have emptied the queue between the check and the flag
      if (queued.get() < maxQueued / 2 && drainWanted.compareAndSet(true, false)) {
        return false;
      }
      return true;
    }
    return false;
  }

  @Override
  public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }
}
