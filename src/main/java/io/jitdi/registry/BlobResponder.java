package io.jitdi.registry;

import io.jitdi.cache.BlobBody;
import io.jitdi.concurrent.Io;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.metrics.JitdiMetrics.Source;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.jitdi.stream.VerifiedRelay;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import java.util.Locale;
import java.util.Optional;
import io.jitdi.stream.Growth;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.net.impl.VertxConnection;
import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.function.LongConsumer;

/**
 * The one way a blob body is sent: a committed file, a file still being filled, or a verified relay, with or without
 * a {@code Range}. It owns the status (200, 206, 416), {@code Content-Length} or chunking, {@code Content-Range}, and
 * the end: a response ends cleanly only when its bytes were verified against the digest; otherwise it is reset, so a
 * client cannot take a cut or unverified body for a complete one.
 */
final class BlobResponder {
  private final Vertx vertx;
  private final Io io;
  private final JitdiMetrics metrics;
  private final Counter servedFromCache;
  private final Counter servedFromUpstream;
  private final Counter servedFromJit;

  BlobResponder(Vertx vertx, Io io, JitdiMetrics metrics) {
    this.vertx = vertx;
    this.io = io;
    this.metrics = metrics;
    this.servedFromCache = metrics.servedBytesCounter(Source.cache);
    this.servedFromUpstream = metrics.servedBytesCounter(Source.upstream);
    this.servedFromJit = metrics.servedBytesCounter(Source.jit);
  }

  /** The headers every blob answer carries (GET and HEAD). */
  static void blobHeaders(HttpServerResponse response, Digest digest) {
    response.putHeader("Content-Type", "application/octet-stream")
        .putHeader("Docker-Content-Digest", digest.toString())
        .putHeader("ETag", "\"" + digest + "\"")
        .putHeader("Accept-Ranges", "bytes")
        .putHeader("Cache-Control", "max-age=31536000");
  }

  /** Answers the exchange's GET with {@code body} (honouring its {@code Range}), then releases the body. */
  void send(Exchange exchange, BlobBody body) {
    HttpServerResponse response = exchange.response();
    exchange.cache(body.origin().name().toLowerCase(Locale.ROOT));
    long size = body.size();
    Optional<ByteRange> range;
    try {
      range = ByteRange.parse(exchange.request().getHeader("Range"), size);
    } catch (RegistryException e) {
      body.release();
      exchange.fail(e);
      return;
    }
    if (response.closed()) {
      body.release();
      return;
    }
    long start = range.map(ByteRange::start).orElse(0L);
    long end = range.map(ByteRange::end).orElse(size >= 0 ? size : Long.MAX_VALUE);
    blobHeaders(response, body.digest());
    range.ifPresent(r -> response.setStatusCode(206).putHeader("Content-Range", r.contentRange(size)));
    if (size >= 0) {
      response.putHeader("Content-Length", Long.toString(end - start));
    } else {
      response.setChunked(true);
    }
    Counter served = switch (body.origin()) {
      case HIT -> servedFromCache;
      case JIT -> servedFromJit;
      case MISS, COALESCED -> servedFromUpstream;
    };
    Future<Long> transfer;
    if (body instanceof BlobBody.FromFile file) {
      FileSender sender = FileSender.start(response, FileSender.regionCapable(exchange.request()), io,
          file.file().channel(), file.file().offset(), file.growth(), start, end, exchange::bodySent);
      exchange.onClose(sender::cancel);
      transfer = sender.result();
    } else {
      BlobBody.Relayed relayed = (BlobBody.Relayed) body;
      response.writeHead();
      VerifiedRelay relay = VerifiedRelay.start(relayed.upstream(), response, body.digest(), size, start, end,
          vertx.getOrCreateContext(), io.executor(), exchange::bodySent);
      exchange.onClose(relay::cancel);
      transfer = relay.result();
    }
    transfer.onComplete(sent -> {
      body.release();
      if (sent.succeeded()) {
        served.increment(sent.result());
        response.end();
        return;
      }
      if (sent.cause() instanceof RegistryException e && e.code() == ErrorCode.DIGEST_INVALID
          && body instanceof BlobBody.Relayed) {
        metrics.digestMismatch(exchange.request().getParam("ns", "default"));
      }
      exchange.resetConnection();
    });
  }

  /**
   * Sends {@code [start, end)} of a file that may still be growing, at the client's pace, following its {@link Growth}.
   *
   * <p>The rule that makes every clean answer a verified one: the last byte of the response (and so its end) is held
   * back until {@link Growth#verified()} has succeeded; if that fails, {@link #result()} fails and the caller resets
   * the response. This holds for whole blobs and ranges, for the client that started a fill and for followers.
   *
   * <p>On HTTP/1.x the bytes go as file regions ({@code sendfile}, or Netty's chunked file over TLS) below Vert.x's
   * response API: no copy through the JVM, straight from the page cache the fill just wrote. On HTTP/2 they are read into
   * pooled buffers on the IO pool, one chunk at a time, and written when the stream has room.
   */
  static final class FileSender {
    /** Most bytes handed to the connection in one piece. */
    static final long MAX_PIECE = 8L * 1024 * 1024;
    /** Bytes read per chunk for HTTP/2. */
    static final int CHUNK = 512 * 1024;

