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
          file.file().channel(), file.growth(), start, end, exchange::sentBelowVertx);
      exchange.onClose(sender::cancel);
      transfer = sender.result();
    } else {
      BlobBody.Relayed relayed = (BlobBody.Relayed) body;
      response.writeHead();
      VerifiedRelay relay = VerifiedRelay.start(relayed.upstream(), response, body.digest(), size, start, end,
          vertx.getOrCreateContext(), io.executor(), n -> { });
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
}
