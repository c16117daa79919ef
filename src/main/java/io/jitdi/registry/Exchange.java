package io.jitdi.registry;

import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request and its response: error answers in OCI JSON, and exactly one access-log line and one metric sample
 * when the response ends or the connection drops.
 */
final class Exchange {
  private static final Logger ACCESS = LoggerFactory.getLogger("io.jitdi.access");
  private static final Logger LOG = LoggerFactory.getLogger(Exchange.class);

  private final HttpServerRequest request;
  private final HttpServerResponse response;
  private final JitdiMetrics metrics;
  private final long started = System.nanoTime();
  private final AtomicBoolean logged = new AtomicBoolean();
  private String route = ApiPath.Kind.NOT_FOUND.template();
  private String cache = "-";
  private String image;
  private boolean reset;
  /** Body bytes counted by {@link #bodySent}; -1 until it is first called. */
  private long bodySent = -1;
  private Runnable onClose;

  Exchange(HttpServerRequest request, JitdiMetrics metrics) {
    this.request = request;
    this.response = request.response();
    this.metrics = metrics;
    response.putHeader("Docker-Distribution-API-Version", "registry/2.0");
    response.endHandler(v -> done());
    response.closeHandler(v -> {
      Runnable hook = onClose;
      if (hook != null) {
        hook.run();
      }
      done();
    });
  }

  /** The client's {@code ns} query parameter (containerd's upstream registry), or null. */
  String ns() {
    return request.getParam("ns");
  }

  /** Answers with a JSON body. */
  Future<Void> json(int status, String body) {
    return response.setStatusCode(status).putHeader("Content-Type", "application/json").end(body);
  }

  /** Runs {@code hook} if the connection closes before the response ended (e.g. to stop a transfer). */
  void onClose(Runnable hook) {
    this.onClose = hook;
  }

  /**
   * Counts body bytes jitdi's own sender handed to the connection (file regions, or buffers written to the response),
   * for the access log and metrics. Once it is called, these counts replace Vert.x's: Vert.x does not see file regions,
   * and on HTTP/2 its count when the response ends can be short of what the client then gets (18 of 24 MiB, seen with
   * the JDK's client).
   */
  void bodySent(long bytes) {
    bodySent = Math.max(bodySent, 0) + bytes;
  }

  private long bytesSent() {
    return bodySent >= 0 ? bodySent : response.bytesWritten();
  }

  HttpServerRequest request() {
    return request;
  }

  HttpServerResponse response() {
    return response;
  }

  boolean head() {
    return request.method() == HttpMethod.HEAD;
  }

  void route(ApiPath.Kind kind) {
    this.route = kind.template();
  }

  /** How the cache answered, for the access log: hit, miss, coalesced, stale or jit. */
  void cache(String result) {
    this.cache = result;
  }

  /** The image ({@code registry/repository}) whose bytes this response carries, for the status page's top list. */
  void image(String name) {
    this.image = name;
  }

  /** Answers with OCI error JSON, or resets the connection when the response has already begun. */
  void fail(Throwable failure) {
    RegistryException e = failure instanceof RegistryException re ? re : unexpected(failure);
    if (response.headWritten() || response.ended() || response.closed()) {
      resetConnection();
      return;
    }
    JsonObject error = new JsonObject().put("code", e.code().name()).put("message", e.getMessage());
    if (!e.detail().isEmpty()) {
      error.put("detail", new JsonObject(new java.util.LinkedHashMap<>(e.detail())));
    }
    Buffer body = new JsonObject().put("errors", new JsonArray().add(error)).toBuffer();
    response.setStatusCode(e.status()).putHeader("Content-Type", "application/json");
    e.retryAfter().ifPresent(d -> response.putHeader("Retry-After", Long.toString(Math.max(1, d.toSeconds()))));
    if (head()) {
      response.putHeader("Content-Length", Integer.toString(body.length())).end();
    } else {
      response.end(body);
    }
  }

  /** Breaks the connection so the client cannot take what it got for a complete body. */
  void resetConnection() {
    reset = true;
    if (!response.closed()) {
      response.reset();
    }
  }

  private RegistryException unexpected(Throwable failure) {
    LOG.error("unexpected failure on {} {}", request.method(), request.path(), failure);
    return new RegistryException(ErrorCode.UNKNOWN, 500, "internal error: " + failure, null, null, failure);
  }

  private void done() {
    if (!logged.compareAndSet(false, true)) {
      return;
    }
    Duration took = Duration.ofNanos(System.nanoTime() - started);
    int status = reset || !response.ended() ? 0 : response.getStatusCode();
    metrics.httpRequest(request.method().name(), route, status, took);
    if (image != null && bytesSent() > 0) {
      metrics.imageServed(image, bytesSent());
    }
    if (ACCESS.isInfoEnabled()) {
      ACCESS.info("{} {} {} {} bytes={} ms={} cache={} ns={}", request.remoteAddress() == null ? "-"
          : request.remoteAddress().hostAddress(), request.method(), route, status == 0 ? "reset" : status,
          bytesSent(), took.toMillis(), cache, request.getParam("ns", "-"));
    }
  }
}
