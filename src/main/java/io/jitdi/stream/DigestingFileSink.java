package io.jitdi.stream;

import io.jitdi.concurrent.SerialExecutor;
import io.jitdi.oci.Digest;
import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Writes Netty buffers into a file and computes the sha256 of everything written.
 *
 * <p>Hashing and writing run in two lanes on the IO pool, side by side and never on the caller's thread: one hashes
 * buffers in order, the other writes whatever has queued up with one gathering write. The buffers are used as they
 * are (direct buffers are hashed and written without a copy into the heap) and released once both lanes are done
 * with them. {@link Progress} is told after each write, on the write lane: bytes it was told about are in the file.
 *
 * <p>A second digest may be kept beside the sha256 ({@link #DigestingFileSink(FileChannel, Executor, Progress,
 * MessageDigest)}): it is fed the same bytes in a third lane, so a container of the content (a layer tar around a
 * model blob) is hashed in the same pass, on another core.
 *
 * <p>Back-pressure: {@link #write} answers false once more than {@link #MAX_QUEUED} bytes wait in either lane; the
 * caller then pauses its source and resumes it from {@link #whenDrained}. After the first IO failure nothing more is
 * written and {@link #end()} fails with it. The file is never closed here.
 */
public final class DigestingFileSink {
  /** The sha256 and length of everything written. */
  public record Written(Digest digest, long size) {}

  /** Told of the file's new length after each write (on the write lane). */
  @FunctionalInterface
  public interface Progress {
    void written(long total);
  }

  static final long MAX_QUEUED = 8L * 1024 * 1024;
  /** Most buffers handed to one gathering write. */
  private static final int MAX_GATHER = 16;

  private final FileChannel channel;
  private final Executor writeLane;
  private final Progress progress;
  private final Queue<ByteBuf> toWrite = new ConcurrentLinkedQueue<>();
  private final AtomicLong writeQueued = new AtomicLong();
  private final AtomicReference<Runnable> onDrain = new AtomicReference<>();
  /** The blob's sha256, and the caller's second digest (null without one), each fed in a lane of its own. */
  private final DigestLane sha256;
  private final DigestLane alongside;
  private final CompletableFuture<Written> result = new CompletableFuture<>();
  private volatile long written;
  private volatile Throwable failure;
  private volatile long accepted;
  private boolean ended;

  /**
   * @param channel open for writing, positioned where writing starts
   * @param pool threads for hashing and writing
   * @param progress told of the file's length after each write
   */
  public DigestingFileSink(FileChannel channel, Executor pool, Progress progress) {
    this(channel, pool, progress, null);
  }

  /**
   * As {@link #DigestingFileSink(FileChannel, Executor, Progress)}, also feeding every byte to {@code alongside} (which
   * may have been fed bytes before); once {@link #end()} completed, it has seen them all and is the caller's again.
   */
  public DigestingFileSink(FileChannel channel, Executor pool, Progress progress, MessageDigest alongside) {
    this.channel = channel;
    this.sha256 = new DigestLane(Digest.newSha256(), pool);
    this.alongside = alongside == null ? null : new DigestLane(alongside, pool);
    this.writeLane = new SerialExecutor(pool);
    this.progress = progress;
  }

  /** One digest fed buffers in order on a lane of its own; a failure stops the sink. */
  private final class DigestLane {
    private final MessageDigest digest;
    private final Executor lane;
    private final AtomicLong queued = new AtomicLong();
    private final CompletableFuture<MessageDigest> done = new CompletableFuture<>();

    DigestLane(MessageDigest digest, Executor pool) {
      this.digest = digest;
      this.lane = new SerialExecutor(pool);
    }

    /** Feeds {@code data} (retained here, released once fed). */
    void feed(ByteBuf data, int length) {
      data.retain();
      queued.addAndGet(length);
      lane.execute(() -> {
        try {
          if (failure == null) {
            for (ByteBuffer b : data.nioBuffers()) {
              digest.update(b);
            }
          }
        } catch (RuntimeException e) {
          abort(e); // a wrong digest must not be taken for the content's
        } finally {
          data.release();
          queued.addAndGet(-length);
          maybeDrain();
        }
      });
    }

    /** Completes with the digest once everything fed before was fed to it. */
    CompletableFuture<MessageDigest> end() {
      lane.execute(() -> done.complete(digest));
      return done;
    }
  }

  /**
   * Queues {@code data} for hashing and writing and takes it over (it is released here). One caller at a time.
   *
   * @return false when the queue is full: stop writing until {@link #whenDrained} runs
   */
  public boolean write(ByteBuf data) {
    int length = data.readableBytes();
    if (ended || failure != null || length == 0) {
      data.release();
      return failure == null;
    }
    accepted += length;
    sha256.feed(data, length);
    if (alongside != null) {
      alongside.feed(data, length);
    }
    writeQueued.addAndGet(length); // the write lane takes the caller's reference
    toWrite.add(data);
    writeLane.execute(this::writeQueued);
    return queued() < MAX_QUEUED;
  }

  /** Runs {@code action} (on some thread) once the queue is down to half its limit; at once if it already is. */
  public void whenDrained(Runnable action) {
    onDrain.set(action);
    maybeDrain();
  }

  private void maybeDrain() {
    if (queued() <= MAX_QUEUED / 2) {
      Runnable action = onDrain.getAndSet(null);
      if (action != null) {
        action.run();
      }
    }
  }

  private long queued() {
    long queued = Math.max(sha256.queued.get(), writeQueued.get());
    return alongside == null ? queued : Math.max(queued, alongside.queued.get());
  }

  /** Writes everything queued so far with gathering writes (write lane only). */
  private void writeQueued() {
    List<ByteBuf> batch = new ArrayList<>(MAX_GATHER);
    List<ByteBuffer> parts = new ArrayList<>(MAX_GATHER);
    while (true) {
      long length = 0;
      ByteBuf next;
      while (batch.size() < MAX_GATHER && (next = toWrite.poll()) != null) {
        batch.add(next);
        length += next.readableBytes();
        for (ByteBuffer b : next.nioBuffers()) {
          parts.add(b);
        }
      }
      if (batch.isEmpty()) {
        return;
      }
      try {
        if (failure == null) {
          ByteBuffer[] array = parts.toArray(new ByteBuffer[0]);
          long left = length;
          while (left > 0) {
            left -= channel.write(array);
          }
          written += length;
          progress.written(written);
        }
      } catch (IOException | RuntimeException e) {
        abort(e);
      } finally {
        batch.forEach(ByteBuf::release);
        batch.clear();
        parts.clear();
        writeQueued.addAndGet(-length);
        maybeDrain();
      }
    }
  }

  /** Stops the sink: later writes are dropped, and {@link #end()} fails with {@code cause}. */
  public void abort(Throwable cause) {
    if (failure == null) {
      failure = cause;
    }
    maybeDrain();
  }

  /** No more writes: completes with the digest and size once every queued buffer is hashed and written. */
  public CompletableFuture<Written> end() {
    if (!ended) {
      ended = true;
      CompletableFuture<Digest> hashed = sha256.end().thenApply(d -> Digest.ofSha256Bytes(d.digest()));
      CompletableFuture<?> both = alongside == null ? hashed : hashed.thenCombine(alongside.end(), (d, a) -> d);
      writeLane.execute(() -> both.whenComplete((v, e) -> {
        Throwable failed = failure;
        if (failed != null) {
          result.completeExceptionally(failed);
        } else {
          result.complete(new Written(hashed.join(), written));
        }
      }));
    }
    return result;
  }

  /** Bytes handed to {@link #write} so far (by its one caller): where the file will end once the queue is written. */
  public long accepted() {
    return accepted;
  }

  /** Bytes in the file so far. */
  public long written() {
    return written;
  }

  /** The IO failure that stopped this sink, if any. */
  public Optional<Throwable> failure() {
    return Optional.ofNullable(failure);
  }
}