    private final Growth growth;
    private final long end;
    private final Emitter emitter;
    private final LongConsumer sent;
    private final Promise<Long> done = Promise.promise();
    private final long start;
    private long position;

    /** Hands bytes of the file to the client. */
    private interface Emitter {
      /** Sends {@code [position, position + length)}; completes when the connection can take more. */
      Future<Long> emit(long position, long length);
    }

    private FileSender(Growth growth, long start, long end, Emitter emitter, LongConsumer sent) {
      this.growth = growth;
      this.start = start;
      this.position = start;
      this.end = end;
      this.emitter = emitter;
      this.sent = sent;
    }

    /**
     * Starts sending; call on the response's context after its head is set. The file stays open and belongs to the
     * caller.
     *
     * @param base where the blob's first byte is in {@code file} (0, unless the blob is held inside another)
     *
     * @param end exclusive end, or {@link Long#MAX_VALUE} to send until the content is complete (size unknown)
     * @param sent told of each piece of the body handed to the connection
     */
    static FileSender start(HttpServerResponse response, VertxConnection http1, Io io, FileChannel file, long base,
        Growth growth, long start, long end, LongConsumer sent) {
      Emitter emitter;
      if (http1 != null) {
        response.writeHead();
        emitter = (at, length) -> regions(http1, file, base + at, length);
      } else {
        emitter = (at, length) -> buffered(response, io, file, base + at, length);
      }
      FileSender sender = new FileSender(growth, start, end, emitter, sent);
      sender.step();
      return sender;
    }

    /** The connection {@code response} can send file regions on: HTTP/1.x over a Vert.x connection, else null. */
    static VertxConnection regionCapable(io.vertx.core.http.HttpServerRequest request) {
      return request.version() != HttpVersion.HTTP_2 && request.connection() instanceof VertxConnection c ? c : null;
    }

    /** Completes with the bytes sent once the whole range is sent and verified; fails otherwise. */
    Future<Long> result() {
      return done.future();
    }

    /** Stops (the client went away); {@link #result()} fails. */
    void cancel() {
      done.tryFail("cancelled: the client went away");
    }

    /**
     * One turn of the send loop: sends what the fill allows, then re-enters from the completion of the send, the growth
     * or the verification. A flat loop on purpose: written as {@code emit(...).compose(n -> step())}, each piece would
     * nest one more future, and a failure at the end of a big blob (thousands of pieces) would overflow the stack
     * while unwinding the chain and leave the client hanging instead of reset (BlobVerificationIT caught that).
     */
    private void step() {
      if (done.future().isComplete()) {
        return;
      }
      Future<Void> verification = growth.verified();
      if (verification.failed()) {
        done.tryFail(verification.cause());
        return;
      }
      boolean verified = verification.succeeded();
      long readable = growth.readable();
      long stop = end != Long.MAX_VALUE ? end : verified ? readable : Long.MAX_VALUE;
      if (position >= stop) {
        if (verified) {
          done.tryComplete(position - start);
        } else {
          verification.onComplete(v -> step());
        }
        return;
      }
      // unverified: never the last byte of the response (for an unknown size, the last byte written so far)
      long limit = verified ? stop : Math.min(readable, (end != Long.MAX_VALUE ? end : readable) - 1);
      if (position < limit) {
        long length = Math.min(limit - position, MAX_PIECE);
        emitter.emit(position, length).onComplete(ar -> {
          if (ar.failed()) {
            done.tryFail(ar.cause());
            return;
          }
          position += ar.result();
          sent.accept(ar.result());
          step();
        });
      } else if (readable > position) {
        verification.onComplete(v -> step());
      } else {
        growth.awaitBeyond(position).onComplete(ar -> {
          if (ar.failed()) {
            done.tryFail(ar.cause());
          } else {
            step();
          }
        });
      }
    }

    private static Future<Long> regions(VertxConnection connection, FileChannel file, long at, long length) {
      Promise<Long> promise = Promise.promise();
      connection.sendFile(file, at, length).addListener(f -> {
        if (f.isSuccess()) {
          promise.tryComplete(length);
        } else {
          promise.tryFail(f.cause());
        }
      });
      return promise.future();
    }

    private static Future<Long> buffered(HttpServerResponse response, Io io, FileChannel file, long at, long length) {
      int n = (int) Math.min(length, CHUNK);
      return io.call(() -> read(file, at, n)).compose(chunk -> {
        Promise<Long> room = Promise.promise();
        response.write(BufferInternal.buffer(chunk)).onComplete(ar -> {
          chunk.release();
          if (ar.failed()) {
            room.tryFail(ar.cause());
          }
        });
        if (response.writeQueueFull()) {
          response.drainHandler(v -> room.tryComplete((long) n));
        } else {
          room.tryComplete((long) n);
        }
        return room.future();
      });
    }

    private static ByteBuf read(FileChannel file, long at, int length) throws IOException {
      ByteBuf buffer = PooledByteBufAllocator.DEFAULT.directBuffer(length);
      try {
        while (buffer.writableBytes() > 0) {
          int n = buffer.writeBytes(file, at + buffer.writerIndex(), buffer.writableBytes());
          if (n < 0) {
            throw new EOFException("file ended at " + (at + buffer.writerIndex()) + " while " + length
                + " bytes were due");
          }
        }
        return buffer;
      } catch (IOException | RuntimeException e) {
        buffer.release();
        throw e;
      }
    }
  }
}
