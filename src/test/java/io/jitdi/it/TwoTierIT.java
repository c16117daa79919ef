package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster on loopback: one docker-registry upstream, one central jitdi with a JIT rule over a model served by HTTP,
 * and three node jitdis chained to the central one (upstreams with {@code sendNs}), as docker/k8s deploys them. Every
 * node pulls the same JIT image and the same upstream image with skopeo, all at once. TCP relays count the bytes that
 * cross each tier.
 */
class TwoTierIT {
  static final int NODES = 3;
  static final long MODEL = 24L << 20;
  static final long LAYER = 16L << 20;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static SourceServer modelHost;
  static FaultRelay sourceToCentral;
  static FaultRelay upstreamToCentral;
  static Jitdi central;
  static final List<FaultRelay> centralToNode = new ArrayList<>();
  static final List<Jitdi> nodes = new ArrayList<>();
  static Images.Pushed app;
  /** A central tier's config: its upstream and its model host. */
  static final String CENTRAL = """
      server: {listen: 127.0.0.1:PORT}
      cache: {dir: CACHE_DIR, maxSize: 2GiB}
      upstreams:
        docker.io: {url: "%s"}
      jit: {waitBudget: 60s}
      images:
        - name: models
          match: "llama/{model}:{tag}"
          registry: jit.local
          base: docker.io/library/busybox:latest
          files: [{source: "%s/files/{model}.gguf", destination: "/models/{model}.gguf"}]
      """;
  static final String INDEX = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";

  @BeforeAll
  static void start() throws Exception {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    Images.pushBusybox(upstream, "library/busybox", "latest");
    app = Images.pushRandomImage(upstream, dir, "team/app", "v1", LAYER, 7);
    Path models = Files.createDirectories(dir.resolve("models"));
    Images.randomFile(models.resolve("llama-7b.gguf"), MODEL, 8);
    modelHost = SourceServer.start(models);
    sourceToCentral = FaultRelay.to(modelHost.port());
    upstreamToCentral = FaultRelay.to(upstream.port());
    central = Jitdi.start(dir.resolve("central"), CENTRAL.formatted(upstreamToCentral.url(), sourceToCentral.url()));
    for (int i = 0; i < NODES; i++) {
      FaultRelay relay = FaultRelay.to(central.port());
      centralToNode.add(relay);
      nodes.add(Jitdi.start(dir.resolve("node" + i), """
          server: {listen: 127.0.0.1:PORT}
          cache: {dir: CACHE_DIR, maxSize: 2GiB}
          upstreams:
            jit.local: {url: "%1$s", sendNs: true}
            docker.io: {url: "%1$s", sendNs: true}
          defaultUpstream: docker.io
          """.formatted(relay.url())));
    }
  }

  @AfterAll
  static void stop() {
    List<AutoCloseable> all = new ArrayList<>(nodes);
    all.addAll(centralToNode);
    all.addAll(java.util.Arrays.asList(central, upstreamToCentral, sourceToCentral, modelHost, upstream));
    Tools.closeAll(all.toArray(AutoCloseable[]::new));
  }

  private static void skopeoCopy(Jitdi node, String image, Path into) {
    Proc.run(Duration.ofMinutes(3), List.of("skopeo", "copy", "--src-tls-verify=false",
        "docker://" + node.hostPort() + "/" + image, "oci:" + into + ":x"));
  }

  /** The digest a central tier answers for the JIT image, once its build is done. */
  private static String jitIndexDigest(Jitdi tier) {
    String url = tier.url() + "/v2/llama/llama-7b/manifests/q4?ns=jit.local";
    Http.Text r = Http.get(url, java.util.Map.of("Accept", INDEX));
    for (int i = 0; i < 600 && r.status() == 429; i++) {
      Proc.sleep(100);
      r = Http.get(url, java.util.Map.of("Accept", INDEX));
    }
    assertEquals(200, r.status(), r.body());
    return r.header("Docker-Content-Digest");
  }

  /** Platform manifest digest → its config and layer digests, under the index (or manifest) {@code digest}. */
  private static java.util.Map<String, List<String>> manifestsOf(Jitdi tier, String digest) {
    java.util.Map<String, List<String>> all = new java.util.TreeMap<>();
    io.vertx.core.json.JsonObject index = new io.vertx.core.json.JsonObject(Http.get(tier.url()
        + "/v2/llama/llama-7b/manifests/" + digest + "?ns=jit.local", java.util.Map.of("Accept", INDEX)).body());
    // an index of platform manifests, or (a single-platform base) the one manifest itself
    List<String> platformManifests = index.containsKey("manifests") ? index.getJsonArray("manifests").stream()
        .map(o -> ((io.vertx.core.json.JsonObject) o).getString("digest")).toList() : List.of(digest);
    for (String m : platformManifests) {
      io.vertx.core.json.JsonObject manifest = new io.vertx.core.json.JsonObject(Http.get(tier.url()
          + "/v2/llama/llama-7b/manifests/" + m + "?ns=jit.local", java.util.Map.of("Accept", INDEX)).body());
      List<String> blobs = new ArrayList<>(List.of(manifest.getJsonObject("config").getString("digest")));
      manifest.getJsonArray("layers").forEach(l -> blobs.add(((io.vertx.core.json.JsonObject) l).getString("digest")));
      all.put(m, blobs);
    }
    return all;
  }

