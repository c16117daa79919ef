package io.jitdi.registry;

import io.jitdi.concurrent.Io;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;

/**
 * {@code GET /metrics} in Prometheus text format. Used on the main port, or alone on {@code server.metricsListen}
 * (where every other path is a 404). The scrape is rendered on the IO pool.
 */
public final class MetricsEndpoint implements Handler<HttpServerRequest> {
  private final JitdiMetrics metrics;
  private final Io io;

  public MetricsEndpoint(JitdiMetrics metrics, Io io) {
    this.metrics = metrics;
    this.io = io;
  }

  /** Serves a request on the dedicated metrics port. */
  @Override
  public void handle(HttpServerRequest request) {
    Exchange exchange = new Exchange(request, metrics);
    ApiPath.Kind kind = ApiPath.parse(request.path()).kind();
    if (kind != ApiPath.Kind.METRICS && kind != ApiPath.Kind.HEALTHZ) {
      exchange.fail(RegistryException.withStatus(ErrorCode.UNSUPPORTED, 404,
          "this port serves /metrics and /healthz only"));
      return;
    }
    exchange.route(kind);
    if (request.method() != HttpMethod.GET && request.method() != HttpMethod.HEAD) {
      exchange.fail(RegistryException.withStatus(ErrorCode.UNSUPPORTED, 405, "use GET"));
      return;
    }
    if (kind == ApiPath.Kind.HEALTHZ) {
      request.response().putHeader("Content-Type", "application/json").end("{\"status\":\"ok\"}");
      return;
    }
    serve(exchange).onFailure(exchange::fail);
  }

  Future<Void> serve(Exchange exchange) {
    return io.call(metrics::scrape).compose(text -> exchange.response().setStatusCode(200)
        .putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(text));
  }
}
