package io.jitdi.registry;

import io.jitdi.cache.Cache;
import io.jitdi.config.ClientAuthConfig;
import io.jitdi.jit.JitImages;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.jitdi.upstream.UpstreamRouter;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.time.Clock;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The pull side of the OCI distribution API and jitdi's own endpoints: parses the path, checks client auth and the
 * method, and hands the request to its endpoint ({@link ManifestEndpoint}, {@link BlobEndpoint},
 * {@link TagsEndpoint}, {@link AdminEndpoint}, {@link TokenEndpoint}). Whatever an endpoint fails with becomes OCI
 * error JSON with its status (or a reset, once a body has started).
 *
 * @see <a href="https://github.com/opencontainers/distribution-spec/blob/main/spec.md">distribution spec</a>
 */
public final class RegistryHandler implements Handler<HttpServerRequest> {
  private static final Set<HttpMethod> READ = Set.of(HttpMethod.GET, HttpMethod.HEAD);

  private final JitdiMetrics metrics;
  private final ClientAuth auth;
  private final ManifestEndpoint manifests;
  private final BlobEndpoint blobs;
  private final TagsEndpoint tags;
  private final AdminEndpoint admin;
  private final TokenEndpoint token;

  /**
   * @param metricsEndpoint serves {@code /metrics} on this port, or null when it has a port of its own
   * @param auth client authentication for the {@code /v2} routes, when configured
   */
  public RegistryHandler(Vertx vertx, UpstreamRouter router, Cache cache, JitImages jit, JitdiMetrics metrics,
      MetricsEndpoint metricsEndpoint, Optional<ClientAuthConfig> auth) {
    this.metrics = metrics;
    this.auth = auth.map(a -> new ClientAuth(a, Clock.systemUTC())).orElse(null);
    this.manifests = new ManifestEndpoint(router, cache.manifests(), jit, metrics);
    this.blobs = new BlobEndpoint(router, cache.blobs(), new BlobResponder(vertx, cache.blobs().io(), metrics));
    this.tags = new TagsEndpoint(router, metrics);
    this.admin = new AdminEndpoint(cache, jit, router, new StatusReport(router, cache, jit, metrics),
        metricsEndpoint);
    this.token = this.auth == null ? null : new TokenEndpoint(this.auth);
  }

  @Override
  public void handle(HttpServerRequest request) {
    Exchange exchange = new Exchange(request, metrics);
    ApiPath path = ApiPath.parse(request.path());
    exchange.route(path.kind());
    try {
      answer(exchange, path).onFailure(exchange::fail);
    } catch (RuntimeException e) {
      exchange.fail(e);
    }
  }

  private Future<Void> answer(Exchange exchange, ApiPath path) {
    if (token != null && path.kind() == ApiPath.Kind.TOKEN) {
      return token.serve(exchange);
    }
    if (auth != null && path.kind().isRegistryApi()) {
      Optional<RegistryException> refused = auth.refuse(exchange.request());
      if (refused.isPresent()) {
        return Future.failedFuture(refused.get());
      }
    }
    return switch (path.kind()) {
      case BASE -> read(exchange, () -> exchange.json(200, "{}"));
      case MANIFEST -> read(exchange, () -> manifests.serve(exchange, path));
      case BLOB -> read(exchange, () -> blobs.serve(exchange, path));
      case TAGS -> read(exchange, () -> tags.serve(exchange, path));
      case UPLOAD -> Future.failedFuture(new RegistryException(ErrorCode.UNSUPPORTED, 405,
          "jitdi is a read-only pull-through cache; push to the upstream registry instead", null, null, null));
      case HEALTHZ -> read(exchange, () -> admin.healthz(exchange));
      case READYZ -> read(exchange, () -> admin.readyz(exchange));
      case BUILDS -> read(exchange, () -> admin.builds(exchange));
      case PREFETCH -> admin.prefetch(exchange);
      case STATUS -> read(exchange, () -> admin.status(exchange));
      case STATUS_PAGE -> read(exchange, () -> admin.statusPage(exchange));
      case METRICS -> read(exchange, () -> admin.metrics(exchange));
      default -> Future.failedFuture(RegistryException.withStatus(ErrorCode.UNSUPPORTED, 404,
          "no such endpoint; jitdi serves the OCI distribution API under /v2/"));
    };
  }

  /** Runs a read-only endpoint for GET and HEAD; any other method is 405 with {@code Allow}. */
  private static Future<Void> read(Exchange exchange, Supplier<Future<Void>> endpoint) {
    if (!READ.contains(exchange.request().method())) {
      exchange.response().putHeader("Allow", "GET, HEAD");
      return Future.failedFuture(new RegistryException(ErrorCode.UNSUPPORTED, 405, "method "
          + exchange.request().method() + " is not supported; jitdi serves pulls only (GET, HEAD)", null, null, null));
    }
    return endpoint.get();
  }
}