  private static Path pulled(int node, String what) {
    return dir.resolve("pulled-" + what + "-" + node);
  }

  @Test
  void everyNodePullsThroughTheCentralTierWhichReadsTheModelAndEachUpstreamBlobOnce() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2 * NODES);
    try {
      List<Future<?>> pulls = new ArrayList<>();
      for (int i = 0; i < NODES; i++) {
        int n = i;
        pulls.add(pool.submit(() -> skopeoCopy(nodes.get(n), "jit.local/llama/llama-7b:q4", pulled(n, "jit"))));
        pulls.add(pool.submit(() -> skopeoCopy(nodes.get(n), "team/app:v1", pulled(n, "app"))));
      }
      for (Future<?> f : pulls) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }

    // the model crossed from its host to the central tier once, whatever the number of nodes
    long modelBytes = sourceToCentral.bytesRelayed();
    assertTrue(modelBytes >= MODEL && modelBytes < MODEL + 64 * 1024,
        "the model was read once: " + modelBytes + " bytes for a " + MODEL + "-byte file");
    assertEquals(1, modelHost.count("GET", "/files/llama-7b.gguf"), "one GET of the model: " + modelHost.requests());

    // every upstream blob was served once: config and layer of team/app, config and layer of the JIT image's base
    assertEquals(2, upstream.requests("GET", "/v2/team/app/blobs/"));
    assertEquals(2, upstream.requests("GET", "/v2/library/busybox/blobs/"));
    long upstreamBytes = upstreamToCentral.bytesRelayed();
    assertTrue(upstreamBytes < LAYER + (8L << 20), "the upstream sent each blob once: " + upstreamBytes + " bytes");

    // each node got the whole of both images from the central tier, and they are identical everywhere
    for (int i = 0; i < NODES; i++) {
      long nodeBytes = centralToNode.get(i).bytesRelayed();
      assertTrue(nodeBytes >= MODEL + LAYER, "node " + i + " received both images: " + nodeBytes);
      assertArrayEquals(Files.readAllBytes(pulled(0, "jit").resolve("index.json")),
          Files.readAllBytes(pulled(i, "jit").resolve("index.json")), "the same JIT digests on every node");
    }
    System.out.printf(Locale.ROOT, "two-tier bytes: model host -> central %d (model %d); upstream -> central %d; "
        + "central -> nodes %d, %d, %d%n", modelBytes, MODEL, upstreamBytes, centralToNode.get(0).bytesRelayed(),
        centralToNode.get(1).bytesRelayed(), centralToNode.get(2).bytesRelayed());

    // a second, independent central tier (its own cache, its own model host and upstream over the same files and
    // storage) builds the same rule: a deterministic build gives the same digests, and the nodes got exactly those
    Path models = dir.resolve("models");
    try (SourceServer modelHost2 = SourceServer.start(models);
        DockerRegistry upstream2 = DockerRegistry.start(dir.resolve("upstream"));
        Jitdi central2 = Jitdi.start(dir.resolve("central2"), CENTRAL.formatted(upstream2.url(), modelHost2.url()))) {
      String index1 = jitIndexDigest(central);
      String index2 = jitIndexDigest(central2);
      assertEquals(1, modelHost2.count("GET", "/files/llama-7b.gguf"), "the second tier built from the model itself");
      assertEquals(manifestsOf(central, index1), manifestsOf(central2, index2),
          "two independent builds of the rule give the same platform manifests and layers");
      assertEquals(index1, index2, "two independent builds of the rule give the same index digest");
      // skopeo gzips the layers into its OCI layout (new layer and manifest digests), but keeps the config, whose
      // diff_ids are the digests of the uncompressed layers
      for (List<String> blobs : manifestsOf(central2, index2).values()) {
        assertTrue(Files.exists(pulled(0, "jit").resolve("blobs/sha256/" + blobs.get(0).substring(7))),
            "the nodes got the config (and so the layer contents) the second tier built: " + blobs.get(0));
      }
    }

    // each node's cache holds both images: with the central tier stopped, every node still serves them
    central.close();
    for (int i = 0; i < NODES; i++) {
      skopeoCopy(nodes.get(i), "jit.local/llama/llama-7b:q4", pulled(i, "jit-again"));
      skopeoCopy(nodes.get(i), "team/app:v1", pulled(i, "app-again"));
    }
  }
}
