package io.jitdi.registry;

import io.jitdi.config.ClientAuthConfig;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.vertx.core.http.HttpServerRequest;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Client authentication for {@code server.auth}, the way registries do it (the Docker token flow), so that docker,
 * containerd, podman and skopeo all work with it:
 * <ul>
 *   <li>A refused request gets 401 {@code UNAUTHORIZED} with {@code WWW-Authenticate: Bearer
 *       realm="<this server>/_jitdi/token",service="jitdi"}.</li>
 *   <li>A client with a username and password fetches a token there with Basic auth; the token is an HMAC over the
 *       user and an expiry, keyed by a secret made at start-up, valid for {@link #TOKEN_LIFETIME}.</li>
 *   <li>{@code Authorization: Bearer} is accepted with an issued token or a configured static token, and
 *       {@code Authorization: Basic} with a configured user (curl {@code -u}).</li>
 * </ul>
 * Secrets are compared in constant time.
 */
final class ClientAuth {
  static final Duration TOKEN_LIFETIME = Duration.ofMinutes(15);
  static final String TOKEN_PATH = "/_jitdi/token";

  private final List<byte[]> basic;
  private final List<byte[]> staticTokens;
  private final SecretKeySpec key;
  private final Clock clock;

  ClientAuth(ClientAuthConfig config, Clock clock) {
    this.basic = config.basic().stream().map(u -> utf8(Base64.getEncoder().encodeToString(
        utf8(u.username() + ":" + u.password())))).toList();
    this.staticTokens = config.bearerTokens().stream().map(ClientAuth::utf8).toList();
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    this.key = new SecretKeySpec(secret, "HmacSHA256");
    this.clock = clock;
  }

  /** The 401 to answer with (its challenge already set on the response), or empty when the request may proceed. */
  Optional<RegistryException> refuse(HttpServerRequest request) {
    String header = request.getHeader("Authorization");
    if (header != null && (validBasic(header) || validBearer(header))) {
      return Optional.empty();
    }
    request.response().putHeader("WWW-Authenticate", "Bearer realm=\"" + realm(request) + "\",service=\"jitdi\"");
    return Optional.of(new RegistryException(ErrorCode.UNAUTHORIZED, 401, header == null
        ? "authentication required" : "the credentials were not accepted", Map.of(), null, null));
  }

  /** Issues a token for a request to the token endpoint that carries a configured user's Basic credentials. */
  Optional<String> issue(HttpServerRequest request) {
    String header = request.getHeader("Authorization");
    if (header == null || !validBasic(header)) {
      return Optional.empty();
    }
    String user = new String(Base64.getDecoder().decode(header.substring(6).trim()), StandardCharsets.UTF_8);
    user = user.substring(0, user.indexOf(':'));
    long expires = clock.instant().plus(TOKEN_LIFETIME).getEpochSecond();
    String payload = Base64.getUrlEncoder().withoutPadding().encodeToString(utf8(user + "|" + expires));
    return Optional.of(payload + "." + sign(payload));
  }

  private boolean validBasic(String header) {
    if (!header.regionMatches(true, 0, "Basic ", 0, 6)) {
      return false;
    }
    byte[] given = utf8(header.substring(6).trim());
    boolean ok = false;
    for (byte[] accepted : basic) {
      ok |= MessageDigest.isEqual(accepted, given);
    }
    return ok;
  }

  private boolean validBearer(String header) {
    if (!header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    String token = header.substring(7).trim();
    byte[] given = utf8(token);
    boolean ok = false;
    for (byte[] accepted : staticTokens) {
      ok |= MessageDigest.isEqual(accepted, given);
    }
    return ok || validIssued(token);
  }

  private boolean validIssued(String token) {
    int dot = token.indexOf('.');
    if (dot <= 0 || !MessageDigest.isEqual(utf8(sign(token.substring(0, dot))), utf8(token.substring(dot + 1)))) {
      return false;
    }
    try {
      String payload = new String(Base64.getUrlDecoder().decode(token.substring(0, dot)), StandardCharsets.UTF_8);
      long expires = Long.parseLong(payload.substring(payload.lastIndexOf('|') + 1));
      return clock.instant().getEpochSecond() < expires;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private String sign(String payload) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      return Base64.getUrlEncoder().withoutPadding().encodeToString(mac.doFinal(utf8(payload)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from the JDK", e);
    }
  }

  private static String realm(HttpServerRequest request) {
    String host = request.authority() != null ? request.authority().toString() : request.localAddress().toString();
    return (request.isSSL() ? "https" : "http") + "://" + host + TOKEN_PATH;
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
