package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A central tier of 3 replicas over one bucket on a real S3 server (S3Proxy), in front of a real docker-registry, and
 * 4 node jitdis that list the replicas ({@code urls:}). Each replica reaches the upstream through its own counting
 * relay and is reached through another, so the tests can count what each replica filled and served. Each test uses
 * its own images and blobs and reads only the counts about them.
 */
class CentralReplicasIT {
  static final int REPLICAS = 3;
  static final int NODES = 4;
  static final String BUCKET = "central";
  static final long MODEL = 24L << 20;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static S3Proxy s3;
  static DockerRegistry upstream;
  static SourceServer modelHost;
  static final List<FaultRelay> toUpstream = new ArrayList<>();
  static final List<FaultRelay> toModelHost = new ArrayList<>();
  static final List<Jitdi> replicas = new ArrayList<>();
  static final List<FaultRelay> toReplica = new ArrayList<>();
  static final List<Jitdi> nodes = new ArrayList<>();

  static final String REPLICA = """
      server: {listen: 127.0.0.1:PORT}
      cache:
        dir: CACHE_DIR
        maxSize: 2GiB
        manifestTtl: 5m
      %s
      upstreams:
        docker.io: {url: "%s", idleTimeout: 10s}
      jit: {waitBudget: 60s}
      images:
        - name: models
          match: "llama/{model}:{tag}"
          registry: jit.local
          base: docker.io/library/busybox:latest
          files: [{source: "%s/files/{model}.gguf", destination: "/models/{model}.gguf"}]
      """;

  @BeforeAll
  static void start() throws Exception {
    Tools.require();
    s3 = S3Proxy.start(dir.resolve("s3"));
    s3.createBucket(BUCKET);
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    Images.pushBusybox(upstream, "library/busybox", "latest");
    Path models = Files.createDirectories(dir.resolve("models"));
    Images.randomFile(models.resolve("llama-7b.gguf"), MODEL, 8);
    modelHost = SourceServer.start(models);
    for (int i = 0; i < REPLICAS; i++) {
      toUpstream.add(FaultRelay.to(upstream.port()));
      toModelHost.add(FaultRelay.to(modelHost.port()));
      replicas.add(Jitdi.start(dir.resolve("replica" + i), REPLICA.formatted(
          S3Proxy.storeConfig(s3.url(), BUCKET, "").stripTrailing(), toUpstream.get(i).url(),
          toModelHost.get(i).url())));
      // each replica on an address of its own (127.0.0.1, .2, .3): the nodes hash over the hosts alone, so the
      // split of a given set of blobs is the same on every run, whatever the ports
      toReplica.add(FaultRelay.to(replicas.get(i).port(), java.net.InetAddress.getByName("127.0.0." + (i + 1)), 0));
    }
    String urls = toReplica.stream().map(r -> "\"" + r.url() + "\"").collect(Collectors.joining(", "));
    for (int i = 0; i < NODES; i++) {
      nodes.add(Jitdi.start(dir.resolve("node" + i), """
          server: {listen: 127.0.0.1:PORT}
          cache: {dir: CACHE_DIR, maxSize: 2GiB}
          upstreams:
            jit.local: {urls: [%1$s], sendNs: true}
            docker.io: {urls: [%1$s], sendNs: true, idleTimeout: 10s}
          defaultUpstream: docker.io
          """.formatted(urls)));
    }
  }

  @AfterAll
  static void stop() {
    List<AutoCloseable> all = new ArrayList<>(nodes);
    all.addAll(toReplica);
    all.addAll(replicas);
    all.addAll(toUpstream);
    all.addAll(toModelHost);
    all.addAll(List.of(modelHost, upstream, s3));
    Tools.closeAll(all.toArray(AutoCloseable[]::new));
  }

  static void skopeoCopy(Jitdi node, String image, Path into) {
    Proc.run(Duration.ofMinutes(3), List.of("skopeo", "copy", "--src-tls-verify=false",
        "docker://" + node.hostPort() + "/" + image, "oci:" + into + ":x"));
  }

  /** GETs of {@code digest}, in any repository, that reached the upstream through any replica. */
  static long upstreamGets(Digest digest) {
    return toUpstream.stream().mapToLong(r -> r.requests("GET", "/blobs/" + digest)).sum();
  }

