package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tag answers: trusted within manifestTtl, then revalidated with a HEAD; stale-if-error; the upstream's 404 passed on.
 * One jitdi trusts tags for 5 minutes, the other for 0 seconds (so every request revalidates, without sleeping).
 */
class ManifestCacheIT {
  static final Map<String, String> OCI = Map.of("Accept", "application/vnd.oci.image.manifest.v1+json");

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static FaultRelay relay;
  static Jitdi trusting;
  static Jitdi revalidating;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    relay = FaultRelay.to(upstream.port());
    trusting = Jitdi.start(dir.resolve("trusting"), Jitdi.config(upstream.url(), "256MiB"));
    revalidating = Jitdi.start(dir.resolve("revalidating"), Jitdi.config(relay.url(), "256MiB")
        .replace("manifestTtl: 5m", "manifestTtl: 0"));
  }

  @AfterAll
  static void stop() {
    revalidating.close();
    trusting.close();
    relay.close();
    upstream.close();
  }

  private static long manifestRequests(String method, String repo) {
    return upstream.requests(method, "/v2/" + repo + "/manifests/");
  }

  @Test
  void withinTheTtlATagIsAnsweredWithoutAskingUpstream() {
    Images.pushRandomImage(upstream, dir, "ttl/fresh", "v1", 1024, 1);
    Http.Text first = Http.get(trusting.url() + "/v2/ttl/fresh/manifests/v1", OCI);
    assertEquals(200, first.status());
    long gets = manifestRequests("GET", "ttl/fresh");
    long heads = manifestRequests("HEAD", "ttl/fresh");
    for (int i = 0; i < 5; i++) {
      assertEquals(first.body(), Http.get(trusting.url() + "/v2/ttl/fresh/manifests/v1", OCI).body());
      assertEquals(200, Http.head(trusting.url() + "/v2/ttl/fresh/manifests/v1", OCI).status());
    }
    assertEquals(gets, manifestRequests("GET", "ttl/fresh"));
    assertEquals(heads, manifestRequests("HEAD", "ttl/fresh"));
  }

  @Test
  void afterTheTtlAnUnchangedTagCostsOneHeadAndAMovedTagIsFetchedAgain() {
    Images.Pushed v1 = Images.pushRandomImage(upstream, dir, "ttl/moving", "latest", 1024, 2);
    assertEquals(v1.manifest().toString(), Http.get(revalidating.url() + "/v2/ttl/moving/manifests/latest", OCI)
        .header("Docker-Content-Digest"));
    long gets = manifestRequests("GET", "ttl/moving");
    long heads = manifestRequests("HEAD", "ttl/moving");

    assertEquals(v1.manifest().toString(), Http.get(revalidating.url() + "/v2/ttl/moving/manifests/latest", OCI)
        .header("Docker-Content-Digest"));
    assertEquals(heads + 1, manifestRequests("HEAD", "ttl/moving"), "revalidated with a HEAD");
    assertEquals(gets, manifestRequests("GET", "ttl/moving"), "and not fetched again");

    Images.Pushed v2 = Images.pushRandomImage(upstream, dir, "ttl/moving", "latest", 1024, 3);
    assertNotEquals(v1.manifest(), v2.manifest());
    assertEquals(v2.manifest().toString(), Http.get(revalidating.url() + "/v2/ttl/moving/manifests/latest", OCI)
        .header("Docker-Content-Digest"), "the moved tag is followed");
    assertEquals(gets + 1, manifestRequests("GET", "ttl/moving"));
  }

  @Test
  void whenTheUpstreamFailsTheStaleAnswerIsServedAndCounted() {
    Images.Pushed image = Images.pushRandomImage(upstream, dir, "ttl/stale", "v1", 1024, 4);
    assertEquals(200, Http.get(revalidating.url() + "/v2/ttl/stale/manifests/v1", OCI).status());
    double staleBefore = revalidating.metrics().value("jitdi_cache_requests_total", "kind", "manifest",
        "result", "stale");
    relay.cutAfter(0); // the next upstream connection dies before answering
    Http.Text stale = Http.get(revalidating.url() + "/v2/ttl/stale/manifests/v1", OCI);
    assertEquals(200, stale.status(), stale.body());
    assertEquals(image.manifest().toString(), stale.header("Docker-Content-Digest"));
    double staleAfter = revalidating.metrics().value("jitdi_cache_requests_total", "kind", "manifest",
        "result", "stale");
    assertTrue(staleAfter >= staleBefore + 1, "stale answers are counted");
  }

  @Test
  void aTagDeletedUpstreamIsNotServedStale() {
    Images.Pushed image = Images.pushRandomImage(upstream, dir, "ttl/deleted", "v1", 1024, 5);
    assertEquals(200, Http.get(revalidating.url() + "/v2/ttl/deleted/manifests/v1", OCI).status());
    Http.Text deleted = Http.send("DELETE", upstream.url() + "/v2/ttl/deleted/manifests/" + image.manifest(), Map.of(),
        java.net.http.HttpRequest.BodyPublishers.noBody());
    assertEquals(202, deleted.status(), deleted.body());
    Http.Text after = Http.get(revalidating.url() + "/v2/ttl/deleted/manifests/v1", OCI);
    assertEquals(404, after.status());
    assertTrue(after.body().contains("MANIFEST_UNKNOWN"), after.body());
  }

  @Test
  void concurrentRequestsForAColdTagShareOneUpstreamGet() throws Exception {
    Images.pushRandomImage(upstream, dir, "ttl/burst", "v1", 1024, 6);
    relay.throttle(20_000);
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(6);
    try {
      var all = new java.util.ArrayList<java.util.concurrent.Future<Http.Text>>();
      for (int i = 0; i < 6; i++) {
        all.add(pool.submit(() -> Http.get(revalidating.url() + "/v2/ttl/burst/manifests/v1", OCI)));
      }
      for (var f : all) {
        assertEquals(200, f.get().status());
      }
    } finally {
      relay.throttle(-1);
      pool.shutdown();
    }
    assertTrue(manifestRequests("GET", "ttl/burst") + manifestRequests("HEAD", "ttl/burst") < 6,
        "joined: " + manifestRequests("GET", "ttl/burst") + " GETs, " + manifestRequests("HEAD", "ttl/burst") + " HEADs");
  }
}
