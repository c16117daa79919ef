package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regression tests for answers the OCI distribution-spec conformance suite checks, each with its own jitdi behind its
 * own relay, so that what went upstream can be counted.
 */
class ConformanceIT {
  private static final String REPO = "conformance/repo";

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path upstreamDir;
  static DockerRegistry upstream;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path dir;
  FaultRelay relay;
  Jitdi jitdi;

  @BeforeAll
  static void startUpstream() {
    upstream = DockerRegistry.start(upstreamDir.resolve("upstream"));
    Images.pushRandomImage(upstream, upstreamDir, REPO, "v1", 4096, 1); // the repository exists upstream
  }

  @AfterAll
  static void stopUpstream() {
    Tools.closeAll(upstream);
  }

  @BeforeEach
  void startJitdi() {
    relay = FaultRelay.to(upstream.port());
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(relay.url(), "256MiB"));
  }

  @AfterEach
  void stopJitdi() {
    Tools.closeAll(jitdi, relay);
  }

  /** The conformance suite's "GET nonexistent manifest should return 404" uses this reference. */
  @Test
  void theInvalidManifestNameOfTheConformanceSuiteIsAnUnknownManifestAndNeverAskedUpstream() {
    // the relay sees what jitdi asks upstream: a real tag of the same repository goes through it
    String accept = "application/vnd.oci.image.manifest.v1+json";
    assertEquals(200, Http.get(jitdi.url() + "/v2/" + REPO + "/manifests/v1", Map.of("Accept", accept)).status(),
        "a real tag is served");
    assertTrue(relay.requests("GET", "/v2/" + REPO + "/manifests/v1")
        + relay.requests("HEAD", "/v2/" + REPO + "/manifests/v1") >= 1,
        "the real tag was asked upstream: " + relay.requestLines());

    String url = jitdi.url() + "/v2/" + REPO + "/manifests/.INVALID_MANIFEST_NAME";
    Http.Text head = Http.head(url, Map.of());
    assertEquals(404, head.status(), "HEAD of .INVALID_MANIFEST_NAME");
    Http.Text get = Http.get(url, Map.of("Accept", accept));
    expectError(404, "MANIFEST_UNKNOWN", get, "GET of .INVALID_MANIFEST_NAME");
    assertEquals(0, relay.requests("HEAD", "INVALID_MANIFEST_NAME") + relay.requests("GET", "INVALID_MANIFEST_NAME"),
        "a name that cannot be a tag is answered without asking upstream: " + relay.requestLines());
  }

  @Test
  void malformedDigestsAndRepositoryNamesStayBadRequests() {
    expectError(400, "DIGEST_INVALID", Http.get(jitdi.url() + "/v2/" + REPO + "/manifests/sha256:xyz"),
        "manifest sha256:xyz");
    expectError(400, "DIGEST_INVALID", Http.get(jitdi.url() + "/v2/" + REPO + "/blobs/sha256:xyz"),
        "blob sha256:xyz");
    expectError(400, "NAME_INVALID", Http.get(jitdi.url() + "/v2/Conformance/Repo/manifests/v1"),
        "upper-case repository name");
    expectError(400, "NAME_INVALID", Http.get(jitdi.url() + "/v2/conformance/-repo/manifests/v1"),
        "repository component starting with a separator");
    assertEquals(0, relay.requests("GET", "sha256:xyz") + relay.requests("GET", "/Conformance/")
        + relay.requests("GET", "/-repo/"), "bad requests are answered without asking upstream: "
        + relay.requestLines());
  }

  private static void expectError(int status, String code, Http.Text r, String what) {
    assertEquals(status, r.status(), what + ": " + r.body());
    assertTrue(r.body().startsWith("{\"errors\":[{"), what + ": not an OCI error body: " + r.body());
    assertTrue(r.body().contains("\"code\":\"" + code + "\""), what + ": expected code " + code + ": " + r.body());
  }
}
