package io.jitdi.stream;

import io.jitdi.concurrent.SerialExecutor;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.streams.ReadStream;
import io.vertx.core.streams.WriteStream;
import java.security.MessageDigest;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Relays a blob from a source to a client without storing it, verifying its sha256 and size on the way.
 *
 * <p>The slice {@code [from, to)} of the source is forwarded; the whole source is hashed (on a serial executor, off
 * the event loop). The last chunk of the slice is held back until the digest is verified, so a client of a bad or
 * cut source can only see a cut transfer. Back-pressure comes from both the client and the hashing queue.
 */
public final class VerifiedRelay {
  private static final long HASH_QUEUE_HIGH = 8L * 1024 * 1024;
  private static final long HASH_QUEUE_LOW = 2L * 1024 * 1024;

  private final ReadStream<Buffer> source;
  private final WriteStream<Buffer> out;
  private final Digest expected;
  private final long expectedSize;
  private final long from;
  private final long to;
  private final Context context;
  private final SerialExecutor hasher;
  private final LongConsumer sent;
  private final MessageDigest sha256 = Digest.newSha256();
  private final AtomicLong hashQueued = new AtomicLong();
  private final Promise<Long> done = Promise.promise();
  private volatile boolean paused;
  private long position;
  private long forwarded;
  private Buffer held;

  private VerifiedRelay(ReadStream<Buffer> source, WriteStream<Buffer> out, Digest expected, long expectedSize,
      long from, long to, Context context, Executor pool, LongConsumer sent) {
    this.source = source;
    this.out = out;
    this.expected = expected;
    this.expectedSize = expectedSize;
    this.from = from;
    this.to = to;
    this.context = context;
    this.hasher = new SerialExecutor(pool);
    this.sent = sent;
  }

  /**
   * Starts relaying a (paused) source; must be called on {@code context}.
   *
   * @param expectedSize the blob's size, or -1 when unknown
   * @param to exclusive end of the slice to forward, or {@link Long#MAX_VALUE}
   * @return completes with the bytes forwarded once verified; fails on a cut, a client that went away, or a
   *     mismatch ({@link ErrorCode#DIGEST_INVALID}), and then the caller must reset its response
   */
  public static VerifiedRelay start(ReadStream<Buffer> source, WriteStream<Buffer> out, Digest expected,
      long expectedSize, long from, long to, Context context, Executor pool, LongConsumer sent) {
    VerifiedRelay relay = new VerifiedRelay(source, out, expected, expectedSize, from, to, context, pool, sent);
    relay.begin();
    return relay;
  }

  public Future<Long> result() {
    return done.future();
  }

  /** Stops relaying (the client went away). */
  public void cancel() {
    done.tryFail("cancelled: the client went away");
  }

  private void begin() {
    source.handler(this::onChunk);
    source.exceptionHandler(done::tryFail);
    source.endHandler(v -> hasher.execute(() -> {
      Digest actual = Digest.ofSha256Bytes(sha256.digest());
      context.runOnContext(x -> finish(actual));
    }));
    source.resume();
  }

  private void onChunk(Buffer chunk) {
    if (done.future().isComplete()) {
      return;
    }
    int length = chunk.length();
    hashQueued.addAndGet(length);
    hasher.execute(() -> {
      sha256.update(((BufferInternal) chunk).getByteBuf().nioBuffer());
      if (hashQueued.addAndGet(-length) < HASH_QUEUE_LOW && paused) {
        context.runOnContext(v -> resumeIfPossible());
      }
    });
    long start = Math.max(from, position);
    long end = Math.min(to, position + length);
    if (end > start) {
      Buffer slice = chunk.slice((int) (start - position), (int) (end - position));
      if (held != null) {
        forward(held);
      }
      held = slice;
    }
    position += length;
    if (out.writeQueueFull() || hashQueued.get() > HASH_QUEUE_HIGH) {
      paused = true;
      source.pause();
      out.drainHandler(v -> resumeIfPossible());
      resumeIfPossible();
    }
  }

  private void resumeIfPossible() {
    if (paused && !out.writeQueueFull() && hashQueued.get() < HASH_QUEUE_LOW && !done.future().isComplete()) {
      paused = false;
      source.resume();
    }
  }

  private void forward(Buffer chunk) {
    forwarded += chunk.length();
    sent.accept(chunk.length());
    out.write(chunk).onFailure(done::tryFail);
  }

  private void finish(Digest actual) {
    if (done.future().isComplete()) {
      return;
    }
    if (!actual.equals(expected) || (expectedSize >= 0 && position != expectedSize)) {
      done.tryFail(new RegistryException(ErrorCode.DIGEST_INVALID, 502, "upstream sent " + position
          + " bytes with digest " + actual + " for " + expected, null, null, null));
      return;
    }
    if (held != null) {
      forward(held);
      held = null;
    }
    done.tryComplete(forwarded);
  }
}
