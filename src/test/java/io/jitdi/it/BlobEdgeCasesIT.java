package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Blob and manifest answers at the edges, against a real docker-registry whose access log counts what jitdi asked:
 * HEAD of a blob not cached, HEAD of an evicted JIT layer, the old digest of a tag that moved, and a blob cached
 * through one repository asked for under another. Each test has its own jitdi and its own repositories.
 */
class BlobEdgeCasesIT extends UpstreamPerClass {
  static final long MIB = 1L << 20;
  static final String OCI = "application/vnd.oci.image.manifest.v1+json";

  Jitdi jitdi;

  @AfterEach
  void stopJitdi() {
    Tools.closeAll(jitdi);
  }

  @Test
  void headOfABlobNotCachedAnswersItsSizeAndDigestWithoutFetchingIt() throws Exception {
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(upstream.url(), "1GiB"));
    long size = 3 * MIB + 7;
    Path file = dir.resolve("head-blob");
    Digest digest = Images.randomFile(file, size, 11);
    upstream.pushBlobFile("edge/head", file, digest);
    String path = "/v2/edge/head/blobs/" + digest;

    Http.Text head = Http.head(jitdi.url() + path, Map.of());
    assertEquals(200, head.status());
    assertEquals(Long.toString(size), head.header("Content-Length"), "the real size");
    assertEquals(digest.toString(), head.header("Docker-Content-Digest"));
    assertEquals("", head.body(), "no body");
    assertEquals(1, upstream.requests("HEAD", path), "asked the upstream with a HEAD");
    assertEquals(0, upstream.requests("GET", path), "and did not fetch the blob");
    assertFalse(Files.exists(BudgetRaceIT.cached(jitdi, digest)), "nothing cached");
    assertEquals(0, jitdi.metrics().value("jitdi_fills_inflight"), 0.0, "no fill started");

