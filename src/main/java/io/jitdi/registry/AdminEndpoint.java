package io.jitdi.registry;

import io.jitdi.cache.Cache;
import io.jitdi.jit.JitImages;
import io.jitdi.jit.RuleSet;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.ImageName;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.Tag;
import io.jitdi.upstream.UpstreamRouter;
import io.jitdi.upstream.UpstreamRouter.Route;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Optional;

/**
 * jitdi's own endpoints: health ({@code /healthz}, {@code /readyz}), JIT builds and prefetch, the status JSON and its
 * page, and {@code /metrics} when it shares the API port.
 */
final class AdminEndpoint {
  private static final Buffer STATUS_HTML = loadStatusPage();

  private final Cache cache;
  private final JitImages jit;
  private final UpstreamRouter router;
  private final StatusReport status;
  private final MetricsEndpoint metrics;

  /** @param metrics serves {@code /metrics} on this port, or null when it has a port of its own */
  AdminEndpoint(Cache cache, JitImages jit, UpstreamRouter router, StatusReport status, MetricsEndpoint metrics) {
    this.cache = cache;
    this.jit = jit;
    this.router = router;
    this.status = status;
    this.metrics = metrics;
  }

  Future<Void> healthz(Exchange exchange) {
    return exchange.json(200, "{\"status\":\"ok\"}");
  }

  /**
   * 200 while the index is open, the cache directory takes writes and the shared bucket (if any) is not misconfigured;
   * 503 otherwise. A shared store that cannot be reached keeps the replica ready: every replica shares it, and taking
   * them all out of service would also stop what their own disks can serve (the status page names the problem).
   */
  Future<Void> readyz(Exchange exchange) {
    return cache.blobs().io().call(cache::ready).compose(ready -> {
      if (!ready) {
        return Future.failedFuture(RegistryException.withStatus(ErrorCode.UNAVAILABLE, 503,
            "not ready: the index is closed or the cache directory is not writable"));
      }
      Optional<String> problem = cache.bucketMisconfiguration();
      return problem.isEmpty() ? exchange.json(200, "{\"status\":\"ready\"}")
          : Future.failedFuture(RegistryException.withStatus(ErrorCode.UNAVAILABLE, 503,
              "not ready: " + problem.get()));
    });
  }

  Future<Void> builds(Exchange exchange) {
    return exchange.json(200, new JsonObject().put("builds", new JsonArray(jit.builds())).encode());
  }

  Future<Void> status(Exchange exchange) {
    return exchange.json(200, status.build().encode());
  }

  /** The status page: one static HTML file that reads /_jitdi/status and /_jitdi/builds (no CDN, works offline). */
  Future<Void> statusPage(Exchange exchange) {
    exchange.response().putHeader("Content-Type", "text/html; charset=utf-8")
        .putHeader("Cache-Control", "no-cache")
        .putHeader("Content-Security-Policy",
            "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
        .putHeader("Content-Length", Integer.toString(STATUS_HTML.length()));
    return exchange.head() ? exchange.response().end() : exchange.response().end(STATUS_HTML);
  }

  Future<Void> metrics(Exchange exchange) {
    if (metrics == null) {
      throw RegistryException.withStatus(ErrorCode.UNSUPPORTED, 404, "/metrics is served on server.metricsListen");
    }
    return metrics.serve(exchange);
  }

  /** {@code POST /_jitdi/prefetch?image=[registry/]name:tag}: starts a JIT build without waiting for it. */
  Future<Void> prefetch(Exchange exchange) {
    if (exchange.request().method() != HttpMethod.POST) {
      exchange.response().putHeader("Allow", "POST");
      throw new RegistryException(ErrorCode.UNSUPPORTED, 405, "use POST /_jitdi/prefetch?image=NAME:TAG", null, null,
          null);
    }
    String image = exchange.request().getParam("image");
    ImageName name = ImageName.parse(image);
    Route route = router.route(null, name.path());
    Tag tag = name.tag();
    Optional<RuleSet.Match> match = jit.match(route.registry(), route.name(), tag);
    if (match.isEmpty()) {
      throw new RegistryException(ErrorCode.NAME_UNKNOWN, "no JIT rule matches " + image);
    }
    return jit.prefetch(match.get(), route.registry(), route.name(), tag).compose(state -> exchange.json(
        "done".equals(state.getString("state")) ? 200 : 202, state.encode()));
  }

  private static Buffer loadStatusPage() {
    try (var in = AdminEndpoint.class.getResourceAsStream("status.html")) {
      if (in == null) {
        throw new IllegalStateException("status.html is missing from the jar");
      }
      return Buffer.buffer(in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
