package io.jitdi.upstream;

import io.jitdi.config.UpstreamConfig;
import io.jitdi.http.ContentRange;
import io.jitdi.http.Redirects;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.MediaType;
import io.jitdi.oci.Reference;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.OptionalLong;

/**
 * A client for one configured upstream registry: token and basic auth, redirects, timeouts and error mapping.
 *
 * <p>Auth: after the first {@code 401 Bearer} challenge, tokens are fetched before each request (cached per scope
 * until they expire) and refreshed once on a 401. Token realms must be on the upstream's own host or domain, or
 * listed in {@code tokenRealms}, so a registry cannot send credentials elsewhere. Basic credentials are sent only
 * after a {@code Basic} challenge.
 *
 * <p>Redirects (301/302/303/307/308, up to 5) are followed, and {@code Authorization} is sent only to the upstream's
 * own origins (any of its configured URLs), never to a blob store or CDN host it redirects to.
 *
 * <p>Replicas: an upstream with several URLs (or a host with several addresses, see {@link Replicas}) spreads its
 * requests by rendezvous hashing of the blob digest or the repository name; a replica that gives no answer or a 5xx
 * is skipped for a while and the request goes to the next one, before any response is handed out.
 *
 * <p>Every response handed out is paused and its status was not checked, unless a method says otherwise; the caller
 * must consume it or reset it.
 */
public final class UpstreamClient {
  public static final String USER_AGENT = "jitdi/" + Version.VERSION;

  /** The answer to a manifest HEAD: what the upstream says the tag or digest currently is. */
  public record ManifestHead(Optional<Digest> digest, Optional<MediaType> mediaType, OptionalLong size) {}

  private final UpstreamConfig config;
  private final HttpClient http;
  private final TokenCache tokens;
  private final JitdiMetrics metrics;
  private final UpstreamAuth auth;
  private final Replicas replicas;

  /** A client whose configured URLs are its replicas, never resolved to addresses. */
  public UpstreamClient(UpstreamConfig config, HttpClient http, TokenCache tokens, JitdiMetrics metrics) {
    this(config, http, tokens, metrics, Replicas.fixed(config));
  }

  UpstreamClient(UpstreamConfig config, HttpClient http, TokenCache tokens, JitdiMetrics metrics, Replicas replicas) {
    this.config = config;
    this.http = http;
    this.tokens = tokens;
    this.metrics = metrics;
    this.auth = new UpstreamAuth(config, http, tokens, metrics);
    this.replicas = replicas;
  }

  /** The replicas requests are spread over. */
  Replicas replicas() {
    return replicas;
  }

  /** The authentication of this upstream (for tests of its rules). */
  UpstreamAuth auth() {
    return auth;
  }

  /** The configured key, e.g. {@code docker.io}. */
  public String key() {
    return config.key();
  }

  public UpstreamConfig config() {
    return config;
  }

