package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Token responses and challenges that differ from the common case, against a real docker-registry that trusts a
 * {@link TokenServer}: a challenge naming several scopes (distribution's space-separated form, made by a
 * {@link RegistryFront} that rewrites the registry's challenge), and a token response carrying only
 * {@code access_token}. Each test has its own token server, registry process and jitdi, over one storage.
 */
class TokenResponsesIT {
  static final Map<String, String> OCI = Map.of("Accept", "application/vnd.oci.image.manifest.v1+json");
  static final String MODEL_SCOPE = "repository:private/model:pull";
  static final String EXTRA_SCOPE = "repository:private/extra:pull";

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path shared;
  static Path storage;
  static Images.Pushed image;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path dir;
  TokenServer tokens;
  DockerRegistry registry;
  RegistryFront front;
  Jitdi jitdi;

  @BeforeAll
  static void push() {
    storage = shared.resolve("registry");
    // push without auth; each test serves the same storage with token auth on
    try (DockerRegistry open = DockerRegistry.start(storage)) {
      image = Images.pushRandomImage(open, shared, "private/model", "v1", 1 << 20, 41);
    }
  }

  @AfterEach
  void stop() {
    Tools.closeAll(jitdi, front, registry, tokens);
  }

  private void startRegistry(TokenServer server) {
    tokens = server;
    registry = DockerRegistry.start(storage, tokens.registryAuthConfig("127.0.0.1"), 401);
  }

  private void startJitdi(String upstreamUrl) {
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
        defaultUpstream: docker.io
        """.formatted(upstreamUrl));
  }

  private void pullsTheImage() {
    Http.Text manifest = Http.get(jitdi.url() + "/v2/private/model/manifests/v1", OCI);
    assertEquals(200, manifest.status(), manifest.body());
    assertEquals(image.manifest().toString(), manifest.header("Docker-Content-Digest"));
    Http.Streamed layer = Http.stream(jitdi.url() + "/v2/private/model/blobs/" + image.layer());
    assertEquals(200, layer.status());
    assertFalse(layer.broken());
    assertEquals(image.layer(), layer.digest());
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false",
        "docker://" + jitdi.hostPort() + "/private/model:v1", "dir:" + dir.resolve("copy")));
  }

  @Test
  void aTokenResponseWithOnlyAccessTokenIsUsed() {
    startRegistry(TokenServer.start(dir.resolve("tokens"), "robot:s3cret", Duration.ofSeconds(300))
        .accessTokenOnly());
    startJitdi(registry.url());
    pullsTheImage();
    List<String> answers = tokens.responses();
    assertFalse(answers.isEmpty(), "jitdi asked the token server");
    for (String answer : answers) {
      assertTrue(answer.startsWith("{\"access_token\":\"") && !answer.contains("\"token\""), answer);
    }
    for (TokenServer.Request r : tokens.requests()) {
      assertEquals("Basic cm9ib3Q6czNjcmV0", r.authorization(), "the configured credentials");
      assertEquals(List.of(MODEL_SCOPE), r.scopes());
    }
  }

  @Test
  void aChallengeWithSeveralScopesAsksForEachAndTheTokenGrantsThemAll() {
    startRegistry(TokenServer.start(dir.resolve("tokens"), "robot:s3cret", Duration.ofSeconds(300)));
    // distribution writes several scopes as one space-separated scope parameter of the challenge
    front = RegistryFront.to(registry.url()).rewriteChallenge(challenge -> challenge.replace(
        "scope=\"" + MODEL_SCOPE + "\"", "scope=\"" + MODEL_SCOPE + " " + EXTRA_SCOPE + "\""));
    startJitdi(front.url());
    Http.Text challenge = Http.get(front.url() + "/v2/private/model/manifests/v1", OCI);
    assertEquals(401, challenge.status());
    assertTrue(challenge.header("WWW-Authenticate").contains("scope=\"" + MODEL_SCOPE + " " + EXTRA_SCOPE + "\""),
        "precondition: the challenge names both scopes: " + challenge.header("WWW-Authenticate"));

    pullsTheImage();
    List<TokenServer.Request> asked = tokens.requests();
    assertFalse(asked.isEmpty(), "jitdi asked the token server");
    // the token spec: one scope query parameter per scope of the challenge, never one space-joined parameter
    assertTrue(asked.stream().anyMatch(r -> r.scopes().equals(List.of(MODEL_SCOPE, EXTRA_SCOPE))),
        "the challenge's scopes were asked for, each as its own parameter: " + asked);
    for (TokenServer.Request r : asked) {
      assertTrue(r.scopes().contains(MODEL_SCOPE), "every token request covers the pull: " + r.scopes());
      assertTrue(r.scopes().stream().noneMatch(s -> s.contains(" ")), "no space-joined scope parameter: " + r.scopes());
    }
    assertTrue(asked.size() <= 4, "tokens were reused: " + asked.size() + " token requests");
  }
}
