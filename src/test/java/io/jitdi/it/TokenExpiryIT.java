package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two-second tokens from a real token realm, for a registry behind the fault relay: a transfer that outlives its
 * token and is cut mid-way refreshes the token and resumes with Range.
 */
class TokenExpiryIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry open;
  static DockerRegistry secured;
  static TokenServer tokens;
  static FaultRelay relay;
  static Jitdi jitdi;

  @BeforeAll
  static void start() {
    Path storage = dir.resolve("registry");
    open = DockerRegistry.start(storage);
    tokens = TokenServer.start(dir.resolve("tokens"), null, Duration.ofSeconds(2)).strict();
    secured = DockerRegistry.start(storage, tokens.registryAuthConfig("127.0.0.1"), 401);
    relay = FaultRelay.to(secured.port());
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(relay.url(), "1GiB"));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(jitdi, relay, secured, tokens, open);
  }

  @Test
  void theRegistryReallyRejectsATokenAfterTwoSeconds() {
    Path file = dir.resolve("probe");
    Digest digest = Images.randomFile(file, 1024, 1);
    open.pushBlobFile("expiry/probe", file, digest);
    Http.Text challenge = Http.get(secured.url() + "/v2/expiry/probe/blobs/" + digest);
    assertEquals(401, challenge.status());
    String token = new io.vertx.core.json.JsonObject(Http.get("http://127.0.0.1:" + tokens.port()
        + "/token?service=" + TokenServer.SERVICE + "&scope=repository:expiry/probe:pull").body()).getString("token");
    Map<String, String> auth = Map.of("Authorization", "Bearer " + token);
    assertEquals(200, Http.get(secured.url() + "/v2/expiry/probe/blobs/" + digest, auth).status());
    Proc.sleep(3100); // the token's own lifetime, on the registry's clock: nothing to await
    assertEquals(401, Http.get(secured.url() + "/v2/expiry/probe/blobs/" + digest, auth).status());
  }

  @Test
  void aLongTransferSurvivesTokenExpiryByRefreshingAndResuming() {
    Path file = dir.resolve("long");
    Digest digest = Images.randomFile(file, 40L << 20, 2);
    open.pushBlobFile("expiry/long", file, digest);
    int tokensBefore = tokens.requests().size();
    relay.throttle(8L << 20); // five seconds for 40 MiB
    relay.onRequest("/expiry/long/blobs/", FaultRelay.Kind.CUT, 28L << 20, 0); // cut after ~3.5 s
    try {
      Http.Streamed body = Http.stream(jitdi.url() + "/v2/expiry/long/blobs/" + digest);
      assertEquals(200, body.status());
      assertFalse(body.broken());
      assertEquals(digest, body.digest(), "the client got the whole blob");
    } finally {
      relay.heal();
    }
    assertTrue(tokens.requests().size() - tokensBefore >= 2, "a fresh token was fetched for the resume");
    assertTrue(secured.proc().log().contains("\"GET /v2/expiry/long/blobs/" + digest + " HTTP/1.1\" 206"),
        "the resume was a Range request the registry accepted");
    assertTrue(jitdi.log().contains("resuming with Range"));
  }
}
