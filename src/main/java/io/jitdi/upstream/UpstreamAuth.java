package io.jitdi.upstream;

import io.jitdi.concurrent.SingleFlight;
import io.jitdi.config.UpstreamConfig;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * How one upstream is authenticated: the Docker token flow ({@code WWW-Authenticate: Bearer}, tokens fetched once per
 * realm, service and scope, cached for their lifetime) and Basic auth. Token realms are fetched only on the upstream's
 * own domain, or on hosts listed in {@code tokenRealms}; credentials go to the upstream's own origin and its realm.
 */
final class UpstreamAuth {
  private final UpstreamConfig config;
  private final HttpClient http;
  private final TokenCache tokens;
  private final JitdiMetrics metrics;
  private final SingleFlight<TokenCache.Key, String> tokenFetches = new SingleFlight<>();
  private volatile Challenge bearer;
  private volatile boolean basic;

  UpstreamAuth(UpstreamConfig config, HttpClient http, TokenCache tokens, JitdiMetrics metrics) {
    this.config = config;
    this.http = http;
    this.tokens = tokens;
    this.metrics = metrics;
  }

  /** The Authorization to send for {@code scope} first (what the last challenge asked for), or null for none. */
  Future<String> authorization(String scope) {
    Challenge c = bearer;
    if (c != null) {
      return token(c, scope).map(t -> "Bearer " + t);
    }
    if (basic) {
      return Future.succeededFuture(basicHeader());
    }
    return Future.succeededFuture(null);
  }

  /**
   * What to retry a request with after its 401: a fresh Bearer token for the challenge (the rejected one is forgotten),
   * or Basic credentials when Basic is asked for and configured. Empty when nothing can fix it: then the 401 is the
   * answer, its body untouched; otherwise its body is discarded here.
   *
   * @param used the Authorization the request was sent with, or null
   */
  Future<Optional<String>> answer(HttpClientResponse unauthorized, String scope, String used) {
    List<Challenge> challenges = Challenge.parseAll(unauthorized.headers().getAll("WWW-Authenticate"));
    Optional<Challenge> bearerChallenge = Challenge.find(challenges, "bearer");
    if (bearerChallenge.isPresent()) {
      Challenge c = bearerChallenge.get();
      bearer = c;
      String challengeScope = c.param("scope").orElse(scope);
      if (used != null && used.startsWith("Bearer ")) {
        tokens.invalidate(tokenKey(c, challengeScope), used.substring("Bearer ".length()));
      }
      return Bodies.discard(unauthorized).compose(v -> token(c, challengeScope)).map(t -> Optional.of("Bearer " + t));
    }
    if (Challenge.find(challenges, "basic").isPresent() && config.username().isPresent()
        && (used == null || !used.startsWith("Basic "))) {
      basic = true;
      return Bodies.discard(unauthorized).map(v -> Optional.of(basicHeader()));
    }
    return Future.succeededFuture(Optional.empty());
  }

  private Future<String> token(Challenge challenge, String scope) {
    Optional<String> realmText = challenge.param("realm");
    if (realmText.isEmpty()) {
      return Future.failedFuture(RegistryException.withStatus(ErrorCode.UNAUTHORIZED, 502,
          "upstream " + key() + " sent a Bearer challenge without a realm"));
    }
    URI realm;
    try {
      realm = URI.create(realmText.get());
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(RegistryException.withStatus(ErrorCode.UNAUTHORIZED, 502,
          "upstream " + key() + " sent a token realm that is not a URL: " + clip(realmText.get())));
    }
    Optional<String> refusal = refuseRealm(realm);
    if (refusal.isPresent()) {
      return Future.failedFuture(RegistryException.withStatus(ErrorCode.UNAUTHORIZED, 502, refusal.get()));
    }
    TokenCache.Key tokenKey = tokenKey(challenge, scope);
    Optional<String> cached = tokens.get(tokenKey);
    if (cached.isPresent()) {
      return Future.succeededFuture(cached.get());
    }
    return tokenFetches.run(tokenKey, () -> fetchToken(realm, tokenKey)).future();
  }

