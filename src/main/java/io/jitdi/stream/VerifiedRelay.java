package io.jitdi.stream;

import io.jitdi.concurrent.SerialExecutor;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.netty.buffer.ByteBuf;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.streams.WriteStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Relays a blob from a body source (an upstream body) to a client without storing it, verifying its sha256 and size on the way.
 *
 * <p>The slice {@code [from, to)} of the body is forwarded; the whole body is hashed (on a serial executor, off the
 * event loop). The last chunk of the slice is held back until the digest is verified, so a client of a bad or cut
 * body can only see a cut transfer. Back-pressure comes from both the client and the hashing queue. Everything but
 * the hashing runs on {@code context}.
 */
public final class VerifiedRelay {
  private static final long HASH_QUEUE_HIGH = 8L * 1024 * 1024;
  private static final long HASH_QUEUE_LOW = 2L * 1024 * 1024;

  private final BodySource source;
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
  private boolean paused;
  private long position;
  private long forwarded;
  private ByteBuf held;

  private VerifiedRelay(BodySource source, WriteStream<Buffer> out, Digest expected, long expectedSize,
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
   * Starts relaying; must be called on {@code context}.
   *
   * @param expectedSize the blob's size, or -1 when unknown
   * @param to exclusive end of the slice to forward, or {@link Long#MAX_VALUE}
   * @return completes with the bytes forwarded once verified; fails on a cut, a client that went away, or a
   *     mismatch ({@link ErrorCode#DIGEST_INVALID}), and then the caller must reset its response
   */
  public static VerifiedRelay start(BodySource source, WriteStream<Buffer> out, Digest expected,
      long expectedSize, long from, long to, Context context, Executor pool, LongConsumer sent) {
    VerifiedRelay relay = new VerifiedRelay(source, out, expected, expectedSize, from, to, context, pool, sent);
    source.receive(new BodySource.Receiver() {
      @Override
      public void chunk(ByteBuf data) {
        context.runOnContext(v -> relay.onChunk(data));
      }

      @Override
      public void end() {
        context.runOnContext(v -> relay.onEnd());
      }

      @Override
      public void failed(Throwable cause) {
        context.runOnContext(v -> relay.done.tryFail(cause));
      }
    });
    relay.done.future().onComplete(ar -> relay.releaseHeld());
    return relay;
  }

  public Future<Long> result() {
    return done.future();
  }

  /** Stops relaying (the client went away). */
  public void cancel() {
    context.runOnContext(v -> {
      done.tryFail("cancelled: the client went away");
      source.cancel();
    });
  }

  private void onChunk(ByteBuf chunk) {
    if (done.future().isComplete()) {
      chunk.release();
      return;
    }
    int length = chunk.readableBytes();
    long start = Math.max(from, position);
    long end = Math.min(to, position + length);
    ByteBuf slice = end > start ? chunk.retainedSlice(chunk.readerIndex() + (int) (start - position),
        (int) (end - start)) : null;
    hashQueued.addAndGet(length);
    hasher.execute(() -> {
      try {
        for (ByteBuffer b : chunk.nioBuffers()) {
          sha256.update(b);
        }
      } finally {
        chunk.release();
      }
      if (hashQueued.addAndGet(-length) < HASH_QUEUE_LOW) {
        context.runOnContext(v -> resumeIfPossible());
      }
    });
    if (slice != null) {
      if (held != null) {
        forward(held);
      }
      held = slice;
    }
    position += length;
    if (!paused && (out.writeQueueFull() || hashQueued.get() > HASH_QUEUE_HIGH)) {
      paused = true;
      source.pause();
      out.drainHandler(v -> resumeIfPossible());
    }
  }

  private void resumeIfPossible() {
    if (paused && !out.writeQueueFull() && hashQueued.get() < HASH_QUEUE_LOW && !done.future().isComplete()) {
      paused = false;
      source.resume();
    }
  }

  /** Writes {@code chunk} to the client without copying it; it is released once written. */
  private void forward(ByteBuf chunk) {
    forwarded += chunk.readableBytes();
    sent.accept(chunk.readableBytes());
    out.write(BufferInternal.buffer(chunk)).onComplete(ar -> {
      chunk.release();
      if (ar.failed()) {
        done.tryFail(ar.cause());
      }
    });
  }

  private void onEnd() {
    hasher.execute(() -> {
      Digest actual = Digest.ofSha256Bytes(sha256.digest());
      context.runOnContext(x -> finish(actual));
    });
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
      ByteBuf last = held;
      held = null;
      forward(last);
    }
    done.tryComplete(forwarded);
  }

  private void releaseHeld() {
    if (held != null) {
      held.release();
      held = null;
    }
  }
}
