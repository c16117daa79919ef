package io.jitdi.it;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A Docker token server, as distribution's {@code auth.token} expects one: it issues RS256 JWTs whose {@code x5c}
 * header carries a self-signed certificate (made with openssl) that the registry trusts via {@code rootcertbundle}.
 * It can require Basic credentials, and records every request it gets.
 */
public final class TokenServer implements AutoCloseable {
  public static final String SERVICE = "jitdi-test-registry";
  public static final String ISSUER = "jitdi-test-issuer";

  /** One token request: the Authorization header it came with and the scopes asked for. */
  public record Request(String authorization, List<String> scopes) {}

  private final HttpServer server;
  private final PrivateKey key;
  private final String certBase64;
  private final Path certPem;
  private final String credentials;
  private final Duration lifetime;
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private volatile boolean strict;
  private volatile boolean accessTokenOnly;
  private final List<String> responses = new CopyOnWriteArrayList<>();

  private TokenServer(HttpServer server, PrivateKey key, String certBase64, Path certPem, String credentials,
      Duration lifetime) {
    this.server = server;
    this.key = key;
    this.certBase64 = certBase64;
    this.certPem = certPem;
    this.credentials = credentials;
    this.lifetime = lifetime;
  }

  /**
   * Starts a token server.
   *
   * @param credentials {@code user:password} that must come as Basic auth, or null to issue tokens to anyone
   */
  public static TokenServer start(Path dir, String credentials, Duration lifetime) {
    try {
      Files.createDirectories(dir);
      Path keyPem = dir.resolve("token-key.pem");
      Path certPem = dir.resolve("token-cert.pem");
      Proc.run(Duration.ofMinutes(1), List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
          keyPem.toString(), "-out", certPem.toString(), "-days", "2", "-subj", "/CN=jitdi-test-token"));
      PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pemBody(keyPem)));
      String cert = Base64.getEncoder().encodeToString(pemBody(certPem));
      HttpServer server = Ports.httpServer();
      TokenServer tokens = new TokenServer(server, key, cert, certPem, credentials, lifetime);
      server.createContext("/token", tokens::handle);
      server.start();
      return tokens;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (java.security.GeneralSecurityException e) {
      throw new AssertionError(e);
    }
  }

  private static byte[] pemBody(Path pem) throws IOException {
    String text = Files.readString(pem).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return Base64.getDecoder().decode(text);
  }

  /** The registry config that makes distribution trust this server, with the realm on {@code realmHost}. */
  public String registryAuthConfig(String realmHost) {
    return "auth:\n  token:\n    realm: http://" + realmHost + ":" + port() + "/token\n    service: " + SERVICE
        + "\n    issuer: " + ISSUER + "\n    rootcertbundle: " + certPem + "\n";
  }

  /**
   * Makes tokens really expire after their lifetime: distribution accepts a token up to 60 seconds past its
   * {@code exp}, so strict tokens are signed with {@code exp} 60 seconds early.
   */
  public TokenServer strict() {
    strict = true;
    return this;
  }

  /**
   * Answers with only an OAuth2-style {@code access_token} field and no {@code token} field, as some registries'
   * token services do.
   */
  public TokenServer accessTokenOnly() {
    accessTokenOnly = true;
    return this;
  }

  /** The JSON bodies of the 200 answers given so far. */
  public List<String> responses() {
    return List.copyOf(responses);
  }

  public int port() {
    return server.getAddress().getPort();
  }

  public List<Request> requests() {
    return List.copyOf(requests);
  }

  private void handle(HttpExchange exchange) throws IOException {
    String authorization = exchange.getRequestHeaders().getFirst("Authorization");
    List<String> scopes = new ArrayList<>();
    String query = exchange.getRequestURI().getRawQuery();
    if (query != null) {
      for (String pair : query.split("&")) {
        if (pair.startsWith("scope=")) {
          scopes.add(URLDecoder.decode(pair.substring(6), StandardCharsets.UTF_8));
        }
      }
    }
    requests.add(new Request(authorization, scopes));
    if (credentials != null && !("Basic " + Base64.getEncoder().encodeToString(
        credentials.getBytes(StandardCharsets.UTF_8))).equals(authorization)) {
      respond(exchange, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad credentials\"}]}");
      return;
    }
    String body = "{\"" + (accessTokenOnly ? "access_token" : "token") + "\":\"" + jwt(scopes) + "\",\"expires_in\":"
        + lifetime.toSeconds() + "}";
    responses.add(body);
    respond(exchange, 200, body);
  }

  private String jwt(List<String> scopes) {
    long now = System.currentTimeMillis() / 1000;
    StringBuilder access = new StringBuilder();
    for (String scope : scopes) {
      String[] parts = scope.split(":");
      if (parts.length == 3 && parts[0].equals("repository")) {
        access.append(access.length() > 0 ? "," : "").append("{\"type\":\"repository\",\"name\":\"").append(parts[1])
            .append("\",\"actions\":[\"").append(parts[2].replace(",", "\",\"")).append("\"]}");
      }
    }
    String header = "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5c\":[\"" + certBase64 + "\"]}";
    String claims = "{\"iss\":\"" + ISSUER + "\",\"sub\":\"jitdi\",\"aud\":\"" + SERVICE + "\",\"exp\":"
        + (now + lifetime.toSeconds() - (strict ? 60 : 0)) + ",\"nbf\":" + (now - 1) + ",\"iat\":" + now + ",\"jti\":\""
        + UUID.randomUUID() + "\",\"access\":[" + access + "]}";
    String signed = b64(header) + "." + b64(claims);
    try {
      Signature rsa = Signature.getInstance("SHA256withRSA");
      rsa.initSign(key);
      rsa.update(signed.getBytes(StandardCharsets.US_ASCII));
      return signed + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(rsa.sign());
    } catch (java.security.GeneralSecurityException e) {
      throw new AssertionError(e);
    }
  }

  private static String b64(String json) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
  }

  static void respond(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
