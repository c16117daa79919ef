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
    central = Jitdi.start(dir.resolve("central"), """
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
        """.formatted(upstreamToCentral.url(), sourceToCentral.url()));
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

    // each node's cache holds both images: with the central tier stopped, every node still serves them
    central.close();
    for (int i = 0; i < NODES; i++) {
      skopeoCopy(nodes.get(i), "jit.local/llama/llama-7b:q4", pulled(i, "jit-again"));
      skopeoCopy(nodes.get(i), "team/app:v1", pulled(i, "app-again"));
    }
  }
}
