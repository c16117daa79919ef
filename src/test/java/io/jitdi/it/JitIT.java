package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.ZstdInputStream;
import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** Just-in-time images from local sources, pulled by skopeo and checked byte by byte. */
class JitIT {
  static final String ACCEPT = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static Path models;
  static DockerRegistry upstream;
  static Jitdi jitdi;
  static String config;

  @BeforeAll
  static void start() throws Exception {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    Images.pushBusybox(upstream, "library/busybox", "latest");
    Images.pushMultiArch(upstream, "library/multibox", "latest");
    models = dir.resolve("models");
    Files.createDirectories(models.resolve("7b"));
    Images.randomFile(models.resolve("7b/llama-2-7b-chat.Q4_K_M.gguf"), 24L << 20, 1);
    Files.createDirectories(models.resolve("arch/amd64"));
    Files.createDirectories(models.resolve("arch/arm64"));
    Files.writeString(models.resolve("arch/amd64/m.bin"), "amd64 weights");
    Files.writeString(models.resolve("arch/arm64/m.bin"), "arm64 weights");
    Files.createDirectories(models.resolve("small"));
    Images.randomFile(models.resolve("small/tiny.bin"), 300_000, 2);
    Files.createDirectories(models.resolve("sets/bert/tokenizer"));
    Files.writeString(models.resolve("sets/bert/config.json"), "{\"hidden\":768}");
    Files.writeString(models.resolve("sets/bert/tokenizer/vocab.txt"), "a\nb\n");
    Images.randomFile(models.resolve("sets/bert/model.safetensors"), 1_000_000, 3);
    Path outside = dir.resolve("secret.txt");
    Files.writeString(outside, "not for images");
    Files.createSymbolicLink(models.resolve("sets/bert/escape.txt"), outside);
    config = """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 2GiB}
        upstreams:
          docker.io: {url: "%1$s"}
        jit:
          fileRoots: [%2$s]
        images:
          - name: llama
            match: "llama-cpp/llama-2:{size}b-chat-{quant}-gguf"
            registry: jit.local
            base: docker.io/library/busybox:latest
            files:
              - source: %2$s/{size}b/llama-2-{size}b-chat.{quant}.gguf
                destination: /models/{size}b/
            env: ["MODEL_PATH=/models/{size}b/llama-2-{size}b-chat.{quant}.gguf"]
            labels: {org.opencontainers.image.description: "llama-2 {size}b {quant}"}
          - name: multiarch
            match: "multi/{model}:{tag}"
            registry: jit.local
            base: docker.io/library/multibox:latest
            platforms: [linux/amd64, linux/arm64]
            files: [{source: "%2$s/arch/{arch}/{model}.bin", destination: "/models/{model}.bin"}]
          - name: schema2
            match: "v2s2/{model}:{tag}"
            registry: jit.local
            base: docker.io/library/busybox:latest-v2s2
            files: [{source: "%2$s/small/{model}.bin", destination: /models/}]
          - name: model-only
            match: "models/{model}:{tag}"
            registry: jit.local
            files: [{source: "%2$s/small/{model}.bin", destination: /models/, mode: "0600"}]
          - name: gzip
            match: "gz/{model}:{tag}"
            registry: jit.local
            compression: gzip
            files: [{source: "%2$s/small/{model}.bin", destination: /models/}]
          - name: zstd
            match: "zst/{model}:{tag}"
            registry: jit.local
            compression: zstd
            files: [{source: "%2$s/small/{model}.bin", destination: /models/}]
          - name: sets
            match: "sets/{set:[a-z]+}:{tag}"
            registry: jit.local
            files: [{source: "%2$s/sets/{set}/", destination: "/data/{set}/"}]
          - name: traversal
            match: "files/data:v{name}"
            registry: jit.local
            files: [{source: "%2$s/{name}", destination: "/data/{name}/"}]
          - name: anywhere
            match: "plain/{model}:{tag}"
            files: [{source: "%2$s/small/{model}.bin", destination: /models/}]
        """.formatted(upstream.url(), models);
    jitdi = Jitdi.start(dir.resolve("jitdi"), config);
  }

  @AfterAll
  static void stop() {
    if (jitdi != null) {
      jitdi.close();
    }
    upstream.close();
  }

  static String ref(Jitdi j, String image) {
    return "docker://" + j.hostPort() + "/jit.local/" + image;
  }

  static JsonObject raw(Jitdi j, String image) {
    return new JsonObject(Proc.run(Duration.ofMinutes(2), List.of("skopeo", "inspect", "--raw",
        "--tls-verify=false", ref(j, image))));
  }

