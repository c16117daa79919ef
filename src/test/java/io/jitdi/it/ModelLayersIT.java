package io.jitdi.it;

import static io.jitdi.it.JitSourcesIT.ACCEPT;
import static io.jitdi.it.JitSourcesIT.layerFiles;
import static io.jitdi.it.JitSourcesIT.untilBuilt;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.it.ModelArtifacts.Layer;
import io.jitdi.it.ModelArtifacts.Pushed;
import io.jitdi.it.ModelArtifacts.Tar;
import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Model blobs on their way into a JIT layer, fetched through a {@link FaultRelay} in front of a real docker-registry:
 * an artifact's tar layer is read once whatever the order of its entries, a build shows its progress while its tar
 * layer downloads, and a flipped byte in each kind of model blob fails the build with nothing kept.
 */
class ModelLayersIT {
  static final String PACK = "application/vnd.cncf.model.";
  static final String KIT = "application/vnd.kitops.modelkit.";
  static final byte[] KITFILE = "{\"manifestVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8);

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static FaultRelay relay;
  static Jitdi jitdi;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    relay = FaultRelay.to(upstream.port());
    jitdi = Jitdi.start(dir.resolve("jitdi"), """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 1GiB}
        upstreams:
          registry.ollama.ai: {url: "%1$s"}
          models.example.com: {url: "%1$s"}
        jit: {waitBudget: 2s}
        images:
          - name: ollama
            match: "ollama/{model}:{tag}"
            registry: jit.local
            files: [{ollama: "registry.ollama.ai/library/{model}:{tag}", layout: files, destination: /models/}]
          - name: oci
            match: "oci/{name}:{tag}"
            registry: jit.local
            files: [{oci: "models.example.com/models/{name}:{tag}", destination: /models/}]
          - name: oci-again
            match: "again/{name}:{tag}"
            registry: jit.local
            files: [{oci: "models.example.com/models/{name}:{tag}", destination: /again/}]
          - name: oci-twice
            match: "twice/{name}:{tag}"
            registry: jit.local
            files:
              - {oci: "models.example.com/models/{name}:{tag}", destination: /one/}
              - {oci: "models.example.com/models/{name}:{tag}", destination: /two/}
        """.formatted(relay.url()));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(jitdi, relay, upstream);
  }

  @Test
  void aCompressedArtifactTarWhoseFilesAreNotInNameOrderIsReadInOnePass() throws Exception {
    Map<String, byte[]> files = new TreeMap<>();
    // as Go's filepath.Walk packs a directory (KitOps, modctl): weights/ and its files before weights.json, which
    // sorts first ('.' < '/'); and the shards in reverse
    Tar shuffled = new Tar().dir("weights/");
    for (int i = 7; i >= 0; i--) {
      byte[] shard = Images.randomBytes(512 << 10, 500 + i);
      files.put("weights/shard-" + i + ".bin", shard);
      shuffled.file("weights/shard-" + i + ".bin", shard, 0644);
    }
    byte[] index = "{\"shards\":8}".getBytes(StandardCharsets.UTF_8);
    files.put("weights.json", index);
    byte[] zstd = shuffled.file("weights.json", index, 0644).zstd();
    pack(upstream, "shuffled", List.of(new Layer(PACK + "weight.v1.tar+zstd", zstd)));
    Digest blob = Digest.sha256Of(zstd);
    Tar sorted = new Tar();
    files.forEach((name, content) -> sorted.file(name, content, 0644));
    pack(upstream, "sorted", List.of(new Layer(PACK + "weight.v1.tar+gzip", sorted.gzip())));

    assertEquals(200, untilBuilt(jitdi, "oci/shuffled:v1")[1].status());
    JsonObject build = finishedBuild("oci/shuffled:v1");
    assertEquals(zstd.length, build.getLong("bytesTotal"), build.encode());
    assertEquals(zstd.length, build.getLong("bytesDone"), "each byte of the tar read once, not once per file: "
        + build.encode());
    long content = files.values().stream().mapToLong(b -> b.length).sum();
    assertEquals(content, build.getLong("bytesToWrite"), build.encode());
    assertEquals(content, build.getLong("bytesWritten"), build.encode());
    assertEquals(1, relay.requests("GET", "/blobs/" + blob), "fetched once");

    Layered layer = layer("oci/shuffled:v1");
    List<String> names = layer.entries();
    assertEquals(names.stream().sorted().toList(), names, "the layer's entries are in name order");
    Map<String, byte[]> got = layerFiles(jitdi, "oci/shuffled:v1");
    assertEquals(files.keySet().stream().map(n -> "models/" + n).collect(Collectors.toSet()), got.keySet());
    files.forEach((name, bytes) -> assertArrayEquals(bytes, got.get("models/" + name), name));

    assertEquals(200, untilBuilt(jitdi, "oci/sorted:v1")[1].status());
    assertEquals(layer.digest(), layer("oci/sorted:v1").digest(), "the same files give the same layer, however "
        + "the artifact ordered and compressed them");
  }

  /**
   * A tar model is kept once: after the build, its tar blob is gone and the layer holds its files; another image of
   * other files of the same artifact (here another destination) reads them there, fetching nothing again.
   */
  @Test
  void aDroppedTarsFilesAreReadFromItsLayerForAnotherImageOfItsArtifact() throws Exception {
    byte[] model = ModelArtifacts.gguf(1 << 20, 801);
    byte[] tar = new Tar().dir("models").file("models/kept.gguf", model, 0644).file("models/small.txt",
        "small".getBytes(StandardCharsets.UTF_8), 0600).tar();
    kit(upstream, "kept-kit", List.of(new Layer(KIT + "model.v1.tar", tar)));
    Digest tarDigest = Digest.sha256Of(tar);
    assertEquals(200, untilBuilt(jitdi, "oci/kept-kit:v1")[1].status());
    assertFalse(Files.exists(jitdi.cacheDir().resolve("blobs/sha256/" + tarDigest.hex().substring(0, 2) + "/"
        + tarDigest.hex())), "the tar blob is not kept beside the layer holding its files");
    assertEquals(200, untilBuilt(jitdi, "again/kept-kit:v1")[1].status());
    Map<String, Integer> modes = new HashMap<>();
    Map<String, byte[]> again = JitIT.tarFiles(new java.io.ByteArrayInputStream(Http.getBytes(jitdi.url()
        + "/v2/x/blobs/" + layer("again/kept-kit:v1").digest() + "?ns=jit.local", Map.of()).body()), modes);
    assertArrayEquals(model, again.get("again/models/kept.gguf"));
    assertArrayEquals("small".getBytes(StandardCharsets.UTF_8), again.get("again/models/small.txt"));
    assertEquals(0600, modes.get("again/models/small.txt") & 0777, "a file keeps its mode from the tar");
    assertEquals(1, relay.requests("GET", "/blobs/" + tarDigest), "the second image read the tar's files from the "
        + "first one's layer: the tar was fetched once");
  }

  /**
   * A tar unpacked to two destinations of one layer is still recorded as one tar of its files: a later image of the
   * artifact reads each file once from that layer.
   */
  @Test
  void aTarUnpackedTwiceInOneLayerIsReadOnceFromItForTheNextImage() throws Exception {
    byte[] model = ModelArtifacts.gguf(1 << 20, 811);
    byte[] tar = new Tar().dir("models").file("models/both.gguf", model, 0644).tar();
    kit(upstream, "twice-kit", List.of(new Layer(KIT + "model.v1.tar", tar)));
    Digest tarDigest = Digest.sha256Of(tar);
    assertEquals(200, untilBuilt(jitdi, "twice/twice-kit:v1")[1].status());
    Map<String, byte[]> twice = layerFiles(jitdi, "twice/twice-kit:v1");
    assertArrayEquals(model, twice.get("one/models/both.gguf"));
    assertArrayEquals(model, twice.get("two/models/both.gguf"));
    Http.Text again = untilBuilt(jitdi, "again/twice-kit:v1")[1];
    assertEquals(200, again.status(), again.body());
    assertArrayEquals(model, layerFiles(jitdi, "again/twice-kit:v1").get("again/models/both.gguf"));
    assertEquals(1, relay.requests("GET", "/blobs/" + tarDigest), "read from the first layer, not fetched again");
  }

  @Test
  void aBuildShowsItsProgressWhileItsTarLayerDownloads() throws Exception {
    byte[] model = ModelArtifacts.gguf(12 << 20, 601);
    byte[] readme = "# slow kit".getBytes(StandardCharsets.UTF_8);
    byte[] tar = new Tar().dir("models").file("models/slow.gguf", model, 0644).tar();
    Pushed kit = ModelArtifacts.push(upstream, "models/slow-kit", "v1", ModelArtifacts.OCI_MANIFEST, null,
        KIT + "config.v1+json", KITFILE, List.of(new Layer(KIT + "model.v1.tar", tar),
            new Layer(KIT + "docs.v1.tar+gzip", new Tar().file("README.md", readme, 0644).gzip())));
    Digest tarDigest = Digest.sha256Of(tar);
    String image = "jit.local/oci/slow-kit:v1";
    relay.throttle(3L << 20);
    try {
      CompletableFuture<Http.Text> first = CompletableFuture.supplyAsync(() -> Http.get(jitdi.url()
          + "/v2/oci/slow-kit/manifests/v1?ns=jit.local", Map.of("Accept", ACCEPT)));
      JsonObject during = null;
      while (during == null && !first.isDone()) {
        JsonObject status = new JsonObject(Http.get(jitdi.url() + "/_jitdi/status").body());
        boolean downloading = status.getJsonArray("fills").stream().map(JsonObject.class::cast)
            .anyMatch(f -> f.getString("digest").equals(tarDigest.toString()) && f.getLong("bytes") < tar.length);
        during = downloading ? status.getJsonArray("builds").stream().map(JsonObject.class::cast)
            .filter(b -> b.getString("image").equals(image) && b.getString("state").equals("building")
                && b.getLong("bytesDone") > 0 && b.getLong("bytesPerSecond") > 0).findFirst().orElse(null) : null;
        Proc.sleep(50);
      }
      assertTrue(during != null, "while the tar layer downloaded, the build was listed with its bytes read so far");
      assertTrue(during.getLong("bytesDone") < during.getLong("bytesTotal"), during.encode());
      Http.Text waiting = first.get();
      assertEquals(429, waiting.status(), waiting.body());
      assertTrue(waiting.body().contains(" read, ") && waiting.body().contains(" written)"), "the 429 tells the "
          + "build's progress, not \"planning\": " + waiting.body());
    } finally {
      relay.throttle(-1);
    }
    assertEquals(200, untilBuilt(jitdi, "oci/slow-kit:v1")[1].status());
    JsonObject build = finishedBuild("oci/slow-kit:v1");
    long blobs = kit.blobs().entrySet().stream().filter(e -> !Digest.sha256Of(KITFILE).equals(e.getKey()))
        .mapToLong(e -> e.getValue().length).sum();
    assertEquals(blobs, build.getLong("bytesTotal"), build.encode());
    assertEquals(blobs, build.getLong("bytesDone"), "each tar read once: " + build.encode());
    assertEquals(model.length + readme.length, build.getLong("bytesWritten"), build.encode());
    Map<String, byte[]> got = layerFiles(jitdi, "oci/slow-kit:v1");
    assertArrayEquals(model, got.get("models/models/slow.gguf"));
    assertArrayEquals(readme, got.get("models/README.md"));
  }

  /** A kind of model blob, pushed fresh for each use, and where in it a byte is flipped. */
  enum Kind {
    OLLAMA_MODEL {
      @Override
      Corrupted push(DockerRegistry upstream) {
        byte[] model = ModelArtifacts.gguf(2 << 20, 701);
        Pushed p = ModelArtifacts.pushOllama(upstream, "library/flipped", "q4", model, "{{ .Prompt }}", "{}");
        return new Corrupted("ollama/flipped:q4", p, Digest.sha256Of(model), (1 << 20) + 17,
            Map.of("models/model.gguf", model));
      }
    },
    MODELPACK_RAW_LAYER {
      @Override
      Corrupted push(DockerRegistry upstream) {
        byte[] weights = Images.randomBytes(1 << 20, 702);
        byte[] config = "{\"hidden_size\":8}".getBytes(StandardCharsets.UTF_8);
        Pushed p = pack(upstream, "flipped-raw", List.of(
            new Layer(PACK + "weight.config.v1.raw", config, Map.of("org.cncf.model.filepath", "config.json")),
            new Layer(PACK + "weight.v1.raw", weights, Map.of("org.cncf.model.filepath", "model.safetensors"))));
        return new Corrupted("oci/flipped-raw:v1", p, Digest.sha256Of(weights), 300_001,
            Map.of("models/config.json", config, "models/model.safetensors", weights));
      }
    },
    MODELPACK_TAR_ZSTD_LAYER {
      @Override
      Corrupted push(DockerRegistry upstream) {
        byte[] data = Images.randomBytes(512 << 10, 703);
        byte[] layer = new Tar().file("data/eval.bin", data, 0644).zstd();
        Pushed p = pack(upstream, "flipped-zstd", List.of(new Layer(PACK + "dataset.v1.tar+zstd", layer)));
        return new Corrupted("oci/flipped-zstd:v1", p, Digest.sha256Of(layer), layer.length / 2,
            Map.of("models/data/eval.bin", data));
      }
    },
    KITOPS_TAR_LAYER {
      @Override
      Corrupted push(DockerRegistry upstream) {
        byte[] model = ModelArtifacts.gguf(1 << 20, 704);
        byte[] layer = new Tar().dir("models").file("models/tiny.gguf", model, 0644).tar();
        Pushed p = kit(upstream, "flipped-kit", List.of(new Layer(KIT + "model.v1.tar", layer)));
        // inside the model's content (after two 512-byte headers): the tar still parses; only its digest is wrong
        return new Corrupted("oci/flipped-kit:v1", p, Digest.sha256Of(layer), 1024 + 5000,
            Map.of("models/models/tiny.gguf", model));
      }
    },
    KITOPS_TAR_GZIP_LAYER {
      @Override
      Corrupted push(DockerRegistry upstream) {
        byte[] code = Images.randomBytes(256 << 10, 705);
        byte[] layer = new Tar().dir("src").file("src/serve.bin", code, 0755).gzip();
        Pushed p = kit(upstream, "flipped-kit-gzip", List.of(new Layer(KIT + "code.v1.tar+gzip", layer)));
        return new Corrupted("oci/flipped-kit-gzip:v1", p, Digest.sha256Of(layer), layer.length / 2,
            Map.of("models/src/serve.bin", code));
      }
    };

    abstract Corrupted push(DockerRegistry upstream);
  }

  /** An image whose source has blob {@code flipped}, to get a flipped byte at {@code offset} of its body. */
  record Corrupted(String image, Pushed artifact, Digest flipped, long offset, Map<String, byte[]> files) {}

  @ParameterizedTest
  @EnumSource(Kind.class)
  void aFlippedByteInAModelBlobFailsTheBuildAndNothingIsKept(Kind kind) throws Exception {
    Corrupted c = kind.push(upstream);
    Set<Path> before = blobFiles();
    relay.flipBodyByteOfNextGet("/blobs/" + c.flipped(), c.offset());
    Http.Text failed = untilBuilt(jitdi, c.image())[1];
    assertEquals(502, failed.status(), failed.body());
    assertTrue(failed.body().contains(c.flipped().toString()), "the answer names the blob: " + failed.body());

    // nothing of the build is kept: no layer, no config (so no manifest, which is stored after them), and not the
    // bad blob; the only new blobs are others of the artifact's own, fetched and verified
    Map<String, String> added = new TreeMap<>();
    for (Path file : blobFiles()) {
      if (!before.contains(file)) {
        Digest name = Digest.parse("sha256:" + file.getFileName());
        added.put(name.toString(), !c.artifact().blobs().containsKey(name) ? "not the artifact's"
            : name.equals(c.flipped()) ? "the flipped blob" : Digest.sha256Of(Files.readAllBytes(file)).equals(name)
            ? "verified" : "does not match its name");
      }
    }
    assertEquals(Set.of("verified"), added.isEmpty() ? Set.of("verified") : Set.copyOf(added.values()),
        "blobs the failed build left: " + added);
    try (Stream<Path> tmp = Files.list(jitdi.cacheDir().resolve("tmp"))) {
      assertEquals(List.of(), tmp.toList(), "nothing half-written in tmp/");
    }

    assertEquals(200, untilBuilt(jitdi, c.image())[1].status(), "once the fault is gone, the build succeeds");
    Map<String, byte[]> got = layerFiles(jitdi, c.image());
    c.files().forEach((name, bytes) -> assertArrayEquals(bytes, got.get(name), name));
    assertEquals(2, relay.requests("GET", "/blobs/" + c.flipped()), "the bad blob was fetched again");
  }

  static Pushed pack(DockerRegistry upstream, String name, List<Layer> layers) {
    return ModelArtifacts.push(upstream, "models/" + name, "v1", ModelArtifacts.OCI_MANIFEST,
        PACK + "manifest.v1+json", PACK + "config.v1+json", ("{\"descriptor\":{\"name\":\"" + name + "\"}}")
            .getBytes(StandardCharsets.UTF_8), layers);
  }

  static Pushed kit(DockerRegistry upstream, String name, List<Layer> layers) {
    return ModelArtifacts.push(upstream, "models/" + name, "v1", ModelArtifacts.OCI_MANIFEST, null,
        KIT + "config.v1+json", KITFILE, layers);
  }

  /** The newest finished build of {@code image} in {@code /_jitdi/builds}. */
  static JsonObject finishedBuild(String image) {
    return new JsonObject(Http.get(jitdi.url() + "/_jitdi/builds").body()).getJsonArray("builds").stream()
        .map(JsonObject.class::cast).filter(b -> b.getString("image").equals("jit.local/" + image)
            && b.getString("state").equals("done")).findFirst().orElseThrow();
  }

  /** A JIT image's layer: its digest and its entry names in order. */
  record Layered(String digest, List<String> entries) {}

  static Layered layer(String image) throws IOException {
    String repo = image.substring(0, image.indexOf(':'));
    Http.Text index = Http.get(jitdi.url() + "/v2/" + image.replace(":", "/manifests/") + "?ns=jit.local",
        Map.of("Accept", ACCEPT));
    String platform = new JsonObject(index.body()).getJsonArray("manifests").getJsonObject(0).getString("digest");
    String digest = JitIT.lastLayer(new JsonObject(Http.get(jitdi.url() + "/v2/" + repo + "/manifests/" + platform
        + "?ns=jit.local", Map.of("Accept", ACCEPT)).body())).getString("digest");
    List<String> names = new ArrayList<>();
    try (TarArchiveInputStream tar = new TarArchiveInputStream(new ByteArrayInputStream(Http.getBytes(jitdi.url()
        + "/v2/" + repo + "/blobs/" + digest + "?ns=jit.local", Map.of()).body()))) {
      for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
        names.add(e.getName());
      }
    }
    return new Layered(digest, names);
  }

  static Set<Path> blobFiles() throws IOException {
    try (Stream<Path> walk = Files.walk(jitdi.cacheDir().resolve("blobs"))) {
      return walk.filter(Files::isRegularFile).collect(Collectors.toSet());
    }
  }
}
