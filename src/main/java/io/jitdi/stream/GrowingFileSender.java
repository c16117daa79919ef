package io.jitdi.stream;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * Copies a byte range of a file that may still be growing into a write stream, at the pace of the write stream.
 *
 * <p>Bytes the {@link Growth} still holds in memory are written straight away; others are read on worker threads, one
 * chunk at a time. The next chunk waits for the write queue to drain, so a slow client holds one chunk of memory, not
 * the blob. When the readable end is reached, it waits for {@link Growth} to
 * move on. The result fails if the content fails or the stream is {@link #cancel() cancelled}; the caller must then
 * reset its response rather than end it, so that the client cannot take a short body for a complete one.
 */
public final class GrowingFileSender {
  static final int CHUNK = 512 * 1024;

  private final Vertx vertx;
  private final FileChannel channel;
  private final Growth growth;
  private final long end;
  private final WriteStream<Buffer> out;
  private final LongConsumer sent;
  private final Promise<Long> done = Promise.promise();
  private final long start;
  private long position;

  private GrowingFileSender(Vertx vertx, FileChannel channel, Growth growth, long start, long end,
      WriteStream<Buffer> out, LongConsumer sent) {
    this.vertx = vertx;
    this.channel = channel;
    this.growth = growth;
    this.start = start;
    this.position = start;
    this.end = end;
    this.out = out;
    this.sent = sent;
  }

  /**
   * Starts copying {@code [start, end)} of {@code channel}. Must be called on a Vert.x context; the channel stays
   * open and belongs to the caller.
   *
   * @param end exclusive end, or {@link Long#MAX_VALUE} to copy until the content is complete
   * @param sent told the size of each chunk handed to {@code out}
   */
  public static GrowingFileSender start(Vertx vertx, FileChannel channel, Growth growth, long start, long end,
      WriteStream<Buffer> out, LongConsumer sent) {
    GrowingFileSender sender = new GrowingFileSender(vertx, channel, growth, start, end, out, sent);
    sender.step();
    return sender;
  }

  /** Completes with the number of bytes copied. */
  public Future<Long> result() {
    return done.future();
  }

  /** Stops copying (the client went away); {@link #result()} fails. */
  public void cancel() {
    done.tryFail("cancelled: the client went away");
  }

  private void step() {
    while (!done.future().isComplete()) {
      if (position >= end) {
        done.tryComplete(position - start);
        return;
      }
      long readable = Math.min(growth.readable(), end);
      if (readable <= position) {
        awaitGrowth();
        return;
      }
      int length = (int) Math.min(CHUNK, readable - position);
      Optional<Buffer> held = growth.recent(position, length);
      if (held.isEmpty()) {
        readFromFile(length);
        return;
      }
      if (!send(held.get())) {
        return;
      }
    }
  }

  /** Hands {@code chunk} to the stream; false when the stream is full and {@link #step()} will run on drain. */
  private boolean send(Buffer chunk) {
    position += chunk.length();
    sent.accept(chunk.length());
    out.write(chunk).onFailure(done::tryFail);
    if (out.writeQueueFull()) {
      out.drainHandler(v -> step());
      return false;
    }
    return true;
  }

  private void readFromFile(int length) {
    long at = position;
    vertx.executeBlocking(() -> read(at, length), false).onComplete(ar -> {
      if (ar.failed()) {
        done.tryFail(ar.cause());
      } else if (!done.future().isComplete() && send(ar.result())) {
        step();
      }
    });
  }

  private void awaitGrowth() {
    growth.awaitBeyond(position).onComplete(ar -> {
      if (ar.failed()) {
        done.tryFail(ar.cause());
      } else if (ar.result() < 0) {
        if (end == Long.MAX_VALUE) {
          done.tryComplete(position - start);
        } else {
          done.tryFail(new EOFException("content ended at " + position + ", before " + end));
        }
      } else {
        step();
      }
    });
  }

  private Buffer read(long at, int length) throws java.io.IOException {
    ByteBuffer bytes = ByteBuffer.allocate(length);
    while (bytes.hasRemaining()) {
      int n = channel.read(bytes, at + bytes.position());
      if (n < 0) {
        throw new EOFException("file ended at " + (at + bytes.position()) + " while " + length + " bytes were due");
      }
    }
    return Buffer.buffer(bytes.array());
  }
}