  static Http.Bytes blob(String digest) {
    return Http.getBytes(jitdi.url() + "/v2/x/blobs/" + digest + "?ns=jit.local", Map.of());
  }

  /** The files of a layer: name → content. */
  static Map<String, byte[]> tarFiles(InputStream layer, Map<String, Integer> modes) throws Exception {
    Map<String, byte[]> files = new HashMap<>();
    try (TarArchiveInputStream tar = new TarArchiveInputStream(layer)) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        if (!e.isDirectory()) {
          files.put(e.getName(), tar.readAllBytes());
          modes.put(e.getName(), e.getMode());
        }
      }
    }
    return files;
  }

  static JsonObject lastLayer(JsonObject manifest) {
    JsonArray layers = manifest.getJsonArray("layers");
    return layers.getJsonObject(layers.size() - 1);
  }

  @Test
  void skopeoPullsAJitImageWhoseModelFileIsByteIdentical() throws Exception {
    Metrics before = jitdi.metrics();
    String image = "llama-cpp/llama-2:7b-chat-Q4_K_M-gguf";
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false", ref(jitdi, image),
        "oci:" + dir.resolve("llama") + ":x"));
    Proc.run(Duration.ofMinutes(2), List.of("umoci", "unpack", "--image", dir.resolve("llama") + ":x",
        dir.resolve("llama-rootfs").toString()));
    Path copied = dir.resolve("llama-rootfs/rootfs/models/7b/llama-2-7b-chat.Q4_K_M.gguf");
    assertArrayEquals(Files.readAllBytes(models.resolve("7b/llama-2-7b-chat.Q4_K_M.gguf")), Files.readAllBytes(copied));
    assertTrue(Files.isExecutable(dir.resolve("llama-rootfs/rootfs/bin/busybox")), "on top of the base");
    JsonObject config = new JsonObject(Proc.run(Duration.ofMinutes(1), List.of("skopeo", "inspect", "--config",
        "--tls-verify=false", ref(jitdi, image))));
    assertTrue(config.getJsonObject("config").getJsonArray("Env").contains(
        "MODEL_PATH=/models/7b/llama-2-7b-chat.Q4_K_M.gguf"));
    assertTrue(config.getJsonObject("config").getJsonArray("Env").contains("PATH=/bin"), "base env kept");
    assertEquals("llama-2 7b Q4_K_M", config.getJsonObject("config").getJsonObject("Labels")
        .getString("org.opencontainers.image.description"));

    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false", ref(jitdi, image),
        "oci:" + dir.resolve("llama2") + ":x"));
    Metrics after = jitdi.metrics();
    assertEquals(1, after.value("jitdi_jit_builds_total", "rule", "llama", "result", "built")
        - before.value("jitdi_jit_builds_total", "rule", "llama", "result", "built"), 0.0);
    assertTrue(after.value("jitdi_jit_builds_total", "rule", "llama", "result", "cached")
        > before.value("jitdi_jit_builds_total", "rule", "llama", "result", "cached"), "answered from the cache");
    assertTrue(after.value("jitdi_served_bytes_total", "source", "jit") > 2 * (24L << 20) - 1, "served as jit");
    // a timer: its series appears with the first build
    assertEquals(1, after.value("jitdi_jit_build_duration_seconds_count", "rule", "llama")
        - before.valueOrZero("jitdi_jit_build_duration_seconds_count", "rule", "llama"), 0.0);
  }

  @Test
  void twoInstancesWithTheirOwnCachesGiveTheSameDigests() {
    try (Jitdi other = Jitdi.start(dir.resolve("other"), config)) {
      for (String image : List.of("llama-cpp/llama-2:7b-chat-Q4_K_M-gguf", "models/tiny:v1", "multi/m:v1",
          "zst/tiny:v1", "gz/tiny:v1", "v2s2/tiny:v1")) {
        Http.Text a = Http.head(jitdi.url() + "/v2/" + image.replace(":", "/manifests/") + "?ns=jit.local",
            Map.of("Accept", ACCEPT));
        Http.Text b = Http.head(other.url() + "/v2/" + image.replace(":", "/manifests/") + "?ns=jit.local",
            Map.of("Accept", ACCEPT));
        assertEquals(200, a.status(), image);
        assertEquals(a.header("Docker-Content-Digest"), b.header("Docker-Content-Digest"), image);
        assertEquals(a.header("Content-Length"), b.header("Content-Length"), image);
      }
    }
  }

  @Test
  void aMultiArchBaseGivesAnIndexWithTheLayerOfEachPlatform() throws Exception {
    JsonObject index = raw(jitdi, "multi/m:v1");
    assertEquals("application/vnd.oci.image.index.v1+json", index.getString("mediaType"));
    JsonArray entries = index.getJsonArray("manifests");
    assertEquals(2, entries.size());
    for (int i = 0; i < 2; i++) {
      JsonObject entry = entries.getJsonObject(i);
      String arch = entry.getJsonObject("platform").getString("architecture");
      JsonObject manifest = new JsonObject(Http.get(jitdi.url() + "/v2/multi/m/manifests/" + entry.getString("digest")
          + "?ns=jit.local", Map.of("Accept", ACCEPT)).body());
      assertEquals(2, manifest.getJsonArray("layers").size(), "busybox's layer and the JIT layer");
      Map<String, byte[]> files = tarFiles(new ByteArrayInputStream(blob(lastLayer(manifest).getString("digest"))
          .body()), new HashMap<>());
      assertEquals(arch + " weights", new String(files.get("models/m.bin")), "{arch} was set per platform");
    }
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--override-arch", "arm64", "--src-tls-verify=false",
        ref(jitdi, "multi/m:v1"), "dir:" + dir.resolve("multi-arm64")));
  }

  @Test
  void aDockerSchema2BaseIsConvertedToOciWithItsLayersUntouched() throws Exception {
    JsonObject base = new JsonObject(Http.get(upstream.url() + "/v2/library/busybox/manifests/latest-v2s2",
        Map.of("Accept", "application/vnd.docker.distribution.manifest.v2+json")).body());
    JsonObject manifest = raw(jitdi, "v2s2/tiny:v1");
    assertEquals("application/vnd.oci.image.manifest.v1+json", manifest.getString("mediaType"));
    assertEquals("application/vnd.oci.image.config.v1+json", manifest.getJsonObject("config").getString("mediaType"));
    JsonObject baseLayer = manifest.getJsonArray("layers").getJsonObject(0);
    assertEquals("application/vnd.oci.image.layer.v1.tar+gzip", baseLayer.getString("mediaType"));
    assertEquals(base.getJsonArray("layers").getJsonObject(0).getString("digest"), baseLayer.getString("digest"),
        "the base layer's bytes and digest are untouched");
    assertEquals("application/vnd.oci.image.layer.v1.tar", lastLayer(manifest).getString("mediaType"));
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false", ref(jitdi, "v2s2/tiny:v1"),
        "oci:" + dir.resolve("v2s2") + ":x"));
    Proc.run(Duration.ofMinutes(2), List.of("umoci", "unpack", "--image", dir.resolve("v2s2") + ":x",
        dir.resolve("v2s2-rootfs").toString()));
    assertArrayEquals(Files.readAllBytes(models.resolve("small/tiny.bin")),
        Files.readAllBytes(dir.resolve("v2s2-rootfs/rootfs/models/tiny.bin")));
  }

  @Test
  void aModelOnlyImageIsAMinimalImageForEachDefaultPlatform() throws Exception {
    JsonObject index = raw(jitdi, "models/tiny:v1");
    assertEquals(2, index.getJsonArray("manifests").size(), "linux/amd64 and linux/arm64");
    JsonObject entry = index.getJsonArray("manifests").getJsonObject(0);
    JsonObject manifest = new JsonObject(Http.get(jitdi.url() + "/v2/models/tiny/manifests/"
        + entry.getString("digest") + "?ns=jit.local", Map.of("Accept", ACCEPT)).body());
    assertEquals(1, manifest.getJsonArray("layers").size());
    JsonObject config = new JsonObject(new String(blob(manifest.getJsonObject("config").getString("digest")).body()));
    assertEquals("linux", config.getString("os"));
    assertEquals(entry.getJsonObject("platform").getString("architecture"), config.getString("architecture"));
    assertEquals(1, config.getJsonObject("rootfs").getJsonArray("diff_ids").size());
    Map<String, Integer> modes = new HashMap<>();
    Map<String, byte[]> files = tarFiles(new ByteArrayInputStream(blob(lastLayer(manifest).getString("digest"))
        .body()), modes);
    assertArrayEquals(Files.readAllBytes(models.resolve("small/tiny.bin")), files.get("models/tiny.bin"));
    assertEquals(0100600, modes.get("models/tiny.bin"), "the rule's mode");
  }

  @Test
  void gzipAndZstdLayersUnpackToTheSameFiles() throws Exception {
    byte[] expected = Files.readAllBytes(models.resolve("small/tiny.bin"));
    for (String kind : List.of("gz", "zst")) {
      JsonObject index = raw(jitdi, kind + "/tiny:v1");
      String digest = index.getJsonArray("manifests").getJsonObject(0).getString("digest");
      JsonObject manifest = new JsonObject(Http.get(jitdi.url() + "/v2/" + kind + "/tiny/manifests/" + digest
          + "?ns=jit.local", Map.of("Accept", ACCEPT)).body());
      JsonObject layer = lastLayer(manifest);
      assertEquals("application/vnd.oci.image.layer.v1.tar+" + (kind.equals("gz") ? "gzip" : "zstd"),
          layer.getString("mediaType"));
      byte[] bytes = blob(layer.getString("digest")).body();
      assertEquals(layer.getString("digest"), Digest.sha256Of(bytes).toString());
      InputStream tar = kind.equals("gz") ? new GZIPInputStream(new ByteArrayInputStream(bytes))
          : new ZstdInputStream(new ByteArrayInputStream(bytes));
      assertArrayEquals(expected, tarFiles(tar, new HashMap<>()).get("models/tiny.bin"), kind);
    }
  }

  @Test
  void aDirectorySourceKeepsItsTreeAndRefusesLinksOutOfTheRoots() throws Exception {
    Http.Text refused = Http.get(jitdi.url() + "/v2/sets/bert/manifests/v1?ns=jit.local", Map.of("Accept", ACCEPT));
    assertEquals(400, refused.status(), "escape.txt links outside jit.fileRoots: " + refused.body());
    assertTrue(refused.body().contains("rule sets") && refused.body().contains("outside jit.fileRoots"),
        refused.body());
    Files.delete(models.resolve("sets/bert/escape.txt"));
    JsonObject index = raw(jitdi, "sets/bert:v2");
    String digest = index.getJsonArray("manifests").getJsonObject(0).getString("digest");
    JsonObject manifest = new JsonObject(Http.get(jitdi.url() + "/v2/sets/bert/manifests/" + digest + "?ns=jit.local",
        Map.of("Accept", ACCEPT)).body());
    List<String> names = new ArrayList<>();
    try (TarArchiveInputStream tar = new TarArchiveInputStream(new ByteArrayInputStream(
        blob(lastLayer(manifest).getString("digest")).body()))) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        names.add(e.getName());
      }
    }
    assertEquals(List.of("data/", "data/bert/", "data/bert/config.json", "data/bert/model.safetensors",
        "data/bert/tokenizer/", "data/bert/tokenizer/vocab.txt"), names);
  }

  @Test
  void capturesThatWouldTraverseAreRefusedWith400AndWriteNothing() throws Exception {
    Path cache = jitdi.cacheDir();
    java.util.Set<Path> cacheFilesBefore = files(cache.resolve("blobs"), cache.resolve("tmp"));
    java.util.Set<Path> outsideBefore = outsideTheCache();
    JsonObject statusBefore = cacheStatus();
    List<String> buildsBefore = buildImages();

    Http.Text r = Http.get(jitdi.url() + "/v2/files/data/manifests/v..?ns=jit.local", Map.of("Accept", ACCEPT));
    assertEquals(400, r.status(), r.body());
    assertTrue(r.body().contains("NAME_INVALID") && r.body().contains("rule traversal"), r.body());
    Http.Text dot = Http.get(jitdi.url() + "/v2/files/data/manifests/v.?ns=jit.local", Map.of("Accept", ACCEPT));
    assertEquals(400, dot.status(), dot.body());
    assertEquals(200, Http.get(jitdi.url() + "/v2/").status());

    assertEquals(cacheFilesBefore, files(cache.resolve("blobs"), cache.resolve("tmp")), "no file in blobs/ or tmp/");
    assertEquals(statusBefore, cacheStatus(), "no blob record and no byte more in the cache (/_jitdi/status)");
    assertEquals(buildsBefore, buildImages(), "no build started (/_jitdi/builds)");
    assertEquals(outsideBefore, outsideTheCache(), "no file written outside the cache directory");
  }

  /** Every file and directory under {@code roots}. */
  private static java.util.Set<Path> files(Path... roots) throws java.io.IOException {
    java.util.Set<Path> all = new java.util.TreeSet<>();
    for (Path root : roots) {
      if (Files.exists(root)) {
        try (java.util.stream.Stream<Path> walk = Files.walk(root)) {
          walk.forEach(all::add);
        }
      }
    }
    return all;
  }

  /**
   * Every path under the test's directory (models, sources, jitdi's own directory) outside the cache, and under
   * the models' parent where a traversal would land.
   */
  private static java.util.Set<Path> outsideTheCache() throws java.io.IOException {
    java.util.Set<Path> all = files(dir);
    all.removeIf(p -> p.startsWith(jitdi.cacheDir()));
    return all;
  }

  private static JsonObject cacheStatus() {
    Http.Text status = Http.get(jitdi.url() + "/_jitdi/status");
    assertEquals(200, status.status(), status.body());
    JsonObject cache = new JsonObject(status.body()).getJsonObject("cache");
    return new JsonObject().put("blobs", cache.getValue("blobs")).put("usedBytes", cache.getValue("usedBytes"))
        .put("reservedBytes", cache.getValue("reservedBytes"));
  }

  private static List<String> buildImages() {
    Http.Text builds = Http.get(jitdi.url() + "/_jitdi/builds");
    assertEquals(200, builds.status(), builds.body());
    return new JsonObject(builds.body()).getJsonArray("builds").stream().map(JsonObject.class::cast)
        .map(b -> b.getString("image") + " " + b.getString("state")).sorted().toList();
  }

  @Test
  void aRuleWithoutARegistryAnswersOnAnyRegistryAndOthersFallThrough() {
    Http.Text jit = Http.head(jitdi.url() + "/v2/plain/tiny/manifests/v1", Map.of("Accept", ACCEPT));
    assertEquals(200, jit.status());
    Http.Text unmatched = Http.get(jitdi.url() + "/v2/nothing/here/manifests/v1?ns=jit.local", Map.of("Accept",
        ACCEPT));
    assertEquals(404, unmatched.status());
    assertTrue(unmatched.body().contains("MANIFEST_UNKNOWN") && unmatched.body().contains("no rule"),
        unmatched.body());
    assertEquals(404, Http.get(jitdi.url() + "/v2/x/blobs/sha256:" + "1".repeat(64) + "?ns=jit.local").status());
    assertEquals(200, Http.head(jitdi.url() + "/v2/library/busybox/manifests/latest", Map.of("Accept", ACCEPT))
        .status(), "the proxy still works");
  }

  @Test
  void prefetchStartsABuildThatTheBuildsEndpointReports() {
    Http.Text started = Http.send("POST", jitdi.url() + "/_jitdi/prefetch?image=jit.local/models/tiny:prefetched",
        Map.of(), java.net.http.HttpRequest.BodyPublishers.noBody());
    assertTrue(started.status() == 200 || started.status() == 202, started.body());
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    JsonObject build;
    do {
      assertTrue(System.nanoTime() < deadline, "the prefetched build did not finish");
      Proc.sleep(100);
      JsonArray builds = new JsonObject(Http.get(jitdi.url() + "/_jitdi/builds").body()).getJsonArray("builds");
      build = builds.stream().map(JsonObject.class::cast)
          .filter(b -> b.getString("image").equals("jit.local/models/tiny:prefetched")).findFirst().orElse(null);
    } while (build == null || !build.getString("state").equals("done"));
    assertEquals(300_000, build.getLong("bytesTotal"));
    assertTrue(build.getString("digest").startsWith("sha256:"));
    assertEquals(404, Http.send("POST", jitdi.url() + "/_jitdi/prefetch?image=jit.local/no/rule:x", Map.of(),
        java.net.http.HttpRequest.BodyPublishers.noBody()).status());
  }

  @Test
  void resolveIsADryRunThatNamesRuleCapturesSourcesAndFailures() throws Exception {
    Path file = dir.resolve("jitdi/jitdi.yaml");
    Proc.Result ok = Jitdi.runJar("resolve", "jit.local/llama-cpp/llama-2:7b-chat-Q4_K_M-gguf", "--config",
        file.toString());
    assertEquals(0, ok.exit(), ok.output());
    assertTrue(ok.output().contains("rule:        llama"), ok.output());
    assertTrue(ok.output().contains("{size=7, quant=Q4_K_M}"), ok.output());
    assertTrue(ok.output().contains("llama-2-7b-chat.Q4_K_M.gguf (25165824 bytes)"), ok.output());
    assertTrue(ok.output().contains("checks:      ok"));
    Proc.Result bad = Jitdi.runJar("resolve", "jit.local/files/data:v..", "--config", file.toString());
    assertEquals(1, bad.exit(), bad.output());
    assertTrue(bad.output().contains("would fail:"), bad.output());
    assertNotEquals(0, bad.output().length());
  }
}
