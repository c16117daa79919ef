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
import java.util.Arrays;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A write stream into a file that computes the sha256 of everything written.
 *
 * <p>Hashing and file writes run in two lanes on the IO pool, side by side and never on the event loop: one hashes
 * buffers in order, the other writes whatever has queued up with one gathering write. Back-pressure:
 * {@link #writeQueueFull()} is true while more than {@link #setWriteQueueMaxSize(int) max} bytes wait in either lane,
 * and the drain handler runs on the owning context once both are down to half of that. {@link Progress} is told of
 * each buffer once it is in the file, on the IO thread: bytes it has been told about are readable by others.
 *
 * <p>After the first IO failure every write and {@link #end()} fail with it. {@link #end()} does not close the file;
 * {@link #result()} gives the digest and size once every write and every hash update is done.
 */
public final class DigestingFileSink implements WriteStream<Buffer> {
  /** The sha256 and length of everything written. */
  public record Written(Digest digest, long size) {}

  /** Told of each buffer once it is in the file. */
  @FunctionalInterface
  public interface Progress {
    /**
     * @param offset where {@code data} starts in the file
     * @param data the bytes written there; shared, not to be modified
     * @param total bytes written so far, {@code data} included
     */
    void written(long offset, Buffer data, long total);
  }

  /** Most buffers handed to one gathering write. */
  private static final int MAX_GATHER = 8;

  private final FileChannel channel;
  private final Context context;
  private final Executor hashLane;
  private final Executor writeLane;
  private final Progress progress;
  private final MessageDigest sha256 = Digest.newSha256();
  private final Queue<Buffer> toWrite = new ConcurrentLinkedQueue<>();
  private final AtomicLong hashQueued = new AtomicLong();
  private final AtomicLong writeQueued = new AtomicLong();
  private final AtomicBoolean drainWanted = new AtomicBoolean();
  private final Promise<Written> result = Promise.promise();
  private final CompletableFuture<Digest> hashed = new CompletableFuture<>();
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
   * @param progress told of each buffer once it is written (on an IO thread)
   */
  public DigestingFileSink(FileChannel channel, Context context, Executor pool, Progress progress) {
    this.channel = channel;
    this.context = context;
    this.hashLane = new SerialExecutor(pool);
    this.writeLane = new SerialExecutor(pool);
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
    if (length == 0) {
      return Future.succeededFuture();
    }
    ByteBuffer bytes = ((BufferInternal) data).getByteBuf().nioBuffer();
    accepted += length;
    hashQueued.addAndGet(length);
    writeQueued.addAndGet(length);
    hashLane.execute(() -> {
      try {
        if (failure == null) {
          sha256.update(bytes);
        }
      } finally {
        hashQueued.addAndGet(-length);
        maybeDrain();
      }
    });
    toWrite.add(data);
    writeLane.execute(this::writeQueued);
    return Future.succeededFuture();
  }

  /** Writes everything queued so far with gathering writes (write lane only). */
  private void writeQueued() {
    Buffer[] batch = new Buffer[MAX_GATHER];
    ByteBuffer[] bytes = new ByteBuffer[MAX_GATHER];
    while (true) {
      int n = 0;
      long length = 0;
      Buffer next;
      while (n < MAX_GATHER && (next = toWrite.poll()) != null) {
        batch[n] = next;
        bytes[n] = ((BufferInternal) next).getByteBuf().nioBuffer();
        length += bytes[n].remaining();
        n++;
      }
      if (n == 0) {
        return;
      }
      try {
        if (failure == null) {
          long left = length;
          while (left > 0) {
            left -= channel.write(bytes, 0, n);
          }
          long offset = written;
          written += length;
          for (int i = 0; i < n; i++) {
            progress.written(offset, batch[i], i == n - 1 ? written : offset + batch[i].length());
            offset += batch[i].length();
          }
        }
      } catch (IOException | RuntimeException e) {
        fail(e);
      } finally {
        Arrays.fill(batch, 0, n, null);
        Arrays.fill(bytes, 0, n, null);
        writeQueued.addAndGet(-length);
        maybeDrain();
      }
    }
  }

  private void maybeDrain() {
    if (Math.max(hashQueued.get(), writeQueued.get()) <= maxQueued / 2 && drainWanted.compareAndSet(true, false)) {
      context.runOnContext(v -> {
        Handler<Void> h = drainHandler;
        if (h != null) {
          h.handle(null);
        }
      });
    }
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
      hashLane.execute(() -> hashed.complete(Digest.ofSha256Bytes(sha256.digest())));
      writeLane.execute(() -> hashed.whenComplete((digest, e) -> {
        Throwable failed = failure;
        if (failed != null) {
          result.tryFail(failed);
        } else {
          result.tryComplete(new Written(digest, written));
        }
      }));
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
    if (queued() >= maxQueued) {
      drainWanted.set(true);
      // the lanes may have emptied the queue between the check and the flag
      if (queued() <= maxQueued / 2 && drainWanted.compareAndSet(true, false)) {
        return false;
      }
      return true;
    }
    return false;
  }

  private long queued() {
    return Math.max(hashQueued.get(), writeQueued.get());
  }

  @Override
  public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }
}
