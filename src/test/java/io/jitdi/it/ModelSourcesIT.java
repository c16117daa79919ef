package io.jitdi.it;

import static io.jitdi.it.JitSourcesIT.layerFiles;
import static io.jitdi.it.JitSourcesIT.untilBuilt;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.it.ModelArtifacts.Layer;
import io.jitdi.it.ModelArtifacts.Pushed;
import io.jitdi.it.ModelArtifacts.Tar;
import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * JIT images from model sources: Ollama models, CNCF ModelPack and KitOps artifacts pushed into a real docker-registry
 * with their own media types, and Hugging Face repos from a server that answers as the Hub does. containerd runs an
 * image of each kind.
 */
class ModelSourcesIT {
  static final String TOKEN = "hf_gated_repo_token";
  static final String TEMPLATE = "{{ .System }}\nUSER: {{ .Prompt }}\nASSISTANT: ";
  static final String PARAMS = "{\"stop\":[\"USER:\"],\"temperature\":0.7}";

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static RedirectingFront ollamaRegistry;
  static HubServer hub;
  static Jitdi jitdi;
  static Pushed ollama;
  static byte[] ollamaModel;
  static Map<String, byte[]> hfFiles;
  static String hfFirstCommit;
  static Map<String, byte[]> packFiles = new LinkedHashMap<>();
  static Map<String, byte[]> kitFiles = new LinkedHashMap<>();
  /** The crafted artifacts' own blobs (config and tar), as the upstream holds them. */
  static Set<Digest> craftedBlobs = new java.util.HashSet<>();

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    Images.pushBusybox(upstream, "library/busybox", "latest");
    ollamaModel = ModelArtifacts.gguf(3 << 20, 11);
    ollama = ModelArtifacts.pushOllama(upstream, "library/tiny", "q4", ollamaModel, TEMPLATE, PARAMS);
    pushModelPack();
    pushModelKit();
    pushCraftedTars();
    // as registry.ollama.ai does: blob GETs answer 307 to a CDN on another origin
    ollamaRegistry = RedirectingFront.start(upstream.url(), null, d -> upstream.blobData(Digest.parse(d)));
    hub = HubServer.start();
    hfFiles = new LinkedHashMap<>();
    hfFiles.put("model.safetensors", Images.randomBytes(2 << 20, 12));
    hfFiles.put("config.json", "{\"architectures\":[\"LlamaForCausalLM\"]}".getBytes(StandardCharsets.UTF_8));
    hfFiles.put("tokenizer.json", "{\"version\":\"1.0\"}".getBytes(StandardCharsets.UTF_8));
    hfFiles.put("tokenizer_config.json", "{}".getBytes(StandardCharsets.UTF_8));
    hfFiles.put("sub/generation_config.json", "{\"do_sample\":true}".getBytes(StandardCharsets.UTF_8));
    hfFiles.put("README.md", "# tiny".getBytes(StandardCharsets.UTF_8));
    hfFiles.put("pytorch_model.bin", Images.randomBytes(4096, 13));
    hfFirstCommit = hub.publish("acme/tiny-llm", "main", hfFiles);
    hub.gate("acme/tiny-llm", TOKEN);
    hub.publish("acme/flaky", "main", Map.of("model.safetensors", Images.randomBytes(1 << 20, 14)));
    hub.publish("acme/flakygit", "main", Map.of("config.json", FLAKY_GIT_FILE));
    jitdi = Jitdi.startWithEnv(dir.resolve("jitdi"), """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 1GiB, manifestTtl: 0}
        upstreams:
          docker.io: {url: "%1$s"}
          registry.ollama.ai: {url: "%2$s"}
          models.example.com: {url: "%1$s"}
        jit:
          ttl: 0
          waitBudget: 20s
        images:
          - name: ollama
            match: "ollama/{model}:{tag}"
            registry: jit.local
            files: [{ollama: "registry.ollama.ai/library/{model}:{tag}", destination: /root/.ollama/models/}]
          - name: gguf
            match: "gguf/{model}:{tag}"
            registry: jit.local
            files: [{ollama: "{model}:{tag}", layout: files, destination: "/models/{model}/"}]
          - name: hf
            match: "hf/{org}/{repo}:{rev}"
            registry: jit.local
            files:
              - huggingface: {repo: "{org}/{repo}", revision: "{rev}", include: ["*.safetensors", "*.json", "tokenizer*"]}
                destination: "/models/{repo}/"
          - name: oci
            match: "oci/{name}:{tag}"
            registry: jit.local
            files: [{oci: "models.example.com/models/{name}:{tag}", destination: "/models/{name}/"}]
          - name: run-ollama
            match: "run/ollama/{model}:{tag}"
            registry: jit.local
            base: docker.io/library/busybox:latest
            files: [{ollama: "{model}:{tag}", destination: /root/.ollama/models/}]
          - name: run-hf
            match: "run/hf/{org}/{repo}:{rev}"
            registry: jit.local
            base: docker.io/library/busybox:latest
            files: [{huggingface: {repo: "{org}/{repo}", revision: "{rev}", exclude: ["*.bin"]}, destination: /models/}]
          - name: run-oci
            match: "run/oci/{name}:{tag}"
            registry: jit.local
            base: docker.io/library/busybox:latest
            files: [{oci: "models.example.com/models/{name}:{tag}", destination: "/models/{name}/"}]
        """.formatted(upstream.url(), ollamaRegistry.url()), Map.of("HF_ENDPOINT", hub.endpoint(), "HF_TOKEN", TOKEN));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(jitdi, hub, ollamaRegistry, upstream);
  }

  static void pushModelPack() {
    byte[] weights = Images.randomBytes(1 << 20, 21);
    byte[] weightConfig = "{\"hidden_size\":64}".getBytes(StandardCharsets.UTF_8);
    byte[] readme = "# tiny-pack".getBytes(StandardCharsets.UTF_8);
    byte[] guide = "how to run".getBytes(StandardCharsets.UTF_8);
    byte[] run = "#!/bin/sh\necho run\n".getBytes(StandardCharsets.UTF_8);
    byte[] eval = "{\"q\":\"2+2\",\"a\":\"4\"}\n".getBytes(StandardCharsets.UTF_8);
    String p = "application/vnd.cncf.model.";
    ModelArtifacts.push(upstream, "models/tiny-pack", "v1", ModelArtifacts.OCI_MANIFEST,
        "application/vnd.cncf.model.manifest.v1+json", p + "config.v1+json",
        "{\"descriptor\":{\"name\":\"tiny-pack\"},\"config\":{\"format\":\"safetensors\"}}".getBytes(
            StandardCharsets.UTF_8),
        List.of(new Layer(p + "weight.v1.raw", weights, Map.of("org.cncf.model.filepath", "model.safetensors")),
            new Layer(p + "weight.config.v1.raw", weightConfig, Map.of("org.cncf.model.filepath", "config.json")),
            new Layer(p + "doc.v1.tar", new Tar().file("README.md", readme, 0644).dir("docs/")
                .file("docs/guide.md", guide, 0644).tar()),
            new Layer(p + "code.v1.tar+gzip", new Tar().dir("src/").file("src/run.sh", run, 0755).gzip()),
            new Layer(p + "dataset.v1.tar+zstd", new Tar().file("data/eval.jsonl", eval, 0644).zstd())));
    packFiles.put("model.safetensors", weights);
    packFiles.put("config.json", weightConfig);
    packFiles.put("README.md", readme);
    packFiles.put("docs/guide.md", guide);
    packFiles.put("src/run.sh", run);
    packFiles.put("data/eval.jsonl", eval);
  }

  static void pushModelKit() {
    byte[] model = ModelArtifacts.gguf(1 << 20, 31);
    byte[] readme = "# tiny-kit".getBytes(StandardCharsets.UTF_8);
    byte[] serve = "print('serve')\n".getBytes(StandardCharsets.UTF_8);
    String k = "application/vnd.kitops.modelkit.";
    ModelArtifacts.push(upstream, "models/tiny-kit", "v1", ModelArtifacts.OCI_MANIFEST, null, k + "config.v1+json",
        ("{\"manifestVersion\":\"1.0.0\",\"package\":{\"name\":\"tiny-kit\"},\"model\":{\"name\":\"tiny\","
            + "\"path\":\"models/tiny.gguf\"},\"code\":[{\"path\":\"src\"}],\"docs\":[{\"path\":\"README.md\"}]}")
            .getBytes(StandardCharsets.UTF_8),
        List.of(new Layer(k + "model.v1.tar", new Tar().dir("models").file("models/tiny.gguf", model, 0644).tar()),
            new Layer(k + "code.v1.tar+gzip", new Tar().dir("src").file("src/serve.py", serve, 0755).gzip()),
            new Layer(k + "docs.v1.tar+gzip", new Tar().file("README.md", readme, 0644).gzip())));
    kitFiles.put("models/tiny.gguf", model);
    kitFiles.put("src/serve.py", serve);
    kitFiles.put("README.md", readme);
  }

  static void pushCraftedTars() {
    String k = "application/vnd.kitops.modelkit.";
    byte[] kitfile = "{\"manifestVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8);
    craftedBlobs.addAll(ModelArtifacts.push(upstream, "models/dotdot", "v1", ModelArtifacts.OCI_MANIFEST, null,
        k + "config.v1+json", kitfile, List.of(new Layer(k + "model.v1.tar", new Tar().file("models/../../../escaped",
            new byte[] {1}, 0644).tar()))).blobs().keySet());
    craftedBlobs.addAll(ModelArtifacts.push(upstream, "models/symlink", "v1", ModelArtifacts.OCI_MANIFEST, null,
        k + "config.v1+json", kitfile, List.of(new Layer(k + "model.v1.tar", new Tar().dir("models").symlink(
            "models/passwd", "../../../../etc/passwd").tar()))).blobs().keySet());
  }

  @Test
  void anOllamaModelIsLaidOutAsOllamaPullLeavesIt() throws Exception {
    Map<String, byte[]> files = layerFiles(jitdi, "ollama/tiny:q4");
    String root = "root/.ollama/models/";
    assertArrayEquals(ollama.manifest(), files.get(root + "manifests/registry.ollama.ai/library/tiny/q4"),
        "the manifest exactly as the registry sent it");
    for (Map.Entry<Digest, byte[]> blob : ollama.blobs().entrySet()) {
      assertArrayEquals(blob.getValue(), files.get(root + "blobs/sha256-" + blob.getKey().hex()),
          "config and every layer under blobs/sha256-<hex>");
    }
    assertEquals(1 + ollama.blobs().size(), files.size(), files.keySet().toString());

    Map<String, byte[]> plain = layerFiles(jitdi, "gguf/tiny:q4");
    assertEquals(Set.of("models/tiny/model.gguf", "models/tiny/template", "models/tiny/params.json"),
        plain.keySet());
    assertArrayEquals(ollamaModel, plain.get("models/tiny/model.gguf"));
    assertEquals(TEMPLATE, new String(plain.get("models/tiny/template"), StandardCharsets.UTF_8));
    Digest model = Digest.sha256Of(ollamaModel);
    assertEquals(1, ollamaRegistry.cdnGets(model), "two layouts, two builds, one download of the model, "
        + "through the registry's 307 to its CDN");
    assertEquals(0, upstream.blobGets("library/tiny", model), "the registry itself served no blob");
  }

  @Test
  void aNewOllamaManifestUnderTheSameTagGivesANewImage() {
    ModelArtifacts.pushOllama(upstream, "library/moving", "latest", ModelArtifacts.gguf(64 << 10, 41), TEMPLATE,
        PARAMS);
    String first = untilBuilt(jitdi, "ollama/moving:latest")[1].header("Docker-Content-Digest");
    assertEquals(first, untilBuilt(jitdi, "ollama/moving:latest")[1].header("Docker-Content-Digest"));
    ModelArtifacts.pushOllama(upstream, "library/moving", "latest", ModelArtifacts.gguf(64 << 10, 42), TEMPLATE,
        PARAMS);
    assertNotEquals(first, untilBuilt(jitdi, "ollama/moving:latest")[1].header("Docker-Content-Digest"),
        "the build key holds the Ollama manifest digest (the tag is revalidated after cache.manifestTtl)");
  }

  @Test
  void huggingFaceFilesAreSelectedVerifiedResumedAndPinnedToTheCommit() throws Exception {
    hub.cutOnce(hfFiles.get("model.safetensors"), 700_000);
    Http.Text built = untilBuilt(jitdi, "hf/acme/tiny-llm:main")[1];
    assertEquals(200, built.status(), built.body());
    Map<String, byte[]> files = layerFiles(jitdi, "hf/acme/tiny-llm:main");
    assertEquals(Set.of("models/tiny-llm/model.safetensors", "models/tiny-llm/config.json",
        "models/tiny-llm/tokenizer.json", "models/tiny-llm/tokenizer_config.json",
        "models/tiny-llm/sub/generation_config.json"), files.keySet(), "include patterns as allow_patterns match");
    for (String name : List.of("model.safetensors", "config.json", "sub/generation_config.json")) {
      assertArrayEquals(hfFiles.get(name), files.get("models/tiny-llm/" + name), name);
    }
    List<HubServer.Request> requests = hub.requests();
    assertTrue(requests.stream().anyMatch(r -> r.server().equals("cdn") && r.range() != null),
        "the cut download was resumed with Range at the CDN: " + requests);
    assertTrue(requests.stream().anyMatch(r -> r.path().contains("/tree/" + hfFirstCommit) && r.path().contains(
        "cursor=")), "listed at the commit, page after page");
    assertTrue(requests.stream().filter(r -> r.server().equals("hub")).allMatch(r -> ("Bearer " + TOKEN).equals(
        r.authorization())), "the gated repo gets the token");
    assertTrue(requests.stream().filter(r -> r.server().equals("cdn")).allMatch(r -> r.authorization() == null),
        "the CDN, another origin, never sees the token");
    assertTrue(requests.stream().noneMatch(r -> r.path().contains("/resolve/main/")), "files are fetched by commit");

    Map<String, byte[]> changed = new HashMap<>(hfFiles);
    changed.put("config.json", "{\"architectures\":[\"Changed\"]}".getBytes(StandardCharsets.UTF_8));
    hub.publish("acme/tiny-llm", "main", changed);
    String moved = untilBuilt(jitdi, "hf/acme/tiny-llm:main")[1].header("Docker-Content-Digest");
    assertNotEquals(built.header("Docker-Content-Digest"), moved, "main moved to a new commit: a new image");
    assertEquals(built.header("Docker-Content-Digest"), untilBuilt(jitdi, "hf/acme/tiny-llm:" + hfFirstCommit)[1]
        .header("Docker-Content-Digest"), "the first commit by id is the first image again");
  }

  @Test
  void aCorruptedByteFromTheHubFailsTheBuild() throws Exception {
    byte[] weights = Images.randomBytes(1 << 20, 14);
    hub.corruptOnce(weights);
    Http.Text failed = untilBuilt(jitdi, "hf/acme/flaky:main")[1];
    assertEquals(502, failed.status(), failed.body());
    assertTrue(failed.body().contains("sha256") && failed.body().contains("model.safetensors"), failed.body());
    assertEquals(200, untilBuilt(jitdi, "hf/acme/flaky:main")[1].status(), "a failed build is not remembered");
    assertArrayEquals(weights, layerFiles(jitdi, "hf/acme/flaky:main").get("models/flaky/model.safetensors"));
  }

  static final byte[] FLAKY_GIT_FILE = "{\"flaky\":\"git\"}".getBytes(StandardCharsets.UTF_8);

  @Test
  void aCorruptedByteInAGitFileFromTheHubFailsTheBuild() {
    hub.corruptOnce(FLAKY_GIT_FILE);
    Http.Text failed = untilBuilt(jitdi, "hf/acme/flakygit:main")[1];
    assertEquals(502, failed.status(), failed.body());
    assertTrue(failed.body().contains("git blob id") && failed.body().contains("config.json"), failed.body());
    assertEquals(200, untilBuilt(jitdi, "hf/acme/flakygit:main")[1].status(), "a failed build is not remembered");
  }

  @Test
  void modelPackRawAndTarLayersBecomeFiles() throws Exception {
    Map<String, byte[]> files = layerFiles(jitdi, "oci/tiny-pack:v1");
    Map<String, byte[]> expected = new HashMap<>();
    packFiles.forEach((k, v) -> expected.put("models/tiny-pack/" + k, v));
    assertEquals(expected.keySet(), files.keySet());
    expected.forEach((k, v) -> assertArrayEquals(v, files.get(k), k));
  }

  @Test
  void aKitOpsModelKitBecomesFiles() throws Exception {
    Map<String, byte[]> files = layerFiles(jitdi, "oci/tiny-kit:v1");
    Map<String, byte[]> expected = new HashMap<>();
    kitFiles.forEach((k, v) -> expected.put("models/tiny-kit/" + k, v));
    assertEquals(expected.keySet(), files.keySet());
    expected.forEach((k, v) -> assertArrayEquals(v, files.get(k), k));
  }

  @Test
  void tarsThatWouldEscapeTheDestinationAreRefused() throws Exception {
    Set<Path> blobsBefore = cachedBlobFiles();
    Http.Text dotdot = untilBuilt(jitdi, "oci/dotdot:v1")[1];
    Http.Text symlink = untilBuilt(jitdi, "oci/symlink:v1")[1];

    // jitdi builds layers, it never extracts them: what it produced is whatever blobs the builds added to the cache.
    // Only the artifacts' own blobs, fetched from the upstream as they are, may be new; no layer of jitdi's making,
    // and so no layer that carries the escaping entries.
    Map<Path, List<String>> produced = new java.util.TreeMap<>();
    for (Path blob : cachedBlobFiles()) {
      if (!blobsBefore.contains(blob) && !craftedBlobs.contains(Digest.parse("sha256:" + blob.getFileName()))) {
        produced.put(blob, tarEntries(blob));
      }
    }
    assertEquals(Map.of(), produced, "blobs (and their tar entries) the refused builds produced");
    assertEquals(502, dotdot.status(), dotdot.body());
    assertTrue(dotdot.body().contains("refused") && dotdot.body().contains("models/../../../escaped"), dotdot.body());
    assertEquals(502, symlink.status(), symlink.body());
    assertTrue(symlink.body().contains("refused") && symlink.body().contains("outside the layer"), symlink.body());
    assertEquals(502, untilBuilt(jitdi, "oci/dotdot:v1")[1].status(), "asked again: still refused, no image kept");
  }

  private static Set<Path> cachedBlobFiles() throws java.io.IOException {
    Path blobs = jitdi.cacheDir().resolve("blobs");
    try (java.util.stream.Stream<Path> walk = Files.walk(blobs)) {
      return walk.filter(Files::isRegularFile).collect(java.util.stream.Collectors.toSet());
    }
  }

  /** The entry names (and link targets) of a tar, gzip'd tar or zstd'd tar; "(not a tar)" for other bytes. */
  private static List<String> tarEntries(Path blob) {
    List<String> names = new java.util.ArrayList<>();
    try (java.io.InputStream raw = new java.io.BufferedInputStream(Files.newInputStream(blob))) {
      raw.mark(4);
      int b0 = raw.read();
      int b1 = raw.read();
      raw.reset();
      java.io.InputStream in = b0 == 0x1f && b1 == 0x8b ? new java.util.zip.GZIPInputStream(raw)
          : b0 == 0x28 && b1 == 0xb5 ? new com.github.luben.zstd.ZstdInputStream(raw) : raw;
      try (org.apache.commons.compress.archivers.tar.TarArchiveInputStream tar =
          new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(in)) {
        org.apache.commons.compress.archivers.tar.TarArchiveEntry e;
        while ((e = tar.getNextEntry()) != null) {
          names.add(e.isSymbolicLink() ? e.getName() + " -> " + e.getLinkName() : e.getName());
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      names.add("(not a tar: " + e.getMessage() + ")");
    }
    return names;
  }

  @Test
  void resolveListsTheFilesOfEachSourceWithSizes() {
    Proc.Result ollamaPlan = jitdi.cli("resolve", "jit.local/ollama/tiny:q4");
    assertEquals(0, ollamaPlan.exit(), ollamaPlan.output());
    assertTrue(ollamaPlan.output().contains("blobs/sha256-" + Digest.sha256Of(ollamaModel).hex() + " ("
        + ollamaModel.length + " bytes)"), ollamaPlan.output());
    assertTrue(ollamaPlan.output().contains("manifests/registry.ollama.ai/library/tiny/q4 (" + ollama.manifest().length
        + " bytes)"), ollamaPlan.output());
    Proc.Result hfPlan = jitdi.cli("resolve", "jit.local/hf/acme/tiny-llm:" + hfFirstCommit);
    assertEquals(0, hfPlan.exit(), hfPlan.output());
    assertTrue(hfPlan.output().contains("model.safetensors (" + (2 << 20) + " bytes)"), hfPlan.output());
    assertFalse(hfPlan.output().contains("README.md"), hfPlan.output());
    Proc.Result packPlan = jitdi.cli("resolve", "jit.local/oci/tiny-pack:v1");
    assertEquals(0, packPlan.exit(), packPlan.output());
    assertTrue(packPlan.output().contains("model.safetensors (" + (1 << 20) + " bytes)"), packPlan.output());
    assertTrue(packPlan.output().contains("its files are listed once it is fetched"), packPlan.output());
  }

  @Test
  void containerdRunsAnImageOfEachSourceKind() {
    try (Containerd containerd = Containerd.start(dir.resolve("ctrd"))) {
      containerd.mirror("jit.local", jitdi.url(), Ports.deadEnd());
      String ollamaImage = "jit.local/run/ollama/tiny:q4";
      containerd.pull(ollamaImage);
      String model = Digest.sha256Of(ollamaModel).hex();
      String out = containerd.run(ollamaImage, "model-ollama", "/bin/sha256sum",
          "/root/.ollama/models/blobs/sha256-" + model);
      assertTrue(out.startsWith(model), out);
      out = containerd.run(ollamaImage, "model-ollama-manifest", "/bin/cat",
          "/root/.ollama/models/manifests/registry.ollama.ai/library/tiny/q4");
      assertEquals(new String(ollama.manifest(), StandardCharsets.UTF_8), out.strip());

      String hfImage = "jit.local/run/hf/acme/tiny-llm:" + hfFirstCommit;
      containerd.pull(hfImage);
      out = containerd.run(hfImage, "model-hf", "/bin/sha256sum", "/models/model.safetensors");
      assertTrue(out.startsWith(Digest.sha256Of(hfFiles.get("model.safetensors")).hex()), out);
      out = containerd.run(hfImage, "model-hf-ls", "/bin/ls", "/models");
      assertFalse(out.contains("pytorch_model.bin"), "excluded: " + out);
      assertTrue(out.contains("README.md"), out);

      for (String name : List.of("tiny-pack", "tiny-kit")) {
        String image = "jit.local/run/oci/" + name + ":v1";
        containerd.pull(image);
        Map<String, byte[]> expected = name.equals("tiny-pack") ? packFiles : kitFiles;
        String file = name.equals("tiny-pack") ? "model.safetensors" : "models/tiny.gguf";
        out = containerd.run(image, "model-" + name, "/bin/sha256sum", "/models/" + name + "/" + file);
        assertTrue(out.startsWith(Digest.sha256Of(expected.get(file)).hex()), out);
        String script = name.equals("tiny-pack") ? "src/run.sh" : "src/serve.py";
        out = containerd.run(image, "model-" + name + "-mode", "/bin/ls", "-l", "/models/" + name + "/" + script);
        assertTrue(out.startsWith("-rwxr-xr-x"), "a script keeps its mode: " + out);
      }
    }
  }

  @Test
  void anOllamaModelLayerIsBuiltWhileTheModelDownloads() throws Exception {
    byte[] model = ModelArtifacts.gguf(24 << 20, 31);
    Pushed big = ModelArtifacts.pushOllama(upstream, "library/streamed", "q4", model, TEMPLATE, PARAMS);
    Digest modelDigest = Digest.sha256Of(model);
    try (FaultRelay slow = FaultRelay.to(upstream.port()).throttle(6L << 20);
        Jitdi streaming = Jitdi.start(dir.resolve("streaming"), OLLAMA_NODE + ollamaRule(slow.url()) + GGUF_RULE + """
              - name: gguf-again
                match: "gguf-again/{model}:{tag}"
                registry: jit.local
                files: [{ollama: "registry.ollama.ai/library/{model}:{tag}", layout: files, destination: /m/}]
            """)) {
      long writtenBefore = bytesWrittenBy(streaming);
      java.util.concurrent.CompletableFuture<Http.Text> answer = manifestLater(streaming, "ollama/streamed:q4");
      boolean overlapped = false;
      while (!answer.isDone() && !overlapped) {
        io.vertx.core.json.JsonObject status = new io.vertx.core.json.JsonObject(
            Http.get(streaming.url() + "/_jitdi/status").body());
        boolean filling = status.getJsonArray("fills").stream().map(f -> (io.vertx.core.json.JsonObject) f)
            .anyMatch(f -> f.getString("digest").equals(modelDigest.toString()) && f.getLong("bytes") < model.length);
        long built = status.getJsonArray("builds").stream().map(b -> (io.vertx.core.json.JsonObject) b)
            .mapToLong(b -> b.getLong("bytesDone", 0L)).sum();
        overlapped = filling && built > 0;
        Proc.sleep(50);
      }
      assertTrue(overlapped, "the layer was being written while the model was still downloading");
      assertEquals(200, answer.get().status(), answer.get().body());
      long written = bytesWrittenBy(streaming) - writtenBefore;
      assertTrue(written < model.length * 1.5, "the model was written once, into its layer: jitdi wrote " + written
          + " bytes for a " + model.length + "-byte model");
      assertEquals(1, slow.requests("GET", "/blobs/" + modelDigest), "the model was fetched once");
      assertArrayEquals(model, layerFiles(streaming, "ollama/streamed:q4").get(
          "root/.ollama/models/blobs/sha256-" + modelDigest.hex()));

      // stored once: the layer holds the model's bytes, and the raw blob that only served the build is gone
      Path raw = storedBlob(streaming, modelDigest);
      assertFalse(Files.exists(raw), "the raw model blob is not kept beside its layer");
      long stored = streaming.bytesUnder("blobs");
      assertTrue(stored <= model.length * 1.05, "the cache holds the model once: " + stored + " bytes for a "
          + model.length + "-byte model");
      // another image of the same model reads it from the first one's layer, verified: no second download
      Map<String, byte[]> gguf = layerFiles(streaming, "gguf/streamed:q4");
      assertArrayEquals(model, gguf.values().stream().filter(b -> b.length == model.length).findFirst()
          .orElseThrow(), "the model's bytes, read back from the first layer");
      assertEquals(1, slow.requests("GET", "/blobs/" + modelDigest), "still one download of the model");


      // bytes that rotted in the layer the model is now read from (the newest build's) fail the next build that
      // reads them, rather than make a wrong image
      String platform = new io.vertx.core.json.JsonObject(Http.get(streaming.url()
          + "/v2/gguf/streamed/manifests/q4?ns=jit.local", Map.of("Accept", JitSourcesIT.ACCEPT)).body())
          .getJsonArray("manifests").getJsonObject(0).getString("digest");
      String layerDigest = JitIT.lastLayer(new io.vertx.core.json.JsonObject(Http.get(streaming.url()
          + "/v2/gguf/streamed/manifests/" + platform + "?ns=jit.local", Map.of("Accept", JitSourcesIT.ACCEPT))
          .body())).getString("digest");
      Path layerFile = streaming.cacheDir().resolve("blobs/sha256/" + layerDigest.substring(7, 9) + "/"
          + layerDigest.substring(7));
      try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(layerFile,
          java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
        long at = ch.size() / 2;
        java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
        ch.read(one, at);
        one.put(0, (byte) (one.get(0) ^ 0x01)).rewind();
        ch.write(one, at);
      }
      Http.Text[] rotted = JitSourcesIT.untilBuilt(streaming, "gguf-again/streamed:q4");
      assertEquals(502, rotted[1].status(), rotted[1].body());
      assertTrue(rotted[1].body().contains(modelDigest.toString()), rotted[1].body());

      // a client that asks for the model itself now is never given the rotted bytes as a clean answer: the check
      // of the layer's bytes fails its last byte (curl sees the transfer cut), and the next pull fetches the model
      // again (curl: a new connection each)
      String modelUrl = streaming.url() + "/v2/library/streamed/blobs/" + modelDigest + "?ns=registry.ollama.ai";
      Path pulled = dir.resolve("pulled-model");
      Proc.Result rottedPull = Proc.exec(java.time.Duration.ofMinutes(1), Map.of(), List.of("curl", "-sS", "-f",
          "-o", pulled.toString(), modelUrl));
      assertNotEquals(0, rottedPull.exit(), "the rotted bytes end broken: " + rottedPull.output());
      Proc.Result goodPull = Proc.exec(java.time.Duration.ofMinutes(1), Map.of(), List.of("curl", "-sS", "-f",
          "-o", pulled.toString(), modelUrl));
      assertEquals(0, goodPull.exit(), goodPull.output());
      assertEquals(modelDigest, Digest.sha256Of(Files.readAllBytes(pulled)));
      assertEquals(2, slow.requests("GET", "/blobs/" + modelDigest), "fetched again once its layer's bytes failed");
    }
  }

  /**
   * A model whose raw blob and built layer do not fit the budget together, but its layer alone does, still builds:
   * the layer's reservation goes past the budget for the build (eviction cannot take the blob the build reads), then
   * the raw blob is dropped and the cache is back within budget, holding the model once. A model too big for the
   * budget on its own fails with an error that says what to change, and leaves nothing.
   */
  @Test
  void aModelThatFitsTheBudgetOnlyOnceStillBuildsAndIsThenStoredOnce() throws Exception {
    byte[] model = ModelArtifacts.gguf(24 << 20, 47);
    ModelArtifacts.pushOllama(upstream, "library/tight", "q4", model, TEMPLATE, PARAMS);
    Digest modelDigest = Digest.sha256Of(model);
    String rules = ollamaRule(upstream.url());
    long budget = 40L << 20; // the model once (24 MiB) fits, twice does not
    try (Jitdi tight = Jitdi.start(dir.resolve("tight"), "server: {listen: 127.0.0.1:PORT}\n"
        + "cache: {dir: CACHE_DIR, maxSize: 40MiB}\n" + rules)) {
      Http.Text built = Http.get(tight.url() + "/v2/ollama/tight/manifests/q4?ns=jit.local",
          Map.of("Accept", JitSourcesIT.ACCEPT));
      assertEquals(200, built.status(), built.body());
      assertArrayEquals(model, layerFiles(tight, "ollama/tight:q4").get(
          "root/.ollama/models/blobs/sha256-" + modelDigest.hex()), "the model is in the layer");
      Path raw = storedBlob(tight, modelDigest);
      assertFalse(Files.exists(raw), "the raw model blob is not kept beside its layer");
      long used = new io.vertx.core.json.JsonObject(Http.get(tight.url() + "/_jitdi/status").body())
          .getJsonObject("cache").getLong("usedBytes");
      assertTrue(used <= budget, "back within the budget after the build: " + used + " of " + budget + " bytes");
      assertTrue(tight.bytesUnder("blobs") <= model.length * 1.05, "the model once: " + tight.bytesUnder("blobs"));
    }
    try (Jitdi tooSmall = Jitdi.start(dir.resolve("too-small"), "server: {listen: 127.0.0.1:PORT}\n"
        + "cache: {dir: CACHE_DIR, maxSize: 16MiB}\n" + rules)) {
      Http.Text refused = JitSourcesIT.untilBuilt(tooSmall, "ollama/tight:q4")[1];
      assertEquals(502, refused.status(), refused.body());
      assertTrue(refused.body().contains("cache.maxSize"), "says what to change: " + refused.body());
      assertTrue(tooSmall.bytesUnder("blobs") < model.length, "the model is not kept: "
          + tooSmall.bytesUnder("blobs"));
    }
  }

  /**
   * Once a build removed the raw model blob (its layer holds the bytes), a client's own pull of the model is answered
   * from the layer, hashed again as it is sent: whole, as a range and its size, with no second download and without
   * storing the model again.
   */
  @Test
  void aClientsPullOfAModelKeptOnlyInItsLayerIsAnsweredFromTheLayer() throws Exception {
    byte[] model = ModelArtifacts.gguf(12 << 20, 53);
    ModelArtifacts.pushOllama(upstream, "library/kept", "q4", model, TEMPLATE, PARAMS);
    Digest modelDigest = Digest.sha256Of(model);
    try (FaultRelay counting = FaultRelay.to(upstream.port());
        Jitdi kept = Jitdi.start(dir.resolve("kept"), OLLAMA_NODE + ollamaRule(counting.url()))) {
      assertEquals(200, JitSourcesIT.untilBuilt(kept, "ollama/kept:q4")[1].status());
      Path raw = storedBlob(kept, modelDigest);
      assertFalse(Files.exists(raw), "the build removed the raw model blob");
      long stored = kept.bytesUnder("blobs");

      String modelUrl = kept.url() + "/v2/library/kept/blobs/" + modelDigest + "?ns=registry.ollama.ai";
      Http.Streamed whole = Http.stream(modelUrl);
      assertEquals(200, whole.status());
      assertFalse(whole.broken());
      assertEquals(modelDigest, whole.digest(), "the model's bytes, from its layer");
      Http.Bytes range = Http.getBytes(modelUrl, Map.of("Range", "bytes=1000-1999999"));
      assertEquals(206, range.status());
      assertArrayEquals(java.util.Arrays.copyOfRange(model, 1000, 2_000_000), range.body());
      // HTTP/1.1 (curl): the layer's range by sendfile; the JDK client above spoke HTTP/2 (read and written)
      Path pulled = dir.resolve("kept-model");
      Proc.Result curl = Proc.exec(java.time.Duration.ofMinutes(1), Map.of(), List.of("curl", "-sS", "-f",
          "--http1.1", "-o", pulled.toString(), modelUrl));
      assertEquals(0, curl.exit(), curl.output());
      assertEquals(modelDigest, Digest.sha256Of(Files.readAllBytes(pulled)), "over HTTP/1.1");
      curl = Proc.exec(java.time.Duration.ofMinutes(1), Map.of(), List.of("curl", "-sS", "-f", "--http1.1", "-r",
          "5000000-5999999", "-o", pulled.toString(), modelUrl));
      assertEquals(0, curl.exit(), curl.output());
      assertArrayEquals(java.util.Arrays.copyOfRange(model, 5_000_000, 6_000_000), Files.readAllBytes(pulled));
      Http.Text head = Http.head(modelUrl, Map.of());
      assertEquals(200, head.status());
      assertEquals(String.valueOf(model.length), head.headers().firstValue("Content-Length").orElse(""));

      assertEquals(1, counting.requests("GET", "/blobs/" + modelDigest), "the model was downloaded once, for the "
          + "build");
      assertEquals(0, counting.requests("HEAD", "/blobs/" + modelDigest), "its size was not asked upstream");
      assertFalse(Files.exists(raw), "the model is not stored a second time");
      assertEquals(stored, kept.bytesUnder("blobs"));
    }
  }

  /**
   * A tar model (a KitOps ModelKit: an uncompressed tar and a gzip tar) is kept once: the build removes the tar blobs
   * once its layer holds their files; and another image of the same files on another base reuses that layer without
   * reading (or fetching) the tars again.
   */
  @Test
  void aTarModelIsKeptOnceAndAnotherImageOfTheSameFilesReusesItsLayer() throws Exception {
    Images.pushBusybox(upstream, "library/busybox-again", "latest");
    byte[] weights = Images.randomBytes(8 << 20, 57);
    byte[] code = Images.randomBytes(2 << 20, 58);
    String k = "application/vnd.kitops.modelkit.";
    Pushed kit = ModelArtifacts.push(upstream, "models/kept-kit", "v1", ModelArtifacts.OCI_MANIFEST,
        null, k + "config.v1+json", "{\"manifestVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8),
        List.of(new Layer(k + "model.v1.tar", new Tar().dir("models").file("models/w.gguf", weights, 0644).tar()),
            new Layer(k + "code.v1.tar+gzip", new Tar().dir("src").file("src/blob.bin", code, 0644).gzip())));
    List<Digest> tars = kit.blobs().entrySet().stream().filter(e -> e.getValue().length > (1 << 20))
        .map(Map.Entry::getKey).toList();
    assertEquals(2, tars.size());
    try (FaultRelay counting = FaultRelay.to(upstream.port());
        Jitdi once = Jitdi.start(dir.resolve("kept-kit"), """
            server: {listen: 127.0.0.1:PORT}
            cache: {dir: CACHE_DIR, maxSize: 1GiB}
            upstreams:
              docker.io: {url: "%1$s"}
              models.example.com: {url: "%1$s"}
            jit: {waitBudget: 60s}
            images:
              - name: kit
                match: "kit/{base}/{name}:{tag}"
                registry: jit.local
                base: "docker.io/library/{base}:latest"
                files: [{oci: "models.example.com/models/{name}:{tag}", destination: /models/}]
            """.formatted(counting.url()))) {
      assertEquals(200, JitSourcesIT.untilBuilt(once, "kit/busybox/kept-kit:v1")[1].status());
      JsonObject first = platformManifest(once, "kit/busybox/kept-kit:v1");
      JsonObject layer = JitIT.lastLayer(first);
      Map<String, byte[]> files = JitIT.tarFiles(new java.io.ByteArrayInputStream(Http.getBytes(once.url()
          + "/v2/x/blobs/" + layer.getString("digest") + "?ns=jit.local", Map.of()).body()), new HashMap<>());
      assertArrayEquals(weights, files.get("models/models/w.gguf"), files.keySet().toString());
      assertArrayEquals(code, files.get("models/src/blob.bin"));
      for (Digest tar : tars) {
        assertEquals(1, counting.requests("GET", "/blobs/" + tar), "each tar fetched once");
        assertFalse(Files.exists(storedBlob(once, tar)), "the tar blob " + tar + " is not kept beside the layer "
            + "holding its files");
      }
      long modelBytes = weights.length + code.length;
      assertTrue(layer.getLong("size") <= modelBytes * 1.05, "the layer: " + layer.getLong("size"));
      long base = first.getJsonObject("config").getLong("size") + first.getJsonArray("layers").stream()
          .map(l -> (JsonObject) l).filter(l -> !l.equals(layer)).mapToLong(l -> l.getLong("size")).sum();
      long stored = once.bytesUnder("blobs");
      assertTrue(stored <= base + modelBytes * 1.05, "the cache holds the model once: " + stored + " bytes for "
          + modelBytes + " bytes of model files and " + base + " of base image");

      // the same files on another base: the layer is reused, nothing is read, written or fetched for it
      double written = once.metrics().value("jitdi_jit_build_bytes_total");
      assertEquals(200, JitSourcesIT.untilBuilt(once, "kit/busybox-again/kept-kit:v1")[1].status());
      assertEquals(written, once.metrics().value("jitdi_jit_build_bytes_total"), "no layer written again");
      JsonObject second = platformManifest(once, "kit/busybox-again/kept-kit:v1");
      assertEquals(layer.getString("digest"), JitIT.lastLayer(second).getString("digest"));
      for (Digest tar : tars) {
        assertEquals(1, counting.requests("GET", "/blobs/" + tar), "not fetched again for the second image");
      }
    }
  }

  /** A jitdi's server and cache lines, for {@link #ollamaRule}. */
  private static final String OLLAMA_NODE = """
      server: {listen: 127.0.0.1:PORT}
      cache: {dir: CACHE_DIR, maxSize: 1GiB}
      """;

  /** An upstream registry.ollama.ai at {@code url} and one rule, {@code ollama/<model>:<tag>}; more may follow. */
  private static String ollamaRule(String url) {
    return """
        upstreams:
          registry.ollama.ai: {url: "%s"}
        jit: {waitBudget: 60s}
        images:
          - name: ollama
            match: "ollama/{model}:{tag}"
            registry: jit.local
            files: [{ollama: "registry.ollama.ai/library/{model}:{tag}", destination: /root/.ollama/models/}]
        """.formatted(url);
  }

  /** A rule {@code gguf/<model>:<tag>} for {@link #ollamaRule}'s images: the Ollama model's files under /models/. */
  private static final String GGUF_RULE = """
        - name: gguf
          match: "gguf/{model}:{tag}"
          registry: jit.local
          files: [{ollama: "registry.ollama.ai/library/{model}:{tag}", layout: files, destination: /models/}]
      """;

  /** The manifest GET of JIT image {@code image} ({@code repo:tag} in jit.local), on another thread. */
  private static java.util.concurrent.CompletableFuture<Http.Text> manifestLater(Jitdi jitdi, String image) {
    return java.util.concurrent.CompletableFuture.supplyAsync(() -> Http.get(jitdi.url() + "/v2/"
        + image.replace(":", "/manifests/") + "?ns=jit.local", Map.of("Accept", JitSourcesIT.ACCEPT)));
  }

  /** The bytes process {@code jitdi} handed to write calls so far (files and sockets): /proc's wchar. */
  private static long bytesWrittenBy(Jitdi jitdi) throws java.io.IOException {
    return Files.readAllLines(Path.of("/proc/" + jitdi.proc().pid() + "/io")).stream()
        .filter(l -> l.startsWith("wchar:")).mapToLong(l -> Long.parseLong(l.substring(6).trim())).findFirst()
        .orElseThrow();
  }

  /** Waits until jitdi's fill of {@code digest} has some bytes but not all of its {@code size}; false if it ended. */
  private static boolean untilFilling(Jitdi jitdi, Digest digest, long size,
      java.util.concurrent.Future<?> build) {
    while (!build.isDone()) {
      boolean filling = new io.vertx.core.json.JsonObject(Http.get(jitdi.url() + "/_jitdi/status").body())
          .getJsonArray("fills").stream().map(f -> (io.vertx.core.json.JsonObject) f)
          .anyMatch(f -> f.getString("digest").equals(digest.toString()) && f.getLong("bytes") > 0
              && f.getLong("bytes") < size);
      if (filling) {
        return true;
      }
      Proc.sleep(20);
    }
    return false;
  }

  /**
   * A model fetched straight into its layer is one fetch for everyone: clients that ask for the model itself while
   * the layer is made (whole over HTTP/2 and HTTP/1.1, a range) follow that fetch in the layer's file and get the
   * model's bytes, with one upstream GET in all. When the upstream flips a byte of the model, the build fails and
   * every one of those clients' transfers ends broken, none clean; nothing is kept and the next build fetches again.
   */
  @Test
  void clientsOfAModelWhoseLayerIsBeingMadeFollowItsOneFetch() throws Exception {
    byte[] model = ModelArtifacts.gguf(24 << 20, 59);
    ModelArtifacts.pushOllama(upstream, "library/joined", "q4", model, TEMPLATE, PARAMS);
    Digest modelDigest = Digest.sha256Of(model);
    String modelUrl = "/v2/library/joined/blobs/" + modelDigest + "?ns=registry.ollama.ai";
    try (FaultRelay slow = FaultRelay.to(upstream.port()).throttle(6L << 20);
        Jitdi joined = Jitdi.start(dir.resolve("joined"), OLLAMA_NODE + ollamaRule(slow.url()))) {
      for (boolean corrupt : new boolean[] {true, false}) {
        if (corrupt) {
          slow.flipBodyByteOfNextGet("/blobs/" + modelDigest, model.length - 1000);
        }
        long getsBefore = slow.requests("GET", "/blobs/" + modelDigest);
        java.util.concurrent.CompletableFuture<Http.Text> build = manifestLater(joined, "ollama/joined:q4");
        assertTrue(untilFilling(joined, modelDigest, model.length, build), "the model was still arriving");
        Path curlWhole = dir.resolve("joined-whole-" + corrupt);
        Path curlRange = dir.resolve("joined-range-" + corrupt);
        var whole2 = java.util.concurrent.CompletableFuture.supplyAsync(() -> Http.stream(joined.url() + modelUrl));
        var whole1 = java.util.concurrent.CompletableFuture.supplyAsync(() -> Proc.exec(
            java.time.Duration.ofMinutes(1), Map.of(), List.of("curl", "-sS", "-f", "--http1.1", "-o",
                curlWhole.toString(), joined.url() + modelUrl)));
        var range = java.util.concurrent.CompletableFuture.supplyAsync(() -> Proc.exec(
            java.time.Duration.ofMinutes(1), Map.of(), List.of("curl", "-sS", "-f", "--http1.1", "-r",
                "1000000-4999999", "-o", curlRange.toString(), joined.url() + modelUrl)));
        Http.Text built = build.get();
        String what = corrupt ? "with a flipped byte upstream" : "";
        assertEquals(getsBefore + 1, slow.requests("GET", "/blobs/" + modelDigest), "one fetch of the model " + what);
        if (corrupt) {
          assertEquals(502, built.status(), built.body());
          assertTrue(built.body().contains(modelDigest.toString()), built.body());
          assertTrue(whole2.get().status() != 200 || whole2.get().broken(), "HTTP/2 whole: not a clean answer");
          assertNotEquals(0, whole1.get().exit(), "HTTP/1.1 whole: not a clean answer");
          assertNotEquals(0, range.get().exit(), "a range that ends before the flipped byte: not a clean answer");
          assertFalse(Files.exists(storedBlob(joined, modelDigest)));
          assertTrue(joined.bytesUnder("blobs") < model.length, "no layer of the bad model is kept: "
              + joined.bytesUnder("blobs"));
          assertEquals(0, joined.bytesUnder("tmp"), "nothing left in tmp/");
        } else {
          assertEquals(200, built.status(), built.body());
          assertEquals(200, whole2.get().status());
          assertFalse(whole2.get().broken());
          assertEquals(modelDigest, whole2.get().digest(), "HTTP/2 whole");
          assertEquals(0, whole1.get().exit(), whole1.get().output());
          assertEquals(modelDigest, Digest.sha256Of(Files.readAllBytes(curlWhole)), "HTTP/1.1 whole");
          assertEquals(0, range.get().exit(), range.get().output());
          assertArrayEquals(java.util.Arrays.copyOfRange(model, 1_000_000, 5_000_000),
              Files.readAllBytes(curlRange), "the range");
          assertFalse(Files.exists(storedBlob(joined, modelDigest)), "the model is kept once, in its layer");
          assertArrayEquals(model, layerFiles(joined, "ollama/joined:q4").get(
              "root/.ollama/models/blobs/sha256-" + modelDigest.hex()));
        }
      }
    }
  }

  /**
   * Two images of one model asked for at once: the first makes its layer in the model's fetch, the second (another
   * layout of the same model) joins that fetch and reads the model's range of the first layer's file as it grows.
   * Both layers hold the model's exact bytes (and hash to their digests), from one upstream GET.
   */
  @Test
  void twoImagesOfAModelAskedForAtOnceShareItsOneFetch() throws Exception {
    byte[] model = ModelArtifacts.gguf(24 << 20, 61);
    ModelArtifacts.pushOllama(upstream, "library/shared", "q4", model, TEMPLATE, PARAMS);
    Digest modelDigest = Digest.sha256Of(model);
    try (FaultRelay slow = FaultRelay.to(upstream.port()).throttle(6L << 20);
        Jitdi both = Jitdi.start(dir.resolve("both"), OLLAMA_NODE + ollamaRule(slow.url()) + GGUF_RULE)) {
      java.util.concurrent.CompletableFuture<Http.Text> first = manifestLater(both, "ollama/shared:q4");
      assertTrue(untilFilling(both, modelDigest, model.length, first), "the model was still arriving");
      Http.Text second = Http.get(both.url() + "/v2/gguf/shared/manifests/q4?ns=jit.local", Map.of("Accept",
          JitSourcesIT.ACCEPT));
      assertEquals(200, first.get().status(), first.get().body());
      assertEquals(200, second.status(), second.body());
      assertEquals(1, slow.requests("GET", "/blobs/" + modelDigest), "one fetch of the model for both images");
      assertArrayEquals(model, layerFiles(both, "ollama/shared:q4").get(
          "root/.ollama/models/blobs/sha256-" + modelDigest.hex()), "the first image's model");
      assertArrayEquals(model, layerFiles(both, "gguf/shared:q4").values().stream()
          .filter(b -> b.length == model.length).findFirst().orElseThrow(), "the second image's model");
    }
  }

  /** Where {@code jitdi} stores blob {@code digest}. */
  private static Path storedBlob(Jitdi jitdi, Digest digest) {
    return jitdi.cacheDir().resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex());
  }

  /** The amd64 (first) platform manifest of a JIT image. */
  private static JsonObject platformManifest(Jitdi jitdi, String image) {
    String path = jitdi.url() + "/v2/" + image.substring(0, image.indexOf(':'));
    JsonObject top = new JsonObject(Http.get(path + "/manifests/" + image.substring(image.indexOf(':') + 1)
        + "?ns=jit.local", Map.of("Accept", JitSourcesIT.ACCEPT)).body());
    if (!top.containsKey("manifests")) {
      return top;
    }
    return new JsonObject(Http.get(path + "/manifests/" + top.getJsonArray("manifests").getJsonObject(0)
        .getString("digest") + "?ns=jit.local", Map.of("Accept", JitSourcesIT.ACCEPT)).body());
  }
}