    // curl sees the same: the head only, and then the connection is reused
    Proc.Result curl = Proc.exec(java.time.Duration.ofSeconds(60), Map.of(), java.util.List.of("curl", "-sS", "-I",
        "--max-time", "30", jitdi.url() + path, jitdi.url() + "/v2/"));
    assertEquals(0, curl.exit(), curl.output());
    assertTrue(curl.output().toLowerCase().contains("content-length: " + size), curl.output());
    assertEquals(2, upstream.requests("HEAD", path));
    assertEquals(0, upstream.requests("GET", path), "still no GET");
  }

  @Test
  void headOfAnEvictedJitLayerAnswersItsSizeAndDigest() throws Exception {
    Path models = dir.resolve("models");
    Files.createDirectories(models);
    for (int i = 0; i < 5; i++) {
      Images.randomFile(models.resolve("e" + i + ".bin"), 8 * MIB, 500 + i);
    }
    jitdi = Jitdi.start(dir.resolve("jitdi"), """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 24MiB}
        upstreams:
          docker.io: {url: "%1$s"}
        jit:
          fileRoots: [%2$s]
        images:
          - name: edge
            match: "edge/e{n}:{tag}"
            registry: jit.local
            platforms: [linux/amd64]
            files: [{source: "%2$s/e{n}.bin", destination: /models/}]
        """.formatted(upstream.url(), models));
    JsonObject layer = jitLayer("edge/e0");
    Digest digest = Digest.parse(layer.getString("digest"));
    long size = layer.getLong("size");
    Path file = BudgetRaceIT.cached(jitdi, digest);
    assertTrue(Files.exists(file), "built");
    // more 8 MiB layers in a budget of 24 MiB, until e0's layer (the least recently used) is evicted
    for (int i = 1; i < 5 && Files.exists(file); i++) {
      jitLayer("edge/e" + i);
    }
    assertFalse(Files.exists(file), "the layer was evicted");

    Http.Text head = Http.head(jitdi.url() + "/v2/edge/e0/blobs/" + digest + "?ns=jit.local", Map.of());
    assertEquals(200, head.status(), head.body());
    assertEquals(Long.toString(size), head.header("Content-Length"));
    assertEquals(digest.toString(), head.header("Docker-Content-Digest"));
    assertEquals("", head.body());
    assertTrue(jitdi.log().contains("blob " + digest + " of jit.local/edge/e0:v1 was evicted; building it again"),
        "the HEAD built it again from its recipe");
    Http.Streamed get = Http.stream(jitdi.url() + "/v2/edge/e0/blobs/" + digest + "?ns=jit.local");
    assertEquals(200, get.status());
    assertFalse(get.broken());
    assertEquals(digest, get.digest(), "with the same digest");
    assertEquals(size, get.bytes());
  }

  @Test
  void theOldDigestOfATagThatMovedIsStillServedByDigest() {
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(upstream.url(), "1GiB").replace("manifestTtl: 5m",
        "manifestTtl: 0"));
    String repo = "edge/moving";
    Images.Pushed old = Images.pushRandomImage(upstream, dir, repo, "latest", MIB, 21);
    Http.Bytes first = Http.getBytes(jitdi.url() + "/v2/" + repo + "/manifests/latest", Map.of("Accept", OCI));
    assertEquals(200, first.status());
    assertEquals(old.manifest().toString(), first.header("Docker-Content-Digest"));
    assertEquals(old.layer(), Http.stream(jitdi.url() + "/v2/" + repo + "/blobs/" + old.layer()).digest());

    Images.Pushed moved = Images.pushRandomImage(upstream, dir, repo, "latest", MIB, 22);
    assertNotEquals(old.manifest(), moved.manifest());
    Http.Text now = Http.get(jitdi.url() + "/v2/" + repo + "/manifests/latest", Map.of("Accept", OCI));
    assertEquals(moved.manifest().toString(), now.header("Docker-Content-Digest"), "the tag moved");

    // the upstream forgets the old manifest: only jitdi's cache can answer for it now
    Http.Text deleted = Http.send("DELETE", upstream.url() + "/v2/" + repo + "/manifests/" + old.manifest(), Map.of(),
        HttpRequest.BodyPublishers.noBody());
    assertEquals(202, deleted.status(), deleted.body());
    assertEquals(404, Http.get(upstream.url() + "/v2/" + repo + "/manifests/" + old.manifest(), Map.of("Accept", OCI))
        .status(), "precondition: the upstream no longer has it");
    long asked = upstream.requests("GET", "/v2/" + repo + "/manifests/" + old.manifest())
        + upstream.requests("HEAD", "/v2/" + repo + "/manifests/" + old.manifest());

    Http.Bytes byDigest = Http.getBytes(jitdi.url() + "/v2/" + repo + "/manifests/" + old.manifest(),
        Map.of("Accept", OCI));
    assertEquals(200, byDigest.status(), new String(byDigest.body()));
    assertEquals(old.manifest().toString(), byDigest.header("Docker-Content-Digest"));
    assertArrayEquals(first.body(), byDigest.body(), "the old manifest's exact bytes");
    Http.Text headByDigest = Http.head(jitdi.url() + "/v2/" + repo + "/manifests/" + old.manifest(),
        Map.of("Accept", OCI));
    assertEquals(200, headByDigest.status());
    assertEquals(Integer.toString(first.body().length), headByDigest.header("Content-Length"));
    assertEquals(asked, upstream.requests("GET", "/v2/" + repo + "/manifests/" + old.manifest())
        + upstream.requests("HEAD", "/v2/" + repo + "/manifests/" + old.manifest()),
        "served from the cache: the upstream was not asked for the old digest");
    assertEquals(old.layer(), Http.stream(jitdi.url() + "/v2/" + repo + "/blobs/" + old.layer()).digest(),
        "and its layer too");
  }

  @Test
  void aBlobCachedThroughOneRepositoryIsServedFromTheCacheUnderAnother() {
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(upstream.url(), "1GiB"));
    byte[] content = Images.randomBytes(2 * (int) MIB, 31);
    Digest digest = upstream.pushBlob("edge/one", content);
    assertEquals(digest, upstream.pushBlob("edge/two", content));

    Http.Streamed viaOne = Http.stream(jitdi.url() + "/v2/edge/one/blobs/" + digest);
    assertEquals(digest, viaOne.digest());
    assertEquals(1, upstream.blobGets("edge/one", digest));
    Metrics before = jitdi.metrics();

    Http.Streamed viaTwo = Http.stream(jitdi.url() + "/v2/edge/two/blobs/" + digest);
    assertEquals(200, viaTwo.status());
    assertFalse(viaTwo.broken());
    assertEquals(digest, viaTwo.digest());
    assertEquals(0, upstream.blobGets("edge/two", digest), "not fetched again under the other name");
    assertEquals(1, upstream.blobGets("edge/one", digest));
    assertEquals(0, upstream.requests("GET", "/v2/edge/two/"), "the upstream was not asked anything for edge/two");
    assertEquals(1, jitdi.metrics().value("jitdi_cache_requests_total", "kind", "blob", "result", "hit")
        - before.value("jitdi_cache_requests_total", "kind", "blob", "result", "hit"), 0.0, "a cache hit");
    Http.Text head = Http.head(jitdi.url() + "/v2/edge/two/blobs/" + digest, Map.of());
    assertEquals(Integer.toString(content.length), head.header("Content-Length"));
    assertEquals(0, upstream.requests("HEAD", "/v2/edge/two/"), "nor for a HEAD");
  }

  /** The JIT layer of {@code image}:v1, as its manifest names it (asking for the manifest builds it). */
  private JsonObject jitLayer(String image) {
    String accept = "application/vnd.oci.image.index.v1+json, " + OCI;
    Http.Text index = Http.get(jitdi.url() + "/v2/" + image + "/manifests/v1?ns=jit.local", Map.of("Accept", accept));
    assertEquals(200, index.status(), index.body());
    String manifestDigest = new JsonObject(index.body()).getJsonArray("manifests").getJsonObject(0).getString("digest");
    Http.Text manifest = Http.get(jitdi.url() + "/v2/" + image + "/manifests/" + manifestDigest + "?ns=jit.local",
        Map.of("Accept", accept));
    assertEquals(200, manifest.status(), manifest.body());
    JsonArray layers = new JsonObject(manifest.body()).getJsonArray("layers");
    return layers.getJsonObject(layers.size() - 1);
  }
}
