package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node jitdi over three replicas of one registry: three docker-registry processes on one storage directory, each
 * behind a counting {@link FaultRelay}. Images pulled with skopeo must reach each replica by the rendezvous order of
 * the blob digest (or, for manifests, the repository name), computed here independently of jitdi's code; with one
 * replica gone, its share goes to the next replica of each key and the replica metric says so. A second node reaches
 * the replicas through one host name with three loopback addresses (a JDK hosts file standing in for a headless
 * Service's DNS).
 */
class ReplicasIT {
  static final int REPLICAS = 3;
  static final String COUNTER = "jitdi_upstream_replica_requests_total";

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static final List<DockerRegistry> registries = new ArrayList<>();
  static final List<Images.Pushed> first = new ArrayList<>();
  static final List<Images.Pushed> second = new ArrayList<>();
  static final List<Images.Pushed> third = new ArrayList<>();

  @BeforeAll
  static void start() {
    Path storage = dir.resolve("registry");
    for (int i = 0; i < REPLICAS; i++) {
      registries.add(DockerRegistry.start(storage)); // one storage directory: every replica serves the same content
    }
    for (int i = 0; i < 6; i++) {
      first.add(Images.pushRandomImage(registries.get(0), dir, "first/app" + i, "v1", 64 * 1024, 100 + i));
      second.add(Images.pushRandomImage(registries.get(0), dir, "second/app" + i, "v1", 64 * 1024, 200 + i));
      third.add(Images.pushRandomImage(registries.get(0), dir, "third/app" + i, "v1", 64 * 1024, 300 + i));
    }
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(registries.toArray(AutoCloseable[]::new));
  }

  /**
   * The rendezvous weight jitdi documents: SHA-256 of key, a 0 byte and the replica's host (or {@code host:port} when
   * replicas share a host), first 8 bytes unsigned.
   */
  static long weight(String key, String replica) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    sha.update(key.getBytes(StandardCharsets.UTF_8));
    sha.update((byte) 0);
    sha.update(replica.getBytes(StandardCharsets.UTF_8));
    return ByteBuffer.wrap(sha.digest()).getLong();
  }

  static String host(String hostPort) {
    return hostPort.substring(0, hostPort.lastIndexOf(':'));
  }

  /** {@code replicas} ({@code host:port}) by falling weight for {@code key}. */
  static List<String> order(String key, List<String> replicas) {
    boolean ownHosts = replicas.stream().map(ReplicasIT::host).distinct().count() == replicas.size();
    List<String> sorted = new ArrayList<>(replicas);
    sorted.sort(Comparator.<String, Long>comparing(r -> {
      try {
        return weight(key, ownHosts ? host(r) : r);
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    }, Long::compareUnsigned).reversed());
    return sorted;
  }

  /** What jitdi routes a request line by: the digest of a blob, else the repository name. */
  static String routingKey(String requestLine) {
    String target = requestLine.split(" ")[1];
    String path = target.contains("?") ? target.substring(0, target.indexOf('?')) : target;
    String rest = path.substring("/v2/".length());
    for (String kind : List.of("/blobs/", "/manifests/", "/tags/")) {
      int at = rest.indexOf(kind);
      if (at >= 0) {
        return kind.equals("/blobs/") ? rest.substring(at + kind.length()) : rest.substring(0, at);
      }
    }
    throw new AssertionError("not a registry request: " + requestLine);
  }

  static void pull(Jitdi node, Images.Pushed image) {
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false",
        "docker://" + node.hostPort() + "/" + image.repo() + ":" + image.tag(),
        "oci:" + dir.resolve("pulled-" + node.port() + "-" + image.repo().replace('/', '_')) + ":x"));
  }

  /** Request lines each relay passed on since {@code from} (its count of lines then). */
  static Map<String, List<String>> linesSince(Map<String, FaultRelay> relays, Map<String, Integer> from) {
    Map<String, List<String>> out = new TreeMap<>();
    relays.forEach((id, relay) -> {
      List<String> all = relay.requestLines();
      out.put(id, all.subList(from.getOrDefault(id, 0), all.size()));
    });
    return out;
  }

  static Map<String, Integer> counts(Map<String, FaultRelay> relays) {
    Map<String, Integer> out = new TreeMap<>();
    relays.forEach((id, relay) -> out.put(id, relay.requestLines().size()));
    return out;
  }

  /** Each request line reached the first replica of its key's order among {@code alive}; returns how many did. */
  static int assertRoutedByRendezvous(Map<String, List<String>> lines, List<String> replicas, List<String> alive) {
    int n = 0;
    for (Map.Entry<String, List<String>> e : lines.entrySet()) {
      for (String line : e.getValue()) {
        List<String> order = order(routingKey(line), replicas);
        String expected = order.stream().filter(alive::contains).findFirst().orElseThrow();
        assertEquals(expected, e.getKey(), line + " went to " + e.getKey() + ", its order is " + order);
        n++;
      }
    }
    return n;
  }

  @Test
  void blobsGoToTheirRendezvousReplicaAndAStoppedReplicasShareGoesToTheNext() throws Exception {
    Map<String, FaultRelay> relays = new TreeMap<>();
    for (DockerRegistry registry : registries) {
      FaultRelay relay = FaultRelay.to(registry.port());
      relays.put("127.0.0.1:" + relay.port(), relay);
    }
    List<String> ids = new ArrayList<>(relays.keySet());
    try (Jitdi node = Jitdi.start(dir.resolve("node"), """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 1GiB}
        upstreams:
          docker.io:
            urls: [%s]
        defaultUpstream: docker.io
        """.formatted(String.join(", ", relays.values().stream().map(FaultRelay::url).toList())))) {
      for (Images.Pushed image : first) {
        pull(node, image);
      }
      Map<String, List<String>> lines = linesSince(relays, Map.of());
      int routed = assertRoutedByRendezvous(lines, ids, ids);
      // every blob was asked for once, in all: 6 configs and 6 layers
      for (Images.Pushed image : first) {
        for (String blob : List.of(image.layer().toString(), image.config().toString())) {
          long gets = lines.values().stream().flatMap(List::stream)
              .filter(l -> l.startsWith("GET ") && l.contains("/blobs/" + blob)).count();
          assertEquals(1, gets, "one GET of " + blob + ": " + lines);
        }
      }
      System.out.println("requests per replica: " + lines.entrySet().stream()
          .map(e -> e.getKey() + "=" + e.getValue().size()).toList());
      long used = lines.values().stream().filter(l -> l.stream().anyMatch(x -> x.contains("/blobs/"))).count();
      assertTrue(used > 1, "blobs spread over more than one replica: " + lines);
      Metrics metrics = node.metrics();
      for (String id : ids) {
        assertEquals(lines.get(id).size(), metrics.valueOrZero(COUNTER, "upstream", "docker.io", "replica", id,
            "outcome", "ok"), "the metric counts what " + id + " was asked");
      }
      assertEquals(routed, lines.values().stream().mapToInt(List::size).sum());

      // stop the replica that owns the most keys of the next images
      Map<String, Integer> owned = new TreeMap<>();
      for (Images.Pushed image : second) {
        for (String key : List.of(image.layer().toString(), image.config().toString(), image.repo())) {
          owned.merge(order(key, ids).get(0), 1, Integer::sum);
        }
      }
      String dead = owned.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
      relays.get(dead).close();
      List<String> alive = ids.stream().filter(id -> !id.equals(dead)).toList();
      Map<String, Integer> before = counts(relays);
      long started = System.nanoTime();
      for (Images.Pushed image : second) {
        pull(node, image); // succeeds: skopeo fails the test otherwise
      }
      Duration took = Duration.ofNanos(System.nanoTime() - started);
      Map<String, List<String>> after = linesSince(relays, before);
      assertTrue(after.get(dead).isEmpty());
      assertRoutedByRendezvous(after, ids, alive);
      long deadFirst = after.values().stream().flatMap(List::stream)
          .filter(l -> order(routingKey(l), ids).get(0).equals(dead)).count();
      assertTrue(deadFirst >= owned.get(dead), "the stopped replica's keys went elsewhere: " + after);
      Metrics then = node.metrics();
      double error = then.valueOrZero(COUNTER, "upstream", "docker.io", "replica", dead, "outcome", "error");
      double skipped = then.valueOrZero(COUNTER, "upstream", "docker.io", "replica", dead, "outcome", "skipped");
      System.out.printf("replica %s stopped: %d requests were its own; error %.0f, skipped %.0f%n", dead, deadFirst,
          error, skipped);
      assertTrue(error >= 1, "the stopped replica's failure is counted: " + error);
      // images are pulled one after another: once the stopped replica failed, it is skipped for 10 s without a try,
      // so when its keys span several images and all pulls took less than that, a later one skipped it
      long imagesOwned = after.values().stream().flatMap(List::stream)
          .filter(l -> order(routingKey(l), ids).get(0).equals(dead)).map(l -> l.split("/")[3]).distinct().count();
      if (imagesOwned >= 2 && took.compareTo(Duration.ofSeconds(9)) < 0) {
        assertTrue(skipped >= 1, "a failed replica is skipped, not tried again at once: error " + error
            + ", skipped " + skipped + " over " + imagesOwned + " images in " + took.toMillis() + " ms");
      } else {
        System.out.println("the skip check needs 2 images in under 9 s: " + imagesOwned + " in " + took);
      }
      assertEquals(deadFirst, error + skipped, "each request whose first replica was the stopped one counted it as "
          + "an error (then marked down for 10 s) or skipped it: error " + error + ", skipped " + skipped);
      assertEquals(lines.get(dead).size(), then.value(COUNTER, "upstream", "docker.io", "replica", dead, "outcome",
          "ok"), "nothing more reached the stopped replica");
    } finally {
      Tools.closeAll(relays.values().toArray(AutoCloseable[]::new));
    }
  }

  @Test
  void aBlobCutWhenItsReplicaDiesResumesFromTheNextReplica() throws Exception {
    Images.Pushed image = Images.pushRandomImage(registries.get(0), dir, "resume/model", "v1", 8L << 20, 400);
    String layer = image.layer().toString();
    Map<String, FaultRelay> relays = new TreeMap<>();
    for (DockerRegistry registry : registries) {
      FaultRelay relay = FaultRelay.to(registry.port());
      relays.put("127.0.0.1:" + relay.port(), relay);
    }
    List<String> ids = new ArrayList<>(relays.keySet());
    List<String> order = order(layer, ids);
    FaultRelay owner = relays.get(order.get(0));
    FaultRelay next = relays.get(order.get(1));
    // the owner stops sending 1 MiB into the body; meanwhile it goes away
    owner.onNextRequest("GET", "/blobs/" + layer, FaultRelay.Kind.STALL, 1 << 20, 20_000);
    try (Jitdi node = Jitdi.start(dir.resolve("resume-node"), """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 1GiB}
        upstreams:
          docker.io:
            urls: [%s]
        defaultUpstream: docker.io
        """.formatted(String.join(", ", relays.values().stream().map(FaultRelay::url).toList())))) {
      java.util.concurrent.CompletableFuture<Http.Streamed> pull = java.util.concurrent.CompletableFuture.supplyAsync(
          () -> Http.stream(node.url() + "/v2/resume/model/blobs/" + layer));
      long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
      while (owner.bytesRelayedFor("/blobs/" + layer) < 1 << 20 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(owner.bytesRelayedFor("/blobs/" + layer) >= 1 << 20, "the owner sent the first MiB");
      owner.close();
      Http.Streamed blob = pull.get(60, java.util.concurrent.TimeUnit.SECONDS);
      assertEquals(200, blob.status());
      assertEquals(image.layer(), blob.digest(), "the whole blob, verified");
      assertEquals(1, owner.requests("GET", "/blobs/" + layer));
      assertEquals(1, next.requests("GET", "/blobs/" + layer), "resumed from the next replica: "
          + next.requestLines());
      assertTrue(next.bytesRelayedFor("/blobs/" + layer) < (8L << 20), "with Range, not from the start: "
          + next.bytesRelayedFor("/blobs/" + layer));
      assertTrue(node.metrics().value(COUNTER, "upstream", "docker.io", "replica", order.get(0), "outcome",
          "error") >= 1, "the owner's failure is counted");
    } finally {
      Tools.closeAll(relays.values().toArray(AutoCloseable[]::new));
    }
  }

  @Test
  void aHostNameWithSeveralAddressesIsOneReplicaPerAddress() throws Exception {
    Map<String, FaultRelay> relays = new TreeMap<>();
    try {
      int port = -1;
      for (int attempt = 0; attempt < 5 && relays.size() < REPLICAS; attempt++) {
        Tools.closeAll(relays.values().toArray(AutoCloseable[]::new));
        relays.clear();
        try {
          for (int i = 0; i < REPLICAS; i++) {
            InetAddress address = InetAddress.getByName("127.0.0." + (i + 1));
            FaultRelay relay = FaultRelay.to(registries.get(i).port(), address, i == 0 ? 0 : port);
            port = relay.port();
            relays.put("127.0.0." + (i + 1) + ":" + port, relay);
          }
        } catch (java.io.UncheckedIOException taken) {
          // that port is in use on another loopback address: pick another
        }
      }
      assertEquals(REPLICAS, relays.size(), "relays on 127.0.0.1-3 with one port");
      Path hosts = dir.resolve("hosts");
      Files.writeString(hosts, "127.0.0.1 central.replicas.test\n127.0.0.2 central.replicas.test\n"
          + "127.0.0.3 central.replicas.test\n");
      List<String> ids = new ArrayList<>(relays.keySet());
      try (Jitdi node = Jitdi.start(dir.resolve("dns-node"), """
          server: {listen: 127.0.0.1:PORT}
          cache: {dir: CACHE_DIR, maxSize: 1GiB}
          upstreams:
            docker.io: {url: "http://central.replicas.test:%d", sendNs: true}
          defaultUpstream: docker.io
          """.formatted(port), List.of("-Djdk.net.hosts.file=" + hosts))) {
        for (Images.Pushed image : third) {
          pull(node, image);
        }
        Map<String, List<String>> lines = linesSince(relays, Map.of());
        assertRoutedByRendezvous(lines, ids, ids);
        long used = lines.values().stream().filter(l -> !l.isEmpty()).count();
        assertTrue(used > 1, "requests spread over the addresses: " + lines);
        lines.values().stream().flatMap(List::stream).forEach(l -> assertTrue(l.contains("ns=docker.io"), l));
        Metrics metrics = node.metrics();
        for (String id : ids) {
          assertEquals(lines.get(id).size(), metrics.valueOrZero(COUNTER, "upstream", "docker.io", "replica", id,
              "outcome", "ok"), "the metric names each address: " + id);
        }
      }
    } finally {
      Tools.closeAll(relays.values().toArray(AutoCloseable[]::new));
    }
  }
}
