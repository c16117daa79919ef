package io.jitdi.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.config.UpstreamConfig;
import io.vertx.core.Future;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class ReplicasTest {
  static final int KEYS = 300;

  private static List<URI> urls(int n) {
    List<URI> urls = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      urls.add(URI.create("http://central-" + i + ".jitdi:8888"));
    }
    return urls;
  }

  private static Replicas fixed(List<URI> urls) {
    return new Replicas(urls, null, System::nanoTime);
  }

  private static String blobKey(int i) {
    return "sha256:" + io.jitdi.oci.Digest.sha256Of(("blob " + i).getBytes()).hex();
  }

  /** Which replica (by id) comes first for each of {@link #KEYS} keys. */
  private static Map<String, String> owners(Replicas replicas) {
    Map<String, String> owners = new HashMap<>();
    for (int i = 0; i < KEYS; i++) {
      owners.put(blobKey(i), replicas.order(blobKey(i)).get(0).id());
    }
    return owners;
  }

  @Test
  void replicasWithHostsOfTheirOwnKeepTheirSharesWhenThePortChanges() {
    List<URI> moved = urls(3).stream().map(u -> URI.create("http://" + u.getHost() + ":9000")).toList();
    Map<String, String> before = owners(fixed(urls(3)));
    Map<String, String> after = owners(fixed(moved));
    for (Map.Entry<String, String> e : before.entrySet()) {
      assertEquals(Replicas.host(e.getValue()), Replicas.host(after.get(e.getKey())), e.getKey());
    }
    // replicas on one host are told apart by their ports
    List<URI> oneHost = List.of(URI.create("http://127.0.0.1:5001"), URI.create("http://127.0.0.1:5002"),
        URI.create("http://127.0.0.1:5003"));
    assertEquals(3, new HashSet<>(owners(fixed(oneHost)).values()).size(), "each port owns keys");
  }

  @Test
  void theOrderIsDeterministicAndDependsOnTheKey() {
    Replicas a = fixed(urls(3));
    Replicas b = fixed(urls(3));
    assertEquals(3, a.order("library/busybox").size());
    for (int i = 0; i < KEYS; i++) {
      assertEquals(a.order(blobKey(i)), b.order(blobKey(i)), "the same order in another instance");
    }
    // the configured order does not matter, only the identities
    List<URI> reversed = new ArrayList<>(urls(3));
    java.util.Collections.reverse(reversed);
    assertEquals(owners(a), owners(fixed(reversed)));
    // the identity is host:port of each URL
    assertEquals(List.of("central-0.jitdi:8888", "central-1.jitdi:8888", "central-2.jitdi:8888"),
        a.all().stream().map(Replicas.Replica::id).toList());
    // a pinned value (SHA-256 of key, 0, id; first 8 bytes): nodes of different versions must agree on the order
    assertEquals(7278918203328515259L, Replicas.weight("library/busybox", "central-0.jitdi:8888"));
    assertNotEquals(Replicas.weight("k", "central-0.jitdi:8888"), Replicas.weight("k", "central-1.jitdi:8888"));
  }

  @Test
  void eachOfThreeReplicasGetsAFairShare() {
    Map<String, Integer> share = new HashMap<>();
    owners(fixed(urls(3))).values().forEach(id -> share.merge(id, 1, Integer::sum));
    assertEquals(3, share.size(), "every replica owns keys: " + share);
    for (int n : share.values()) {
      assertTrue(n >= 1 && n <= KEYS / 2, "no replica owns more than half: " + share);
    }
    // second choices are spread too: the next replica of a key is not always the same one
    Map<String, Integer> second = new HashMap<>();
    for (int i = 0; i < KEYS; i++) {
      List<Replicas.Replica> order = fixed(urls(3)).order(blobKey(i));
      second.merge(order.get(0).id() + ">" + order.get(1).id(), 1, Integer::sum);
    }
    assertEquals(6, second.size(), "each replica's keys fall over to both others: " + second);
  }

  @Test
  void removingAReplicaMovesOnlyTheKeysItOwned() {
    Map<String, String> before = owners(fixed(urls(3)));
    List<URI> two = new ArrayList<>(urls(3));
    URI removed = two.remove(1);
    Map<String, String> after = owners(fixed(two));
    String removedId = removed.getHost() + ":" + removed.getPort();
    int moved = 0;
    for (Map.Entry<String, String> e : before.entrySet()) {
      if (e.getValue().equals(removedId)) {
        moved++;
        assertNotEquals(removedId, after.get(e.getKey()));
      } else {
        assertEquals(e.getValue(), after.get(e.getKey()), "a key of a remaining replica stays: " + e.getKey());
      }
    }
    assertTrue(moved > 0);
  }

  @Test
  void addingAReplicaMovesKeysOnlyToIt() {
    Map<String, String> before = owners(fixed(urls(3)));
    Map<String, String> after = owners(fixed(urls(4)));
    int gained = 0;
    for (Map.Entry<String, String> e : before.entrySet()) {
      String now = after.get(e.getKey());
      if (!now.equals(e.getValue())) {
        assertEquals("central-3.jitdi:8888", now, "a key moves only to the new replica: " + e.getKey());
        gained++;
      }
    }
    assertTrue(gained > KEYS / 8 && gained < KEYS / 2, "the new replica takes about a quarter: " + gained);
  }

  @Test
  void aFailedReplicaIsTriedLastForAWhileAndAllDownKeepsTheOrder() {
    AtomicLong now = new AtomicLong(1_000);
    Replicas replicas = new Replicas(urls(3), null, now::get);
    String key = blobKey(7);
    List<Replicas.Replica> order = replicas.order(key);
    assertEquals(order, replicas.plan(key).order());
    assertTrue(replicas.plan(key).skipped().isEmpty());

    replicas.failed(order.get(0));
    Replicas.Plan plan = replicas.plan(key);
    assertEquals(List.of(order.get(1), order.get(2), order.get(0)), plan.order());
    assertEquals(List.of(order.get(0)), plan.skipped());
    // a failed replica that was not first for a key is not counted as skipped for it
    replicas.answered(order.get(0));
    replicas.failed(order.get(2));
    assertEquals(List.of(order.get(0), order.get(1), order.get(2)), replicas.plan(key).order());
    assertTrue(replicas.plan(key).skipped().isEmpty());

    // all down: still every replica, in the key's order, none skipped
    order.forEach(replicas::failed);
    assertEquals(order, replicas.plan(key).order());
    assertTrue(replicas.plan(key).skipped().isEmpty());

    // back after DOWN_FOR
    replicas.answered(order.get(1));
    replicas.answered(order.get(2));
    replicas.failed(order.get(0));
    now.addAndGet(Replicas.DOWN_FOR.toNanos() - 1);
    assertEquals(order.get(1), replicas.plan(key).order().get(0));
    now.addAndGet(1);
    assertEquals(order, replicas.plan(key).order());
  }

  @Test
  void ownOriginsAreEveryConfiguredUrl() {
    Replicas replicas = fixed(List.of(URI.create("https://a.example:443/p"), URI.create("https://b.example/p")));
    assertTrue(replicas.isOwn(URI.create("https://a.example/v2/x")));
    assertTrue(replicas.isOwn(URI.create("https://b.example:443/v2/x")));
    assertFalse(replicas.isOwn(URI.create("http://b.example/v2/x")), "another scheme is another origin");
    assertFalse(replicas.isOwn(URI.create("https://cdn.example/blob")));
    assertEquals(URI.create("https://b.example/p/v2/r/blobs/x?ns=k"),
        replicas.all().get(1).url("/v2/r/blobs/x?ns=k"));
  }

  private static InetAddress ip(String text) {
    try {
      return InetAddress.getByName(text);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void aHostWithSeveralAddressesIsOneReplicaPerAddressResolvedAgainOnRefresh() {
    Map<String, AtomicReference<Future<List<InetAddress>>>> dns = new HashMap<>();
    dns.put("central.jitdi", new AtomicReference<>(Future.succeededFuture(
        List.of(ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")))));
    dns.put("other.jitdi", new AtomicReference<>(Future.succeededFuture(List.of(ip("10.0.1.1")))));
    List<String> asked = new ArrayList<>();
    Function<String, Future<List<InetAddress>>> resolver = host -> {
      asked.add(host);
      return dns.get(host).get();
    };
    Replicas replicas = new Replicas(List.of(URI.create("http://central.jitdi:8888"),
        URI.create("http://other.jitdi:8888"), URI.create("http://10.9.9.9:8888")), resolver, System::nanoTime);
    assertTrue(replicas.resolves());
    assertFalse(replicas.ready().isComplete(), "requests wait for the first resolution");
    assertEquals(List.of("central.jitdi:8888", "other.jitdi:8888", "10.9.9.9:8888"), ids(replicas));

    assertTrue(replicas.refresh().succeeded());
    assertTrue(replicas.ready().succeeded());
    assertEquals(List.of("central.jitdi", "other.jitdi"), asked, "an IP literal is not resolved");
    assertEquals(List.of("10.0.0.1:8888", "10.0.0.2:8888", "10.0.0.3:8888", "other.jitdi:8888", "10.9.9.9:8888"),
        ids(replicas));
    Replicas.Replica first = replicas.all().get(0);
    assertEquals(ip("10.0.0.1"), first.address());
    assertEquals(URI.create("http://central.jitdi:8888/v2/r/manifests/t"), first.url("/v2/r/manifests/t"),
        "the URL keeps the host name (Host header, SNI)");
    assertEquals("10.0.0.1", first.server(first.url("/v2/x")).hostAddress());
    assertEquals(8888, first.server(first.url("/v2/x")).port());
    assertNull(first.server(URI.create("http://cdn.example/x")), "a redirect elsewhere is connected to by name");
    assertNull(replicas.all().get(3).server(URI.create("http://other.jitdi:8888/v2/x")),
        "a host with one address is connected to as today");

    // a pod goes away: the next resolution drops it, and only its keys move
    Map<String, String> before = owners(replicas);
    dns.get("central.jitdi").set(Future.succeededFuture(List.of(ip("10.0.0.1"), ip("10.0.0.3"))));
    replicas.refresh();
    assertEquals(List.of("10.0.0.1:8888", "10.0.0.3:8888", "other.jitdi:8888", "10.9.9.9:8888"), ids(replicas));
    Map<String, String> after = owners(replicas);
    before.forEach((key, owner) -> {
      if (!owner.equals("10.0.0.2:8888")) {
        assertEquals(owner, after.get(key));
      }
    });

    // a replica that is gone is forgotten: it comes back (same address, new pod) up
    replicas.failed(replicas.all().get(0));
    dns.get("central.jitdi").set(Future.succeededFuture(List.of(ip("10.0.0.3"), ip("10.0.0.4"))));
    replicas.refresh();
    dns.get("central.jitdi").set(Future.succeededFuture(List.of(ip("10.0.0.1"), ip("10.0.0.3"))));
    replicas.refresh();
    assertTrue(replicas.plan("k").skipped().isEmpty() && replicas.plan("k").order().equals(replicas.order("k")),
        "10.0.0.1 is not down any more");

    // DNS failing keeps what was known
    dns.get("central.jitdi").set(Future.failedFuture(new UnknownHostException("central.jitdi")));
    replicas.refresh();
    assertEquals(List.of("10.0.0.1:8888", "10.0.0.3:8888", "other.jitdi:8888", "10.9.9.9:8888"), ids(replicas));

    // down to one address: the URL itself again
    dns.get("central.jitdi").set(Future.succeededFuture(List.of(ip("10.0.0.3"))));
    replicas.refresh();
    assertEquals(List.of("central.jitdi:8888", "other.jitdi:8888", "10.9.9.9:8888"), ids(replicas));
    assertNull(replicas.all().get(0).address());
  }

  @Test
  void startResolvesNowAndThenPeriodically() throws Exception {
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    try {
      AtomicLong calls = new AtomicLong();
      List<InetAddress> two = List.of(ip("10.0.0.1"), ip("10.0.0.2"));
      Replicas replicas = new Replicas(List.of(URI.create("http://central.jitdi:8888")), host -> {
        calls.incrementAndGet();
        return Future.succeededFuture(calls.get() < 3 ? two : List.of(ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")));
      }, System::nanoTime);
      replicas.start(vertx, Duration.ofMillis(50));
      assertTrue(replicas.ready().succeeded(), "resolved at once");
      assertEquals(2, replicas.all().size());
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (replicas.all().size() < 3 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertEquals(3, replicas.all().size(), "resolved again on the timer: " + calls.get() + " lookups");
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  @Test
  void onlyAnUpstreamThatIsAnotherJitdiIsResolvedToAddresses() {
    Function<String, Future<List<InetAddress>>> resolver = host -> {
      throw new AssertionError("not resolved: " + host);
    };
    UpstreamConfig direct = new UpstreamConfig("quay.io", URI.create("https://quay.io"), Optional.empty(),
        Optional.empty(), Duration.ofSeconds(1), Duration.ofSeconds(1), List.of(), false);
    Replicas replicas = Replicas.of(direct, resolver);
    assertFalse(replicas.resolves());
    assertTrue(replicas.ready().succeeded());
    assertTrue(replicas.refresh().succeeded());
    assertEquals(List.of("quay.io:443"), ids(replicas));
  }

  private static List<String> ids(Replicas replicas) {
    return replicas.all().stream().map(Replicas.Replica::id).toList();
  }
}