  static void runAll(List<Runnable> tasks) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(tasks.size());
    try {
      List<Future<?>> running = tasks.stream().<Future<?>>map(pool::submit).toList();
      for (Future<?> f : running) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** An image the test pushed: its repository and tag, and every blob its manifest names. */
  record Pushed(String repo, String tag, List<Digest> blobs) {}

  static Pushed blobsOf(String repo, String tag) {
    io.vertx.core.json.JsonObject manifest = new io.vertx.core.json.JsonObject(Http.get(upstream.url() + "/v2/"
        + repo + "/manifests/" + tag, java.util.Map.of("Accept", "application/vnd.oci.image.manifest.v1+json"))
        .body());
    List<Digest> blobs = new ArrayList<>(List.of(Digest.parse(manifest.getJsonObject("config").getString("digest"))));
    manifest.getJsonArray("layers").forEach(l -> blobs.add(Digest.parse(((io.vertx.core.json.JsonObject) l)
        .getString("digest"))));
    return new Pushed(repo, tag, blobs);
  }

  @Test
  void concurrentPullsOfThreeImagesOnFourNodesFetchEachUpstreamBlobOnceAndStoreItOnce() throws Exception {
    List<Pushed> images = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      Images.pushRandomImage(upstream, dir, "fleet/app" + i, "v1", 12L << 20, 100 + i);
      images.add(blobsOf("fleet/app" + i, "v1"));
    }
    // busybox shares its blobs with the JIT image's base: another test may have put them in the bucket already
    Images.pushBusybox(upstream, "fleet/bb", "1.0");
    images.add(blobsOf("fleet/bb", "1.0"));
    java.util.Map<Digest, Long> getsBefore = new java.util.HashMap<>();
    java.util.Set<Digest> storedBefore = new java.util.HashSet<>();
    List<String> keysBefore = s3.keys(BUCKET);
    for (Pushed image : images) {
      for (Digest blob : image.blobs()) {
        getsBefore.put(blob, upstreamGets(blob));
        if (keysBefore.contains("blobs/sha256/" + blob.hex())) {
          storedBefore.add(blob);
        }
      }
    }
    List<Runnable> pulls = new ArrayList<>();
    for (int n = 0; n < NODES - 1; n++) {
      for (Pushed image : images) {
        Jitdi node = nodes.get(n);
        Path into = dir.resolve("pulled-" + image.repo().replace('/', '-') + "-" + n);
        pulls.add(() -> skopeoCopy(node, image.repo() + ":" + image.tag(), into));
      }
    }
    // the last node is a containerd node: it pulls (and unpacks) the runnable image, skopeo copies the others
    Jitdi containerdNode = nodes.get(NODES - 1);
    try (Containerd containerd = Containerd.start(dir.resolve("containerd"))) {
      containerd.mirror("docker.io", containerdNode.url(), Ports.deadEnd());
      pulls.add(() -> containerd.pull("docker.io/fleet/bb:1.0"));
      for (Pushed image : images.subList(0, 2)) {
        Path into = dir.resolve("pulled-" + image.repo().replace('/', '-') + "-containerd-node");
        pulls.add(() -> skopeoCopy(containerdNode, image.repo() + ":" + image.tag(), into));
      }
      runAll(pulls);
    }

    for (Pushed image : images) {
      for (Digest blob : image.blobs()) {
        assertEquals(storedBefore.contains(blob) ? 0 : 1, upstreamGets(blob) - getsBefore.get(blob),
            "one upstream GET of " + blob + " in the whole cluster, none if the bucket had it");
        String key = "blobs/sha256/" + blob.hex();
        SharedBucketIT.await("the object of " + blob, () -> s3.keys(BUCKET).contains(key));
        assertEquals(blob, Digest.sha256Of(s3.read(BUCKET, key)), "holding exactly its bytes");
        assertEquals(1, s3.keys(BUCKET).stream().filter(key::equals).count(), "one object for " + blob);
      }
    }
    List<String> others = s3.keys(BUCKET).stream()
        .filter(k -> !k.startsWith("blobs/sha256/") && !k.startsWith("records/")).toList();
    assertEquals(List.of(), others, "no staging or temporary objects: blobs live only under their digest");
  }