  private Future<String> fetchToken(URI realm, TokenCache.Key tokenKey) {
    StringBuilder query = new StringBuilder();
    if (tokenKey.service() != null) {
      query.append("service=").append(URLEncoder.encode(tokenKey.service(), StandardCharsets.UTF_8));
    }
    // a challenge may name several scopes, space-separated; the token request carries each as its own parameter
    for (String scope : tokenKey.scope().trim().split("\\s+")) {
      if (!scope.isEmpty()) {
        query.append(query.length() > 0 ? "&" : "").append("scope=")
            .append(URLEncoder.encode(scope, StandardCharsets.UTF_8));
      }
    }
    String url = realm + (realm.getRawQuery() == null ? "?" : "&") + query;
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(url)
        .setConnectTimeout(config.connectTimeout().toMillis()).setIdleTimeout(config.idleTimeout().toMillis());
    options.putHeader(HttpHeaders.USER_AGENT, UpstreamClient.USER_AGENT);
    if (config.username().isPresent()) {
      options.putHeader(HttpHeaders.AUTHORIZATION, basicHeader());
    }
    long started = System.nanoTime();
    return http.request(options).compose(request -> request.send())
        .andThen(ar -> metrics.upstreamRequest(key(), "token",
            ar.succeeded() ? Integer.toString(ar.result().statusCode()) : "error",
            Duration.ofNanos(System.nanoTime() - started)))
        .recover(e -> Future.failedFuture(UpstreamErrors.unreachable(key(), e)))
        .compose(response -> {
          if (response.statusCode() != 200) {
            return UpstreamErrors.of(key(), UpstreamErrors.Subject.token, response).compose(e -> Future.failedFuture(
                new RegistryException(e.code(), e.status(), "token request to " + realm.getHost() + " failed: "
                    + e.getMessage(), e.detail(), e.retryAfter().orElse(null), null)));
          }
          return Bodies.read(response, Bodies.SMALL).map(body -> {
            JsonObject json;
            try {
              json = new JsonObject(body);
            } catch (RuntimeException e) {
              throw RegistryException.withStatus(ErrorCode.UNAUTHORIZED, 502, "token realm of upstream " + key()
                  + " answered something that is not JSON");
            }
            String token = json.getString("token", json.getString("access_token"));
            if (token == null || token.isEmpty()) {
              throw RegistryException.withStatus(ErrorCode.UNAUTHORIZED, 502, "token realm of upstream " + key()
                  + " answered without a token");
            }
            Number expiresIn = json.getNumber("expires_in");
            Duration lifetime = Duration.ofSeconds(expiresIn == null || expiresIn.longValue() <= 0 ? 60
                : expiresIn.longValue());
            tokens.put(tokenKey, token, lifetime);
            return token;
          });
        });
  }

  /** Why jitdi will not fetch a token from {@code realm}, if it will not. */
  Optional<String> refuseRealm(URI realm) {
    String scheme = realm.getScheme();
    String host = realm.getHost() == null ? null : realm.getHost().toLowerCase(Locale.ROOT);
    if (host == null || !("https".equals(scheme) || "http".equals(scheme))) {
      return Optional.of("upstream " + key() + " sent a token realm that is not an http(s) URL: " + clip(realm));
    }
    if (config.tls() && "http".equals(scheme)) {
      return Optional.of("upstream " + key() + " sent a plain-http token realm " + clip(realm)
          + "; jitdi only fetches tokens for an https upstream over https");
    }
    if (config.tokenRealms().contains(host)) {
      return Optional.empty();
    }
    for (URI url : config.urls()) {
      String own = url.getHost().toLowerCase(Locale.ROOT);
      if (host.equals(own) || (!isIpLiteral(host) && !isIpLiteral(own)
          && parentDomain(host).equals(parentDomain(own)))) {
        return Optional.empty();
      }
    }
    return Optional.of("upstream " + key() + " sent a token realm on " + host + ", which is not its own domain; "
        + "if you trust it, add it to upstreams." + key() + ".tokenRealms");
  }

  private static TokenCache.Key tokenKey(Challenge c, String scope) {
    return new TokenCache.Key(c.param("realm").orElse(""), c.param("service").orElse(null), scope);
  }

  private String basicHeader() {
    String credentials = config.username().orElse("") + ":" + config.password().orElse("");
    return "Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8));
  }

  static String parentDomain(String host) {
    String[] labels = host.split("\\.");
    return labels.length <= 2 ? host : labels[labels.length - 2] + "." + labels[labels.length - 1];
  }

  private static boolean isIpLiteral(String host) {
    return host.indexOf(':') >= 0 || host.matches("[0-9.]+");
  }

  private String key() {
    return config.key();
  }

  private static String clip(Object o) {
    String s = String.valueOf(o);
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }
}
