package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upstream auth against a real docker-registry: bearer tokens from a token realm (with and without credentials),
 * Basic auth behind an auth front, redirects to a blob store that must never see Authorization, and a token realm on
 * a foreign host that is refused until it is listed in tokenRealms.
 */
class UpstreamAuthIT {
  static final Map<String, String> OCI = Map.of("Accept", "application/vnd.oci.image.manifest.v1+json");

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static TokenServer tokens;
  static DockerRegistry tokenRegistry;
  static DockerRegistry foreignRealmRegistry;
  static DockerRegistry openRegistry;
  static RedirectingFront tokenFront;
  static RedirectingFront basicFront;
  static Jitdi jitdi;
  static Images.Pushed image;

  @BeforeAll
  static void start() {
    Path storage = dir.resolve("registry");
    // push without auth, then serve the same storage with auth in front
    openRegistry = DockerRegistry.start(storage);
    image = Images.pushRandomImage(openRegistry, dir, "private/model", "v1", 4 << 20, 77);
    tokens = TokenServer.start(dir.resolve("tokens"), "robot:s3cret", Duration.ofSeconds(300));
    tokenRegistry = DockerRegistry.start(storage, tokens.registryAuthConfig("127.0.0.1"), 401);
    foreignRealmRegistry = DockerRegistry.start(storage, tokens.registryAuthConfig("localhost"), 401);
    tokenFront = RedirectingFront.start(tokenRegistry.url(), null, d -> openRegistry.blobData(
        io.jitdi.oci.Digest.parse(d)));
    basicFront = RedirectingFront.start(openRegistry.url(), "admin:hunter2", d -> openRegistry.blobData(
        io.jitdi.oci.Digest.parse(d)));
    jitdi = Jitdi.start(dir.resolve("jitdi"), """
        server:
          listen: 127.0.0.1:PORT
        cache:
          dir: CACHE_DIR
          maxSize: 1GiB
        upstreams:
          docker.io:
            url: %s
            username: robot
            password: s3cret
          anonymous.local:
            url: %s
          basic.local:
            url: %s
            username: admin
            password: hunter2
          foreign.local:
            url: %s
            username: robot
            password: s3cret
          trusted.local:
            url: %s
            username: robot
            password: s3cret
            tokenRealms: [localhost]
        defaultUpstream: docker.io
        """.formatted(tokenFront.url(), tokenRegistry.url(), basicFront.url(), foreignRealmRegistry.url(),
        foreignRealmRegistry.url()));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(jitdi, basicFront, tokenFront, foreignRealmRegistry, tokenRegistry,
        openRegistry, tokens);
  }

  @Test
  void bearerTokensAreFetchedWithCredentialsCachedAndNeverSentToTheBlobStore() {
    int before = tokens.requests().size();
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false",
        "docker://" + jitdi.hostPort() + "/private/model:v1", "dir:" + dir.resolve("copy")));
    List<TokenServer.Request> asked = tokens.requests().subList(before, tokens.requests().size());
    assertTrue(!asked.isEmpty() && asked.size() <= 2, "tokens are cached per scope: " + asked.size() + " requests");
    for (TokenServer.Request r : asked) {
      assertEquals("Basic cm9ib3Q6czNjcmV0", r.authorization(), "configured credentials go to the realm");
      assertEquals(List.of("repository:private/model:pull"), r.scopes());
    }
    assertTrue(!tokenFront.cdnAuthorizations().isEmpty(), "blob GETs were redirected to the blob store");
    assertTrue(tokenFront.cdnAuthorizations().stream().allMatch(String::isEmpty),
        "Authorization never reaches the redirect host: " + tokenFront.cdnAuthorizations());
    assertEquals(image.layer(), Http.stream(jitdi.url() + "/v2/private/model/blobs/" + image.layer()).digest());
  }

  @Test
  void withoutCredentialsTheUpstreamsRefusalIsUnauthorized() {
    Http.Text r = Http.get(jitdi.url() + "/v2/private/model/manifests/v1?ns=anonymous.local", OCI);
    assertEquals(401, r.status(), r.body());
    assertTrue(r.body().contains("\"code\":\"UNAUTHORIZED\""), r.body());
  }

  @Test
  void basicCredentialsAreSentAfterABasicChallenge() {
    Http.Text r = Http.get(jitdi.url() + "/v2/private/model/manifests/v1?ns=basic.local", OCI);
    assertEquals(200, r.status(), r.body());
    assertEquals(image.manifest().toString(), r.header("Docker-Content-Digest"));
    // a blob no other test fetched, so jitdi has not cached it and must go to the blob store for it
    io.jitdi.oci.Digest fresh = openRegistry.pushBlob("private/model", Images.randomBytes(300_000, 78));
    int before = basicFront.cdnAuthorizations().size();
    Http.Streamed blob = Http.stream(jitdi.url() + "/v2/private/model/blobs/" + fresh + "?ns=basic.local");
    assertEquals(fresh, blob.digest());
    assertEquals(1, basicFront.cdnGets(fresh), "the blob GET was redirected to the blob store");
    List<String> sent = basicFront.cdnAuthorizations().subList(before, basicFront.cdnAuthorizations().size());
    assertTrue(!sent.isEmpty(), "the blob store was asked");
    assertTrue(sent.stream().allMatch(String::isEmpty), "Basic credentials never reach the redirect host: " + sent);
  }

  @Test
  void aTokenRealmOnAForeignHostIsRefusedUnlessListed() {
    // the token server is the only realm, on 127.0.0.1 for docker.io and on localhost for foreign/trusted.local
    int before = tokens.requests().size();
    Http.Text refused = Http.get(jitdi.url() + "/v2/private/model/manifests/v1?ns=foreign.local", OCI);
    assertEquals(before, tokens.requests().size(), "the foreign realm got no request: "
        + tokens.requests().subList(before, tokens.requests().size()));
    assertEquals(502, refused.status(), refused.body());
    assertTrue(refused.body().contains("tokenRealms"), refused.body());

    Http.Text allowed = Http.get(jitdi.url() + "/v2/private/model/manifests/v1?ns=trusted.local", OCI);
    assertEquals(200, allowed.status(), allowed.body());
    assertEquals(image.manifest().toString(), allowed.header("Docker-Content-Digest"));
    assertTrue(tokens.requests().size() > before, "listed in tokenRealms, the same realm is asked");
  }
}
