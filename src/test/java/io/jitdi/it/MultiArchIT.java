package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.cache.FileDigests;
import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A multi-arch image (an OCI index of a linux/amd64 and a linux/arm64 busybox, built with umoci and pushed with
 * skopeo to a real docker-registry) pulled through jitdi by containerd and by {@code skopeo copy --all}, by tag, by
 * the index's digest and by a platform manifest's digest. Each test has its own jitdi and cache, so the upstream's
 * access log counts only its own fetches; containerd's fallback server is a closed port, so containerd can only
 * succeed through jitdi.
 */
class MultiArchIT {
  static final String REPO = "library/multibox";
  static final String INDEX = "application/vnd.oci.image.index.v1+json";
  static final String MANIFEST = "application/vnd.oci.image.manifest.v1+json";

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path shared;
  static DockerRegistry upstream;
  static Containerd containerd;
  static Digest index;
  static byte[] indexBytes;
  /** architecture → platform manifest digest, config digest, manifest bytes. */
  static final Map<String, Digest> manifests = new LinkedHashMap<>();
  static final Map<String, Digest> configs = new LinkedHashMap<>();
  static final Map<String, byte[]> manifestBytes = new LinkedHashMap<>();
  static Digest layer;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path dir;
  Jitdi jitdi;
  /** The upstream access log's length when this test started: counts are of this test's requests only. */
  int logStart;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(shared.resolve("upstream"));
    index = Images.pushMultiArch(upstream, REPO, "latest");
    Http.Bytes raw = Http.getBytes(upstream.url() + "/v2/" + REPO + "/manifests/" + index, Map.of("Accept", INDEX));
    assertEquals(200, raw.status());
    indexBytes = raw.body();
    JsonArray entries = new JsonObject(new String(indexBytes)).getJsonArray("manifests");
    for (int i = 0; i < entries.size(); i++) {
      JsonObject entry = entries.getJsonObject(i);
      String arch = entry.getJsonObject("platform").getString("architecture");
      Digest digest = Digest.parse(entry.getString("digest"));
      byte[] bytes = Http.getBytes(upstream.url() + "/v2/" + REPO + "/manifests/" + digest, Map.of("Accept", MANIFEST))
          .body();
      JsonObject manifest = new JsonObject(new String(bytes));
      manifests.put(arch, digest);
      manifestBytes.put(arch, bytes);
      configs.put(arch, Digest.parse(manifest.getJsonObject("config").getString("digest")));
      assertEquals(1, manifest.getJsonArray("layers").size());
      layer = Digest.parse(manifest.getJsonArray("layers").getJsonObject(0).getString("digest"));
    }
    assertEquals(List.of("amd64", "arm64"), List.copyOf(manifests.keySet()), "precondition: two platforms");
    assertFalse(configs.get("amd64").equals(configs.get("arm64")), "precondition: each platform has its own config");
    containerd = Containerd.start(shared.resolve("ctrd"));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(containerd, upstream);
  }

  @BeforeEach
  void startJitdi() {
    logStart = upstream.proc().log().length();
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(upstream.url(), "1GiB"));
    // hosts.toml is read at every pull: this test's jitdi is the mirror, a closed port the fallback
    containerd.mirror("docker.io", jitdi.url(), "http://127.0.0.1:" + Ports.free());
  }

  @AfterEach
  void stopJitdi() {
    Tools.closeAll(jitdi);
  }

  private String contentList() {
    return containerd.check(containerd.exec("content", "ls", "-q"), "content ls");
  }

  private void forget(String ref) {
    // containerd keeps content by digest across images: forget it, so the next test fetches again
    containerd.check(containerd.exec("images", "rm", "--sync", ref), "images rm " + ref);
    containerd.exec("content", "prune", "references");
    String left = contentList();
    for (Digest d : List.of(index, manifests.get("amd64"), manifests.get("arm64"), configs.get("amd64"),
        configs.get("arm64"), layer)) {
      assertFalse(left.contains(d.toString()), "containerd forgot " + d + ":\n" + left);
    }
  }

  /** GETs of {@code /v2/REPO/<what>} in the upstream's access log since this test started. */
  private long upstreamGets(String what) {
    String needle = "\"GET /v2/" + REPO + "/" + what;
    return upstream.proc().log().substring(logStart).lines().filter(l -> l.contains(needle)).count();
  }

  private long blobGets(Digest digest) {
    return upstreamGets("blobs/" + digest);
  }

  @Test
  void containerdPullsEveryPlatformOfAnIndexByTag() {
    String ref = "docker.io/" + REPO + ":latest";
    try {
      containerd.check(containerd.exec("images", "pull", "--all-platforms", "--hosts-dir",
          containerd.certsDir().toString(), ref), "pull --all-platforms");
      String images = containerd.check(containerd.exec("images", "ls"), "images ls");
      assertTrue(images.lines().anyMatch(l -> l.startsWith(ref) && l.contains(index.toString())),
          "the image is the index " + index + ":\n" + images);
      String content = contentList();
      for (String arch : manifests.keySet()) {
        assertTrue(content.contains(manifests.get(arch).toString()), arch + " manifest fetched:\n" + content);
        assertTrue(content.contains(configs.get(arch).toString()), arch + " config fetched:\n" + content);
        assertEquals(1, blobGets(configs.get(arch)), arch + " config fetched from upstream once, through jitdi");
        assertTrue(Files.exists(cached(configs.get(arch))), arch + " config cached by jitdi");
      }
      assertTrue(content.contains(layer.toString()));
      assertEquals(1, blobGets(layer), "the layer both platforms share was fetched once");

      // jitdi now serves the index by digest with the upstream's exact bytes
      Http.Bytes byDigest = Http.getBytes(jitdi.url() + "/v2/" + REPO + "/manifests/" + index + "?ns=docker.io",
          Map.of("Accept", INDEX));
      assertEquals(200, byDigest.status());
      assertEquals(INDEX, byDigest.header("Content-Type"));
      assertEquals(index.toString(), byDigest.header("Docker-Content-Digest"));
      assertArrayEquals(indexBytes, byDigest.body());
    } finally {
      forget(ref);
    }
  }

  @Test
  void containerdPullsOnePlatformOfAnIndexByTheIndexDigest() {
    String ref = "docker.io/" + REPO + "@" + index;
    try {
      containerd.check(containerd.exec("images", "pull", "--platform", "linux/arm64", "--hosts-dir",
          containerd.certsDir().toString(), ref), "pull --platform linux/arm64 by the index digest");
      String content = contentList();
      assertTrue(content.contains(index.toString()), "the index:\n" + content);
      assertTrue(content.contains(manifests.get("arm64").toString()), "the arm64 manifest:\n" + content);
      assertTrue(content.contains(configs.get("arm64").toString()), "the arm64 config:\n" + content);
      assertFalse(content.contains(configs.get("amd64").toString()), "not the amd64 config:\n" + content);
      assertEquals(1, blobGets(configs.get("arm64")));
      assertEquals(0, blobGets(configs.get("amd64")), "jitdi fetched only what containerd asked for");
      assertEquals(1, blobGets(layer));
    } finally {
      forget(ref);
    }
  }

  @Test
  void skopeoCopiesTheWholeIndexWithEveryPlatform() throws Exception {
    Path out = dir.resolve("all");
    Proc.run(Duration.ofMinutes(3), List.of("skopeo", "copy", "--all", "--src-tls-verify=false",
        "docker://" + jitdi.hostPort() + "/" + REPO + ":latest", "oci:" + out + ":copied"));
    JsonObject layoutIndex = new JsonObject(Files.readString(out.resolve("index.json")));
    JsonObject top = layoutIndex.getJsonArray("manifests").getJsonObject(0);
    assertEquals(index.toString(), top.getString("digest"), "the index was copied byte for byte");
    assertEquals(INDEX, top.getString("mediaType"));
    assertArrayEquals(indexBytes, Files.readAllBytes(blobFile(out, index)));
    for (String arch : manifests.keySet()) {
      assertArrayEquals(manifestBytes.get(arch), Files.readAllBytes(blobFile(out, manifests.get(arch))), arch);
      assertTrue(Files.exists(blobFile(out, configs.get(arch))), arch + " config copied");
      assertEquals(1, blobGets(configs.get(arch)), arch + " config fetched once");
    }
    assertEquals(1, blobGets(layer));
    // every blob skopeo wrote is the content its name says
    try (Stream<Path> files = Files.list(out.resolve("blobs/sha256"))) {
      List<Path> all = files.toList();
      assertEquals(6, all.size(), "index, 2 manifests, 2 configs, 1 layer: " + all);
      for (Path f : all) {
        assertEquals("sha256:" + f.getFileName(), FileDigests.sha256(f).toString(), f.toString());
      }
    }
  }

  @Test
  void skopeoCopiesOnePlatformManifestByDigest() throws Exception {
    Digest arm = manifests.get("arm64");
    String raw = Proc.run(Duration.ofMinutes(2), List.of("skopeo", "inspect", "--raw", "--tls-verify=false",
        "docker://" + jitdi.hostPort() + "/" + REPO + "@" + index));
    assertArrayEquals(indexBytes, raw.getBytes(), "skopeo inspect --raw of the index by digest");

    Path out = dir.resolve("arm64");
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false",
        "docker://" + jitdi.hostPort() + "/" + REPO + "@" + arm, "dir:" + out));
    assertArrayEquals(manifestBytes.get("arm64"), Files.readAllBytes(out.resolve("manifest.json")),
        "the platform manifest, exactly as the upstream has it");
    assertEquals(configs.get("arm64"), FileDigests.sha256(out.resolve(configs.get("arm64").hex())));
    assertEquals(layer, FileDigests.sha256(out.resolve(layer.hex())));
    assertEquals(1, blobGets(configs.get("arm64")));
    assertEquals(0, blobGets(configs.get("amd64")), "only the platform asked for");
    assertEquals(1, upstreamGets("manifests/" + arm),
        "the platform manifest came by digest from the upstream once");
  }

  private Path cached(Digest digest) {
    return jitdi.cacheDir().resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex());
  }

  private static Path blobFile(Path layout, Digest digest) {
    return layout.resolve("blobs/sha256/" + digest.hex());
  }
}