  /**
   * Fetches a manifest with the client's {@code accept} (null for none), checks it is a manifest of at most 4 MiB,
   * and that its sha256 matches the upstream's {@code Docker-Content-Digest} and, for a digest reference, the
   * reference.
   */
  public Future<Manifest> manifest(RepositoryName repo, Reference ref, String accept) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    if (accept != null) {
      headers.set(HttpHeaders.ACCEPT, accept);
    }
    return send(HttpMethod.GET, repo, "manifests/" + ref, headers, "manifest").compose(response -> {
      if (response.statusCode() != 200) {
        return UpstreamErrors.of(key(), UpstreamErrors.Subject.manifest, response).compose(Future::failedFuture);
      }
      String declaredDigest = response.getHeader("Docker-Content-Digest");
      String contentType = response.getHeader(HttpHeaders.CONTENT_TYPE);
      return Bodies.read(response, Manifest.MAX_BYTES)
          .recover(e -> Future.failedFuture(e instanceof Bodies.TooLargeException
              ? invalid("manifest " + repo + ":" + ref + " is larger than 4 MiB")
              : UpstreamErrors.unreachable(key(), e)))
          .map(body -> {
            Manifest manifest;
            try {
              manifest = Manifest.parse(body.getBytes(), contentType);
            } catch (IllegalArgumentException e) {
              throw invalid("manifest " + repo + ":" + ref + " from upstream " + key() + " is invalid: "
                  + e.getMessage());
            }
            Optional<Digest> expected = ref.digest();
            if (expected.isEmpty() && declaredDigest != null) {
              expected = parseDigest(declaredDigest);
            }
            if (expected.isPresent() && !expected.get().equals(manifest.digest())) {
              metrics.digestMismatch(key());
              throw invalid("manifest " + repo + ":" + ref + " from upstream " + key() + " has digest "
                  + manifest.digest() + ", not " + expected.get());
            }
            return manifest;
          });
    });
  }

  /** HEADs a manifest; fails with the mapped error unless the upstream answers 200. */
  public Future<ManifestHead> headManifest(RepositoryName repo, Reference ref, String accept) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    if (accept != null) {
      headers.set(HttpHeaders.ACCEPT, accept);
    }
    return send(HttpMethod.HEAD, repo, "manifests/" + ref, headers, "manifest").compose(response -> {
      if (response.statusCode() != 200) {
        return UpstreamErrors.of(key(), UpstreamErrors.Subject.manifest, response).compose(Future::failedFuture);
      }
      ManifestHead head = new ManifestHead(parseDigest(response.getHeader("Docker-Content-Digest")),
          MediaType.parse(response.getHeader(HttpHeaders.CONTENT_TYPE)), contentLength(response));
      return Bodies.discard(response).map(head);
    });
  }

  /**
   * GETs a blob from {@code offset} on. The answer is 200 (whole blob, only when {@code offset} is 0) or 206 starting
   * exactly at {@code offset}, and its body is read as Netty buffers ({@link UpstreamBody}); anything else fails with
   * the mapped error.
   */
  public Future<UpstreamBody> blob(RepositoryName repo, Digest digest, long offset) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    if (offset > 0) {
      headers.set("Range", "bytes=" + offset + "-");
    }
    AtomicReference<UpstreamBody> tapped = new AtomicReference<>();
    return send(HttpMethod.GET, repo, "blobs/" + digest, headers, "blob", tapped).compose(response ->
        blobBody(response, tapped.get(), offset, "upstream " + key(), digest, config.idleTimeout().toMillis())
            .recover(e -> e instanceof NotABlobAnswer ? UpstreamErrors.of(key(), UpstreamErrors.Subject.blob, response)
                .compose(Future::failedFuture) : Future.failedFuture(e)));
  }

  /** A response that is neither 200 nor 206: the caller maps it. */
  static final class NotABlobAnswer extends RuntimeException {
    NotABlobAnswer() {
      super(null, null, false, false);
    }
  }

  /**
   * The body of a blob response that starts at {@code offset}: 200 (only when {@code offset} is 0) or 206 starting
   * exactly there, read as Netty buffers where {@code tapped} diverted them. A 2xx that starts elsewhere is reset and
   * fails with 502; another status fails with {@link NotABlobAnswer}, the response left for the caller to map.
   */
  static Future<UpstreamBody> blobBody(HttpClientResponse response, UpstreamBody tapped, long offset, String who,
      Digest digest, long idleMillis) {
    int status = response.statusCode();
    boolean whole = status == 200 && offset == 0;
    boolean resumed = status == 206 && offset > 0
        && ContentRange.start(response.getHeader("Content-Range")) == offset;
    if (whole || resumed) {
      return Future.succeededFuture(body(response, tapped, idleMillis));
    }
    if (status == 200 || status == 206) {
      if (tapped != null && tapped.diverted()) {
        tapped.cancel(); // drops what the tap already diverted (pooled buffers) and closes the connection
      }
      response.request().reset();
      return Future.failedFuture(RegistryException.withStatus(ErrorCode.UNAVAILABLE, 502, who
          + " did not resume blob " + digest + " at byte " + offset));
    }
    return Future.failedFuture(new NotABlobAnswer());
  }

  /** The body of a 2xx blob response: the tapped one, or one fed from the Vert.x response where no tap fit. */
  private static UpstreamBody body(HttpClientResponse response, UpstreamBody tapped, long idleMillis) {
    if (tapped != null && tapped.diverted()) {
      // Vert.x only sees the head and an empty end; let it finish the exchange so the connection is pooled again
      response.handler(ignored -> { });
      response.exceptionHandler(ignored -> { });
      response.resume();
      return tapped;
    }
    UpstreamBody fed = new UpstreamBody(idleMillis);
    fed.feedFrom(response, io.vertx.core.Vertx.currentContext());
    return fed;
  }

  /** HEADs a blob and gives its size (empty when the upstream does not say). */
  public Future<OptionalLong> headBlob(RepositoryName repo, Digest digest) {
    return send(HttpMethod.HEAD, repo, "blobs/" + digest, MultiMap.caseInsensitiveMultiMap(), "blob")
        .compose(response -> {
          if (response.statusCode() != 200) {
            return UpstreamErrors.of(key(), UpstreamErrors.Subject.blob, response).compose(Future::failedFuture);
          }
          OptionalLong size = contentLength(response);
          return Bodies.discard(response).map(size);
        });
  }

  /** An upstream's answer to {@code tags/list}: the JSON as sent, and its {@code Link} to the next page. */
  public record TagList(byte[] json, Optional<String> link) {}

  /** Bodies of {@code tags/list} are read up to this size. */
  static final int TAGS_LIST_LIMIT = 4 * 1024 * 1024;

  /** GETs {@code tags/list} with the given (already validated) query; a status other than 200 fails, mapped. */
  public Future<TagList> tags(RepositoryName repo, String query) {
    return send(HttpMethod.GET, repo, "tags/list" + (query.isEmpty() ? "" : "?" + query),
        MultiMap.caseInsensitiveMultiMap(), "tags").compose(response -> {
          if (response.statusCode() != 200) {
            return UpstreamErrors.of(key(), UpstreamErrors.Subject.tags, response).compose(Future::failedFuture);
          }
          Optional<String> link = Optional.ofNullable(response.getHeader("Link"));
          return Bodies.read(response, TAGS_LIST_LIMIT).map(body -> new TagList(body.getBytes(), link));
        });
  }

  /**
   * Sends {@code method} to {@code /v2/<repo>/<subpath>}, authenticating and following redirects. The response is
   * paused; its status is whatever the upstream said after auth (a 401 that auth could not fix is returned as is).
   */
  public Future<HttpClientResponse> send(HttpMethod method, RepositoryName repo, String subpath, MultiMap headers,
      String kind) {
    return send(method, repo, subpath, headers, kind, null);
  }

  /**
   * As {@link #send}; with {@code tapped}, each attempt arms a {@link UpstreamBody.Tap} and leaves its body there.
   *
   * <p>The request goes to the replicas in their order for its routing key (the digest of a blob, else the
   * repository name): a replica that gives no answer or a 5xx is marked down and the next one is asked, until one
   * answers; the last one's answer or failure is the result.
   */
  private Future<HttpClientResponse> send(HttpMethod method, RepositoryName repo, String subpath, MultiMap headers,
      String kind, AtomicReference<UpstreamBody> tapped) {
    String ns = config.sendNs() ? (subpath.indexOf('?') >= 0 ? "&" : "?") + "ns=" + config.key() : "";
    String path = "/v2/" + repo + "/" + subpath + ns;
    String scope = "repository:" + repo + ":pull";
    String routingKey = routingKey(repo, subpath);
    return whenReady().compose(ready -> {
      Replicas.Plan plan = replicas.plan(routingKey);
      for (Replicas.Replica skipped : plan.skipped()) {
        metrics.upstreamReplicaRequest(key(), skipped.id(), JitdiMetrics.ReplicaOutcome.skipped);
      }
      return auth.authorization(scope)
          .compose(used -> viaReplica(plan.order(), 0, method, path, headers, used, scope, kind, tapped));
    });
  }

  /** What a request is routed by: the digest of {@code blobs/<digest>}, else the repository name. */
  static String routingKey(RepositoryName repo, String subpath) {
    if (subpath.startsWith("blobs/")) {
      int end = subpath.indexOf('?');
      return subpath.substring("blobs/".length(), end < 0 ? subpath.length() : end);
    }
    return repo.toString();
  }

  /** {@link Replicas#ready()}, delivered on the caller's context. */
  private Future<Void> whenReady() {
    Future<Void> ready = replicas.ready();
    io.vertx.core.Context context = io.vertx.core.Vertx.currentContext();
    if (ready.isComplete() || context == null) {
      return ready;
    }
    io.vertx.core.Promise<Void> here = io.vertx.core.Promise.promise();
    ready.onComplete(ar -> context.runOnContext(v -> here.handle(ar)));
    return here.future();
  }

  private Future<HttpClientResponse> viaReplica(List<Replicas.Replica> order, int index, HttpMethod method,
      String path, MultiMap headers, String authorization, String scope, String kind,
      AtomicReference<UpstreamBody> tapped) {
    Replicas.Replica replica = order.get(index);
    URI url = replica.url(path);
    boolean last = index == order.size() - 1;
    return attempt(replica, method, url, headers, authorization, kind, 0, tapped)
        .compose(response -> response.statusCode() != 401 ? Future.succeededFuture(response)
            : auth.answer(response, scope, authorization).compose(retry -> retry.isEmpty()
                ? Future.succeededFuture(response)
                : attempt(replica, method, url, headers, retry.get(), kind, 0, tapped)))
        .transform(ar -> {
          if (ar.succeeded() && ar.result().statusCode() < 500) {
            replicas.answered(replica);
            metrics.upstreamReplicaRequest(key(), replica.id(), JitdiMetrics.ReplicaOutcome.ok);
            return Future.succeededFuture(ar.result());
          }
          replicas.failed(replica);
          metrics.upstreamReplicaRequest(key(), replica.id(), JitdiMetrics.ReplicaOutcome.error);
          if (last) {
            return ar.succeeded() ? Future.succeededFuture(ar.result()) : Future.failedFuture(ar.cause());
          }
          Future<Void> released = ar.succeeded() ? Bodies.discard(ar.result()) : Future.succeededFuture();
          return released.transform(ignored -> viaReplica(order, index + 1, method, path, headers, authorization,
              scope, kind, tapped));
        });
  }

  private Future<HttpClientResponse> attempt(Replicas.Replica replica, HttpMethod method, URI url, MultiMap headers,
      String authorization, String kind, int hops, AtomicReference<UpstreamBody> tapped) {
    RequestOptions options = new RequestOptions()
        .setMethod(method)
        .setAbsoluteURI(url.toString())
        .setConnectTimeout(config.connectTimeout().toMillis())
        .setIdleTimeout(config.idleTimeout().toMillis())
        .setFollowRedirects(false);
    SocketAddress server = replica.server(url);
    if (server != null) {
      options.setServer(server); // connect by address; Host, SNI and the certificate check keep the host name
    }
    options.putHeader(HttpHeaders.USER_AGENT, USER_AGENT);
    headers.forEach(options::putHeader);
    if (authorization != null && replicas.isOwn(url)) {
      options.putHeader(HttpHeaders.AUTHORIZATION, authorization);
    }
    long started = System.nanoTime();
    return http.request(options).compose(request -> {
          if (tapped != null) {
            tapped.set(UpstreamBody.Tap.arm(request, config.idleTimeout().toMillis()));
          }
          return request.send();
        })
        .andThen(ar -> metrics.upstreamRequest(key(), kind,
            ar.succeeded() ? Integer.toString(ar.result().statusCode()) : "error",
            Duration.ofNanos(System.nanoTime() - started)))
        .recover(e -> Future.failedFuture(UpstreamErrors.unreachable(key(), e)))
        .compose(response -> {
          response.pause();
          String location = response.getHeader(HttpHeaders.LOCATION);
          if (!isRedirect(response.statusCode()) || location == null) {
            return Future.succeededFuture(response);
          }
          if (hops >= Redirects.MAX) {
            return Bodies.discard(response).compose(v -> Future.failedFuture(RegistryException.withStatus(
                ErrorCode.UNAVAILABLE, 502, "upstream " + key() + " redirected more than " + Redirects.MAX
                    + " times; last to " + clip(location))));
          }
          URI next = Redirects.target(url, location);
          if (next == null) {
            return Bodies.discard(response).compose(v -> Future.failedFuture(RegistryException.withStatus(
                ErrorCode.UNAVAILABLE, 502, "upstream " + key() + " redirected to an unusable location "
                    + clip(location))));
          }
          HttpMethod nextMethod = response.statusCode() == 303 && method != HttpMethod.HEAD ? HttpMethod.GET : method;
          URI target = next;
          return Bodies.discard(response)
              .compose(v -> attempt(replica, nextMethod, target, headers, authorization, kind, hops + 1, tapped));
        });
  }

  private static boolean isRedirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  private static Optional<Digest> parseDigest(String header) {
    if (header == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(Digest.parse(header.trim()));
    } catch (RegistryException e) {
      return Optional.empty();
    }
  }

  /** The Content-Length of a response, if present and valid. */
  public static OptionalLong contentLength(HttpClientResponse response) {
    String value = response.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (value == null) {
      return OptionalLong.empty();
    }
    try {
      long n = Long.parseLong(value.trim());
      return n >= 0 ? OptionalLong.of(n) : OptionalLong.empty();
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  private RegistryException invalid(String message) {
    return new RegistryException(ErrorCode.MANIFEST_INVALID, 502, message, Map.of("upstream", key()), null, null);
  }

  private static String clip(Object o) {
    String s = String.valueOf(o);
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }
}
