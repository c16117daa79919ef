package io.jitdi.registry;

import io.jitdi.cache.Blobs;
import io.jitdi.cache.Cache;
import io.jitdi.cache.Manifests;
import io.jitdi.config.ClientAuthConfig;
import io.jitdi.jit.JitImages;
import io.jitdi.jit.RuleSet;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.RepositoryName;
import io.jitdi.upstream.UpstreamClient;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.metrics.JitdiMetrics.Source;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.Reference;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.Tag;
import io.jitdi.upstream.Bodies;
import io.jitdi.upstream.UpstreamErrors;
import io.jitdi.upstream.UpstreamRouter;
import io.jitdi.upstream.UpstreamRouter.Route;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The pull side of the OCI distribution API, plus health and metrics endpoints.
 *
 * <p>Every 200 carries {@code Docker-Content-Digest}, the real {@code Content-Length} (HEAD included) and
 * {@code Content-Type} (a manifest's own media type). Every error is OCI error JSON. A blob body that cannot be
 * completed ends in a reset connection, never in a short body that looks complete.
 *
 * @see <a href="https://github.com/opencontainers/distribution-spec/blob/main/spec.md">distribution spec</a>
 */
public final class RegistryHandler implements Handler<HttpServerRequest> {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RegistryHandler.class);
  private static final Set<HttpMethod> READ = Set.of(HttpMethod.GET, HttpMethod.HEAD);
  private static final Pattern PAGE_SIZE = Pattern.compile("\\d{1,6}");
  private static final int TAGS_LIST_LIMIT = 4 * 1024 * 1024;

  private final Vertx vertx;
  private final UpstreamRouter router;
  private final Cache cache;
  private final Blobs blobs;
  private final Manifests manifests;
  private final JitdiMetrics metrics;
  private final Counter servedFromCache;
  private final Counter servedFromUpstream;
  private final Counter servedFromJit;
  private final JitImages jit;
  private final MetricsEndpoint metricsEndpoint;
  private final ClientAuth auth;
  private final StatusReport status;
  private final BlobResponder responder;
  private static final Buffer STATUS_HTML = loadStatusPage();

  /**
   * @param metricsEndpoint serves {@code /metrics} on this port, or null when it has a port of its own
   * @param auth client authentication for the {@code /v2} routes, when configured
   */
  public RegistryHandler(Vertx vertx, UpstreamRouter router, Cache cache, JitImages jit, JitdiMetrics metrics,
      MetricsEndpoint metricsEndpoint, Optional<ClientAuthConfig> auth) {
    this.jit = jit;
    this.servedFromJit = metrics.servedBytesCounter(Source.jit);
    this.vertx = vertx;
    this.router = router;
    this.cache = cache;
    this.blobs = cache.blobs();
    this.manifests = cache.manifests();
    this.metrics = metrics;
    this.metricsEndpoint = metricsEndpoint;
    this.auth = auth.map(a -> new ClientAuth(a, java.time.Clock.systemUTC())).orElse(null);
    this.servedFromCache = metrics.servedBytesCounter(Source.cache);
    this.servedFromUpstream = metrics.servedBytesCounter(Source.upstream);
    this.status = new StatusReport(router, cache, jit, metrics);
    this.responder = new BlobResponder(vertx, cache.blobs().io(), metrics);
  }

  private static Buffer loadStatusPage() {
    try (var in = RegistryHandler.class.getResourceAsStream("status.html")) {
      if (in == null) {
        throw new IllegalStateException("status.html is missing from the jar");
      }
      return Buffer.buffer(in.readAllBytes());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Override
  public void handle(HttpServerRequest request) {
    Exchange exchange = new Exchange(request, metrics);
    ApiPath path = ApiPath.parse(request.path());
    exchange.route(path.kind());
    if (auth != null && path.kind() == ApiPath.Kind.TOKEN) {
      token(exchange);
      return;
    }
    if (auth != null && path.kind().isRegistryApi()) {
      Optional<RegistryException> refused = auth.refuse(request);
      if (refused.isPresent()) {
        exchange.fail(refused.get());
        return;
      }
    }
    try {
      switch (path.kind()) {
        case BASE -> read(exchange, () -> json(exchange, 200, "{}"));
        case MANIFEST -> read(exchange, () -> manifest(exchange, path));
        case BLOB -> read(exchange, () -> blob(exchange, path));
        case TAGS -> read(exchange, () -> tags(exchange, path));
        case UPLOAD -> exchange.fail(new RegistryException(ErrorCode.UNSUPPORTED, 405,
            "jitdi is a read-only pull-through cache; push to the upstream registry instead", null, null, null));
        case HEALTHZ -> read(exchange, () -> json(exchange, 200, "{\"status\":\"ok\"}"));
        case READYZ -> read(exchange, () -> ready(exchange));
        case BUILDS -> read(exchange, () -> json(exchange, 200, new io.vertx.core.json.JsonObject()
            .put("builds", new io.vertx.core.json.JsonArray(jit.builds())).encode()));
        case PREFETCH -> prefetch(exchange);
        case STATUS -> read(exchange, () -> json(exchange, 200, status.build().encode()));
        case STATUS_PAGE -> read(exchange, () -> statusPage(exchange));
        case METRICS -> {
          if (metricsEndpoint == null) {
            exchange.fail(RegistryException.withStatus(ErrorCode.UNSUPPORTED, 404,
                "/metrics is served on server.metricsListen"));
          } else {
            read(exchange, () -> metricsEndpoint.serve(exchange));
          }
        }
        default -> exchange.fail(RegistryException.withStatus(ErrorCode.UNSUPPORTED, 404,
            "no such endpoint; jitdi serves the OCI distribution API under /v2/"));
      }
    } catch (RuntimeException e) {
      exchange.fail(e);
    }
  }

  /** The status page: one static HTML file that reads /_jitdi/status and /_jitdi/builds (no CDN, works offline). */
  private void statusPage(Exchange exchange) {
    exchange.response().putHeader("Content-Type", "text/html; charset=utf-8")
        .putHeader("Cache-Control", "no-cache")
        .putHeader("Content-Security-Policy",
            "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
        .putHeader("Content-Length", Integer.toString(STATUS_HTML.length()));
    if (exchange.head()) {
      exchange.response().end();
    } else {
      exchange.response().end(STATUS_HTML);
    }
  }

  private static void read(Exchange exchange, Runnable handler) {
    if (!READ.contains(exchange.request().method())) {
      exchange.response().putHeader("Allow", "GET, HEAD");
      exchange.fail(new RegistryException(ErrorCode.UNSUPPORTED, 405, "method " + exchange.request().method()
          + " is not supported; jitdi serves pulls only (GET, HEAD)", null, null, null));
      return;
    }
    handler.run();
  }

  private Route route(Exchange exchange, ApiPath path) {
    return router.route(exchange.request().getParam("ns"), path.name());
  }

  private void manifest(Exchange exchange, ApiPath path) {
    Route route = route(exchange, path);
    Reference ref = manifestReference(path.reference());
    exchange.image(route.registry() + "/" + route.name());
    if (ref.tag().isPresent()) {
      Optional<RuleSet.Match> match = jit.match(route.registry(), route.name(), ref.tag().get());
      if (match.isPresent()) {
        jit.manifest(match.get(), route.registry(), route.name(), ref.tag().get()).onComplete(ar -> {
          if (ar.failed()) {
            exchange.fail(ar.cause());
            return;
          }
          exchange.cache("jit");
          Manifest m = ar.result().manifest();
          sendManifest(exchange, new Manifests.Answer(Optional.of(m), m.digest(), m.mediaType(), m.size(),
              JitdiMetrics.CacheResult.hit), servedFromJit);
        });
        return;
      }
    }
    if (route.jitOnly()) {
      if (ref.digest().isEmpty()) {
        throw new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "no rule for registry " + route.registry()
            + " matches " + route.name() + ":" + ref);
      }
      manifests.stored(ref.digest().get()).onComplete(ar -> {
        if (ar.failed() || ar.result().isEmpty()) {
          exchange.fail(ar.failed() ? ar.cause() : new RegistryException(ErrorCode.MANIFEST_UNKNOWN,
              "manifest " + ref + " is not known to registry " + route.registry()));
          return;
        }
        exchange.cache("jit");
        Manifest m = ar.result().get();
        sendManifest(exchange, new Manifests.Answer(Optional.of(m), m.digest(), m.mediaType(), m.size(),
            JitdiMetrics.CacheResult.hit), servedFromJit);
      });
      return;
    }
    String accept = Accepts.normalize(exchange.request().headers().getAll("Accept"));
    manifests.get(route.upstream(), route.name(), ref, accept, !exchange.head()).onComplete(ar -> {
      if (ar.failed()) {
        exchange.fail(ar.cause());
        return;
      }
      exchange.cache(ar.result().result().name());
      sendManifest(exchange, ar.result(), ar.result().result() == JitdiMetrics.CacheResult.miss ? servedFromUpstream
          : servedFromCache);
    });
  }

  /**
   * The reference of a manifest request. Something that is not a valid tag names no manifest: 404
   * {@code MANIFEST_UNKNOWN}, as distribution answers and the OCI conformance suite expects, without asking the
   * upstream. A malformed digest stays 400 {@code DIGEST_INVALID}.
   */
  static Reference manifestReference(String text) {
    try {
      return Reference.parse(text);
    } catch (RegistryException e) {
      if (e.code() != ErrorCode.TAG_INVALID) {
        throw e;
      }
      throw new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "no manifest is known by " + e.getMessage()
          .replaceFirst("^invalid tag", "the invalid tag"));
    }
  }

  private static void sendManifest(Exchange exchange, Manifests.Answer answer, Counter served) {
    HttpServerResponse response = exchange.response();
    response.setStatusCode(200)
        .putHeader("Content-Type", answer.mediaType().value())
        .putHeader("Content-Length", Long.toString(answer.size()))
        .putHeader("Docker-Content-Digest", answer.digest().toString())
        .putHeader("ETag", "\"" + answer.digest() + "\"");
    if (exchange.head()) {
      response.end();
      return;
    }
    served.increment(answer.size());
    response.end(Buffer.buffer(answer.manifest().orElseThrow().bytesUnsafe()));
  }

  /** {@code POST /_jitdi/prefetch?image=[registry/]name:tag}: starts a JIT build without waiting for it. */
  private void prefetch(Exchange exchange) {
    if (exchange.request().method() != HttpMethod.POST) {
      exchange.response().putHeader("Allow", "POST");
      throw new RegistryException(ErrorCode.UNSUPPORTED, 405, "use POST /_jitdi/prefetch?image=NAME:TAG", null, null,
          null);
    }
    String image = exchange.request().getParam("image");
    int colon = image == null ? -1 : image.lastIndexOf(':');
    if (colon <= 0 || image.indexOf('@') >= 0 || image.lastIndexOf('/') > colon) {
      throw RegistryException.withStatus(ErrorCode.NAME_INVALID, 400, "give image=[registry/]name:tag");
    }
    Route route = router.route(null, image.substring(0, colon));
    Tag tag = Tag.parse(image.substring(colon + 1));
    Optional<RuleSet.Match> match = jit.match(route.registry(), route.name(), tag);
    if (match.isEmpty()) {
      throw new RegistryException(ErrorCode.NAME_UNKNOWN, "no JIT rule matches " + image);
    }
    jit.prefetch(match.get(), route.registry(), route.name(), tag).onComplete(ar -> {
      if (ar.failed()) {
        exchange.fail(ar.cause());
      } else {
        json(exchange, "done".equals(ar.result().getString("state")) ? 200 : 202, ar.result().encode());
      }
    });
  }

  private void blob(Exchange exchange, ApiPath path) {
    Digest digest = Digest.parse(path.reference());
    Route route = route(exchange, path);
    exchange.image(route.registry() + "/" + route.name());
    // a miss may be a blob a JIT image refers to: built here (rebuilt from its recipe) or from the base's upstream
    blobs.store().record(digest).compose(record -> record.isPresent() ? Future.succeededFuture(
        Optional.<JitImages.Origin>empty()) : jit.locate(digest)).onComplete(located -> {
          if (located.failed()) {
            exchange.fail(located.cause());
            return;
          }
          Optional<JitImages.Origin> origin = located.result();
          blob(exchange, digest, origin.map(JitImages.Origin::upstream).orElse(route.upstream()),
              origin.map(JitImages.Origin::repository).orElse(route.name()));
        });
  }

  private void blob(Exchange exchange, Digest digest, UpstreamClient upstream, RepositoryName repo) {
    if (exchange.head()) {
      blobs.size(upstream, repo, digest).onComplete(ar -> {
        if (ar.failed()) {
          exchange.fail(ar.cause());
          return;
        }
        HttpServerResponse response = exchange.response();
        BlobResponder.blobHeaders(response, digest);
        ar.result().ifPresent(size -> response.putHeader("Content-Length", Long.toString(size)));
        response.setStatusCode(200).end();
      });
      return;
    }
    blobs.get(upstream, repo, digest).onSuccess(body -> responder.send(exchange, body)).onFailure(exchange::fail);
  }

  private void tags(Exchange exchange, ApiPath path) {
    Route route = route(exchange, path);
    StringBuilder query = new StringBuilder();
    String n = exchange.request().getParam("n");
    if (n != null) {
      if (!PAGE_SIZE.matcher(n).matches()) {
        throw new RegistryException(ErrorCode.UNSUPPORTED, 400, "n must be a number of tags", Map.of("n", clip(n)),
            null, null);
      }
      query.append("n=").append(n);
    }
    String last = exchange.request().getParam("last");
    if (last != null) {
      Tag.parse(last);
      query.append(query.length() > 0 ? "&" : "").append("last=").append(URLEncoder.encode(last,
          StandardCharsets.UTF_8));
    }
    route.upstream().tags(route.name(), query.toString()).compose(upstream -> {
      if (upstream.statusCode() != 200) {
        return UpstreamErrors.of(route.upstream().key(), UpstreamErrors.Subject.tags, upstream)
            .compose(Future::<Void>failedFuture);
      }
      String link = upstream.getHeader("Link");
      return Bodies.read(upstream, TAGS_LIST_LIMIT).compose(body -> {
        exchange.cache("upstream");
        HttpServerResponse response = exchange.response();
        if (link != null) {
          response.putHeader("Link", link);
        }
        servedFromUpstream.increment(body.length());
        return response.setStatusCode(200).putHeader("Content-Type", "application/json").end(body);
      });
    }).onFailure(exchange::fail);
  }

  /** The token endpoint of the Docker token flow: Basic credentials in, a short-lived bearer token out. */
  private void token(Exchange exchange) {
    Optional<String> token = auth.issue(exchange.request());
    if (token.isEmpty()) {
      exchange.response().putHeader("WWW-Authenticate", "Basic realm=\"jitdi\"");
      exchange.fail(RegistryException.withStatus(ErrorCode.UNAUTHORIZED, 401,
          "a token needs the Basic credentials of a user in server.auth.basic"));
      return;
    }
    json(exchange, 200, new io.vertx.core.json.JsonObject().put("token", token.get())
        .put("access_token", token.get()).put("expires_in", ClientAuth.TOKEN_LIFETIME.toSeconds()).encode());
  }

  private void ready(Exchange exchange) {
    blobs.io().call(cache::ready).onComplete(ar -> {
      if (ar.succeeded() && ar.result()) {
        json(exchange, 200, "{\"status\":\"ready\"}");
      } else {
        exchange.fail(RegistryException.withStatus(ErrorCode.UNAVAILABLE, 503,
            "not ready: the index is closed or the cache directory is not writable"));
      }
    });
  }

  private static void json(Exchange exchange, int status, String body) {
    exchange.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body);
  }

  private static String clip(String s) {
    return s.length() > 100 ? s.substring(0, 100) + "..." : s;
  }
}
