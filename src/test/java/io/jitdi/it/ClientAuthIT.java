package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** server.auth and server.tls, driven by curl and skopeo. */
class ClientAuthIT {
  static final String TOKEN = "static-token-0123456789abcdef";

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static Jitdi jitdi;
  static Path cert;
  static Path certDir;
  static Images.Pushed image;

  @BeforeAll
  static void start() throws Exception {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    image = Images.pushRandomImage(upstream, dir, "secure/model", "v1", 3 << 20, 5);
    cert = dir.resolve("tls.crt");
    Path key = dir.resolve("tls.key");
    Proc.run(Duration.ofMinutes(1), List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
        key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=jitdi-test", "-addext",
        "subjectAltName=IP:127.0.0.1"));
    certDir = dir.resolve("certs");
    Files.createDirectories(certDir);
    Files.copy(cert, certDir.resolve("ca.crt"));
    jitdi = startJitdi(key);
  }

  private static Jitdi startJitdi(Path key) {
    String config = Jitdi.config(upstream.url(), "256MiB").replace("  listen: 127.0.0.1:PORT\n", """
          listen: 127.0.0.1:PORT
          tls:
            cert: %s
            key: %s
          auth:
            basic:
              - username: node
                password: s3cret-pass
            bearer:
              - %s
        """.formatted(cert, key, TOKEN));
    // Jitdi waits for readiness over plain http, so start it with a config of its own and wait over https here
    return Jitdi.startWithReadiness(dir.resolve("jitdi"), config, j -> curl(j, "-s", "-o", "/dev/null", "-w",
        "%{http_code}", "https://" + j.hostPort() + "/readyz").equals("200"));
  }

  @AfterAll
  static void stop() {
    if (jitdi != null) {
      jitdi.close();
    }
    upstream.close();
  }

  static String curl(Jitdi j, String... args) {
    List<String> command = new ArrayList<>(List.of("curl", "--cacert", cert.toString(), "--max-time", "30"));
    command.addAll(List.of(args));
    return Proc.exec(Duration.ofMinutes(1), Map.of(), command).output();
  }

  private static String v2(String path) {
    return "https://" + jitdi.hostPort() + "/v2/" + path;
  }

  @Test
  void everyRegistryRouteNeedsCredentialsOverTls() {
    long upstreamRequests = upstream.requests("GET", "/v2/secure/");
    String head = curl(jitdi, "-s", "-i", v2(""));
    assertTrue(head.startsWith("HTTP/2 401") || head.startsWith("HTTP/1.1 401"), head);
    assertTrue(head.toLowerCase().contains("www-authenticate: bearer realm=\"https://" + jitdi.hostPort()
        + "/_jitdi/token\",service=\"jitdi\""), head);
    assertTrue(head.contains("\"code\":\"UNAUTHORIZED\""), head);
    assertEquals("401", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", v2("secure/model/manifests/v1")));
    assertEquals("401", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "node:wrong", v2("")));
    assertEquals("401", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
        "Authorization: Bearer not-the-token", v2("")));
    assertEquals("401", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", v2("nope/blobs/uploads/")));
    assertEquals(upstreamRequests, upstream.requests("GET", "/v2/secure/"), "refused requests reach no upstream");
    assertEquals("401", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", "https://" + jitdi.hostPort()
        + "/_jitdi/token?service=jitdi"), "no token without credentials");
    assertEquals("401", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
        "Authorization: Bearer forged.signature", v2("")));
  }

  @Test
  void theTokenFlowIssuesATokenForAUserThatTheRegistryAccepts() {
    String body = curl(jitdi, "-s", "-u", "node:s3cret-pass", "https://" + jitdi.hostPort()
        + "/_jitdi/token?service=jitdi&scope=repository:secure/model:pull");
    String token = new io.vertx.core.json.JsonObject(body).getString("token");
    assertTrue(token != null && token.contains("."), body);
    assertEquals("200", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer "
        + token, v2("secure/model/blobs/" + image.config())));
    String tampered = token.substring(0, token.length() - 2) + (token.endsWith("A") ? "BB" : "AA");
    assertEquals("401", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer "
        + tampered, v2("")));
  }

  @Test
  void basicUsersAndBearerTokensAreAccepted() {
    assertEquals("200", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "node:s3cret-pass", v2("")));
    assertEquals("200", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
        "Authorization: Bearer " + TOKEN, v2("")));
  }

  @Test
  void healthReadinessAndMetricsStayOpen() {
    for (String path : List.of("/healthz", "/readyz", "/metrics")) {
      assertEquals("200", curl(jitdi, "-s", "-o", "/dev/null", "-w", "%{http_code}", "https://" + jitdi.hostPort()
          + path), path);
    }
  }

  @Test
  void skopeoPullsWithBasicCredentialsOrABearerTokenAndVerifiesTheCertificate() throws Exception {
    String ref = "docker://" + jitdi.hostPort() + "/secure/model:v1";
    Proc.Result refused = Proc.exec(Duration.ofMinutes(1), Map.of(), List.of("skopeo", "inspect", "--cert-dir",
        certDir.toString(), ref));
    assertNotEquals(0, refused.exit(), "no credentials: " + refused.output());
    Proc.Result untrusted = Proc.exec(Duration.ofMinutes(1), Map.of(), List.of("skopeo", "inspect", "--creds",
        "node:s3cret-pass", ref));
    assertNotEquals(0, untrusted.exit(), "the self-signed certificate is not trusted by default");

    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-cert-dir", certDir.toString(), "--src-creds",
        "node:s3cret-pass", ref, "dir:" + dir.resolve("basic")));
    assertEquals(image.layer(), io.jitdi.cache.FileDigests.sha256(dir.resolve("basic/" + image.layer().hex())));
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-cert-dir", certDir.toString(),
        "--src-registry-token", TOKEN, ref, "dir:" + dir.resolve("bearer")));
    assertEquals(image.layer(), io.jitdi.cache.FileDigests.sha256(dir.resolve("bearer/" + image.layer().hex())));
  }

  @Test
  void tlsNegotiatesHttp2AndServesBlobsOverIt() {
    curl(jitdi, "-s", "-o", "/dev/null", "-u", "node:s3cret-pass", v2("secure/model/blobs/" + image.layer()));
    String out = curl(jitdi, "-s", "--http2", "-u", "node:s3cret-pass", "-o", dir.resolve("h2.bin").toString(), "-w",
        "%{http_version} %{http_code}", v2("secure/model/blobs/" + image.layer()));
    assertEquals("2 200", out);
    try {
      assertEquals(image.layer(), io.jitdi.cache.FileDigests.sha256(dir.resolve("h2.bin")));
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }
}