  @Test
  void aJitModelImageAskedForOnAllNodesAtOnceIsBuiltByOneReplicaFromOneReadOfTheModel() throws Exception {
    double builtBefore = builds();
    List<Runnable> pulls = new ArrayList<>();
    for (int n = 0; n < NODES; n++) {
      Jitdi node = nodes.get(n);
      Path into = dir.resolve("pulled-jit-" + n);
      pulls.add(() -> skopeoCopy(node, "jit.local/llama/llama-7b:q4", into));
    }
    runAll(pulls);
    assertEquals(1, modelHost.count("GET", "/files/llama-7b.gguf"), "the model host was read once: "
        + modelHost.requests());
    assertEquals(1, builds() - builtBefore, "one replica built the image");
  }

  static double builds() {
    return replicas.stream().mapToDouble(r -> r.metrics().valueOrZero("jitdi_jit_builds_total", "result", "built"))
        .sum();
  }

  @Test
  void thirtyBlobsSpreadOverTheReplicasSoNoneFillsMoreThanHalf() throws Exception {
    List<Digest> blobs = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      byte[] content = Images.randomBytes(64 * 1024, 1000 + i);
      blobs.add(upstream.pushBlob("fleet/spread", content));
    }
    for (Digest blob : blobs) {
      Http.Streamed got = Http.stream(nodes.get(0).url() + "/v2/fleet/spread/blobs/" + blob);
      assertEquals(blob, got.digest());
    }
    List<Long> fills = new ArrayList<>();
    for (FaultRelay relay : toUpstream) {
      fills.add(relay.requests("GET", "/v2/fleet/spread/blobs/"));
    }
    System.out.println("CentralReplicasIT: fills per replica of 30 blobs: " + fills);
    assertEquals(30, fills.stream().mapToLong(Long::longValue).sum(), "each blob filled once: " + fills);
    for (long n : fills) {
      assertTrue(n <= 15 && n >= 1, "fills per replica " + fills);
    }
  }

  @Test
  void aReplicaKilledMidFillLeavesNoUnverifiedObjectAndTheNodesPullCompletesThroughAnother() throws Exception {
    Path file = dir.resolve("big-blob");
    Digest digest = Images.randomFile(file, 96L << 20, 200);
    upstream.pushBlobFile("fleet/big", file, digest);
    toUpstream.forEach(r -> r.throttle(12L << 20));
    String key = "blobs/sha256/" + digest.hex();
    try {
      java.util.concurrent.CompletableFuture<Http.Streamed> pull = java.util.concurrent.CompletableFuture.supplyAsync(
          () -> Http.stream(nodes.get(1).url() + "/v2/fleet/big/blobs/" + digest));
      SharedBucketIT.await("a replica to fill the blob", () -> toUpstream.stream()
          .anyMatch(r -> r.requests("GET", "/v2/fleet/big/blobs/") > 0) && !uploadsOf(key).isEmpty());
      int filling = 0;
      while (toUpstream.get(filling).requests("GET", "/v2/fleet/big/blobs/") == 0) {
        filling++;
      }
      replicas.get(filling).kill9();
      assertFalse(s3.keys(BUCKET).contains(key), "no object before the blob is verified");
      toUpstream.forEach(FaultRelay::heal);
      Http.Streamed got = pull.get(3, java.util.concurrent.TimeUnit.MINUTES);
      assertEquals(200, got.status());
      assertFalse(got.broken());
      assertEquals(digest, got.digest(), "the node's pull completed through another replica");
      SharedBucketIT.await("the blob in the bucket", () -> s3.keys(BUCKET).contains(key));
      assertEquals(digest, Digest.sha256Of(s3.read(BUCKET, key)));
      replicas.get(filling).startAgain();
      SharedBucketIT.await("the killed replica to abort its upload", () -> uploadsOf(key).isEmpty());
    } finally {
      toUpstream.forEach(FaultRelay::heal);
    }
  }

  static List<String> uploadsOf(String key) {
    return s3.incompleteUploads(BUCKET).stream().filter(u -> u.startsWith(key + " ")).toList();
  }
}
