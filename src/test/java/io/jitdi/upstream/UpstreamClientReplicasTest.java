package io.jitdi.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.config.UpstreamConfig;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Digest;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpServer;
import java.net.InetAddress;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link UpstreamClient} over several replicas, each a Vert.x HTTP server on loopback. */
class UpstreamClientReplicasTest {
  static final RepositoryName REPO = RepositoryName.parse("team/app");

  private final Vertx vertx = Vertx.vertx();
  private final HttpClient http = vertx.createHttpClient();
  private final JitdiMetrics metrics = new JitdiMetrics();

  /** A replica: what it was asked, and the status it answers with (0: the normal answer). */
  static final class Server {
    final HttpServer http;
    /** Method, path and query of each request. */
    final List<String> seen = new CopyOnWriteArrayList<>();
    final List<String> hosts = new CopyOnWriteArrayList<>();
    final Map<String, String> authorizations = new ConcurrentHashMap<>();
    final AtomicInteger status = new AtomicInteger();
    volatile boolean requireBasic;
    volatile String redirectTo;

    Server(HttpServer http) {
      this.http = http;
    }

    String url() {
      return "http://127.0.0.1:" + http.actualPort();
    }

    int blobRequests() {
      return (int) seen.stream().filter(r -> r.contains("/blobs/")).count();
    }
  }

  private final List<Server> servers = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    await(vertx.close());
  }

  /** Runs {@code call} on a Vert.x context, as the registry calls the client, and waits for its result. */
  private <T> T on(java.util.function.Supplier<Future<T>> call) throws Exception {
    io.vertx.core.Promise<T> result = io.vertx.core.Promise.promise();
    vertx.getOrCreateContext().runOnContext(v -> call.get().onComplete(result));
    return await(result.future());
  }

  private static <T> T await(Future<T> future) throws Exception {
    try {
      return future.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception cause ? cause : e;
    }
  }

  private Server start(String host, int port) throws Exception {
    HttpServer httpServer = vertx.createHttpServer();
    Server server = new Server(httpServer);
    httpServer.requestHandler(request -> {
      server.seen.add(request.method() + " " + request.uri());
      server.hosts.add(request.authority().toString());
      String auth = request.getHeader("Authorization");
      if (auth != null) {
        server.authorizations.put(request.path(), auth);
      }
      if (server.status.get() != 0) {
        request.response().setStatusCode(server.status.get()).end("broken");
      } else if (server.requireBasic && auth == null) {
        request.response().setStatusCode(401).putHeader("WWW-Authenticate", "Basic realm=\"r\"").end();
      } else if (server.redirectTo != null && request.path().contains("/blobs/")) {
        request.response().setStatusCode(307).putHeader("Location", server.redirectTo + request.path()).end();
      } else {
        request.response().putHeader("Content-Length", "5").end(request.method().name().equals("HEAD") ? "" : "hello");
      }
    });
    await(httpServer.listen(port, host));
    servers.add(server);
    return server;
  }

  private UpstreamClient client(List<String> urls, Optional<String> user,
      Function<String, Future<List<InetAddress>>> resolver) throws Exception {
    UpstreamConfig config = new UpstreamConfig("jit.local", urls.stream().map(URI::create).toList(), user,
        user.map(u -> "pw"), Duration.ofSeconds(2), Duration.ofSeconds(5), List.of(), true);
    Replicas replicas = resolver == null ? Replicas.fixed(config) : Replicas.of(config, resolver);
    await(replicas.refresh());
    return new UpstreamClient(config, http, new TokenCache(Clock.systemUTC()), metrics, replicas);
  }

  private static Digest digest(int i) {
    return Digest.sha256Of(("blob " + i).getBytes());
  }

  /** The server a blob's rendezvous order names first. */
  private Server ownerOf(UpstreamClient client, Digest digest, int rank) {
    String id = client.replicas().order(digest.toString()).get(rank).id();
    return servers.stream().filter(s -> id.endsWith(":" + s.http.actualPort())).findFirst().orElseThrow();
  }

  private double replicaCount(Server server, String outcome) {
    String label = "replica=\"127.0.0.1:" + server.http.actualPort() + "\"";
    return metrics.scrape().lines().filter(l -> l.startsWith("jitdi_upstream_replica_requests_total{")
        && l.contains(label) && l.contains("outcome=\"" + outcome + "\""))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
  }

  @Test
  void eachRequestGoesToTheReplicaItsKeyNames() throws Exception {
    for (int i = 0; i < 3; i++) {
      start("127.0.0.1", 0);
    }
    UpstreamClient client = client(servers.stream().map(Server::url).toList(), Optional.empty(), null);
    int[] expected = new int[3];
    for (int i = 0; i < 30; i++) {
      int n = i;
      Server owner = ownerOf(client, digest(i), 0);
      expected[servers.indexOf(owner)]++;
      int before = owner.blobRequests();
      assertEquals(5, on(() -> client.headBlob(REPO, digest(n))).getAsLong());
      assertEquals(before + 1, owner.blobRequests(), "blob " + i + " went to its first replica");
    }
    for (int i = 0; i < 3; i++) {
      assertEquals(expected[i], servers.get(i).blobRequests());
      assertTrue(expected[i] > 0 && expected[i] < 30, "spread over the replicas: " + java.util.Arrays.toString(expected));
      assertEquals(expected[i], replicaCount(servers.get(i), "ok"));
    }
    // manifests and tags go by repository name: one replica for a name
    String repoOwner = client.replicas().order(REPO.toString()).get(0).id();
    for (int i = 0; i < 5; i++) {
      int n = i;
      on(() -> client.headManifest(REPO, io.jitdi.oci.Reference.parse("v" + n), null));
    }
    for (Server s : servers) {
      long manifests = s.seen.stream().filter(r -> r.contains("/manifests/")).count();
      assertEquals(repoOwner.endsWith(":" + s.http.actualPort()) ? 5 : 0, manifests);
      s.seen.forEach(r -> assertTrue(r.endsWith("?ns=jit.local"), "sendNs is kept: " + r));
    }
  }

  @Test
  void aFailingReplicaIsSkippedAndTheRequestGoesToTheNextOne() throws Exception {
    for (int i = 0; i < 3; i++) {
      start("127.0.0.1", 0);
    }
    UpstreamClient client = client(servers.stream().map(Server::url).toList(), Optional.empty(), null);
    Digest blob = digest(1);
    Server first = ownerOf(client, blob, 0);
    Server second = ownerOf(client, blob, 1);
    first.status.set(503);
    assertEquals(5, on(() -> client.headBlob(REPO, blob)).getAsLong(), "answered by the next replica");
    assertEquals(1, first.blobRequests());
    assertEquals(1, second.blobRequests());
    assertEquals(1, replicaCount(first, "error"));

    // while it is down, the first replica is not asked at all
    assertEquals(5, on(() -> client.headBlob(REPO, blob)).getAsLong());
    assertEquals(1, first.blobRequests(), "skipped while down");
    assertEquals(2, second.blobRequests());
    assertEquals(1, replicaCount(first, "skipped"));

    // a replica that does not answer at all (connection refused) is passed over too
    await(second.http.close());
    Server third = ownerOf(client, blob, 2);
    assertEquals(5, on(() -> client.headBlob(REPO, blob)).getAsLong());
    assertEquals(1, third.blobRequests());
    assertEquals(1, replicaCount(second, "error"));

    // the last replica up fails too: the ones marked down are still tried, in the key's order
    third.status.set(500);
    first.status.set(0);
    assertEquals(5, on(() -> client.headBlob(REPO, blob)).getAsLong(), "answered by a replica marked down");
    assertEquals(2, third.blobRequests());
    assertEquals(2, first.blobRequests(), "the down replica was tried again when no other was left");

    // all failing: the last one's answer is the result
    first.status.set(502);
    RegistryException e = org.junit.jupiter.api.Assertions.assertThrows(RegistryException.class,
        () -> on(() -> client.headBlob(REPO, blob)));
    assertTrue(e.getMessage().contains("unreachable") || e.getMessage().contains("failed with"), e.getMessage());
    assertEquals(3, first.blobRequests());
    assertEquals(3, third.blobRequests());

    // 4xx is an answer, not a failure of the replica
    first.status.set(404);
    third.status.set(0);
    Digest other = java.util.stream.IntStream.range(0, 100).mapToObj(UpstreamClientReplicasTest::digest)
        .filter(d -> ownerOf(client, d, 0) == first).findFirst().orElseThrow();
    assertTrue(org.junit.jupiter.api.Assertions.assertThrows(RegistryException.class,
        () -> on(() -> client.headBlob(REPO, other))).getMessage().contains("no such blob"));
  }

  @Test
  void credentialsGoToEveryReplicaButNotWhereTheyRedirect() throws Exception {
    for (int i = 0; i < 2; i++) {
      start("127.0.0.1", 0).requireBasic = true;
    }
    Server cdn = start("127.0.0.1", 0);
    UpstreamClient client = client(List.of(servers.get(0).url(), servers.get(1).url()), Optional.of("me"), null);
    for (int i = 0; i < 20; i++) {
      int n = i;
      on(() -> client.headManifest(RepositoryName.parse("r" + n + "/x"), io.jitdi.oci.Reference.parse("t"), null));
    }
    assertTrue(servers.get(0).authorizations.size() > 0 && servers.get(1).authorizations.size() > 0,
        "both replicas got requests with credentials");
    servers.get(0).redirectTo = cdn.url();
    servers.get(1).redirectTo = cdn.url();
    assertEquals(5, on(() -> client.headBlob(REPO, digest(3))).getAsLong());
    assertEquals(1, cdn.blobRequests());
    assertTrue(cdn.authorizations.isEmpty(), "no credentials to a redirect target: " + cdn.authorizations);
  }

  @Test
  void aHostWithSeveralAddressesIsConnectedToByAddressKeepingItsName() throws Exception {
    Server a = start("127.0.0.1", 0);
    int port = a.http.actualPort();
    Server b;
    try {
      b = start("127.0.0.2", port);
    } catch (Exception e) {
      org.junit.jupiter.api.Assumptions.abort("127.0.0.2 is not a loopback address here: " + e);
      return;
    }
    List<String> asked = new CopyOnWriteArrayList<>();
    Function<String, Future<List<InetAddress>>> dns = host -> {
      asked.add(host);
      try {
        // as the JDK resolver gives them: each address carries the name
        return Future.succeededFuture(List.of(InetAddress.getByAddress(host, new byte[] {127, 0, 0, 1}),
            InetAddress.getByAddress(host, new byte[] {127, 0, 0, 2})));
      } catch (java.net.UnknownHostException e) {
        return Future.failedFuture(e);
      }
    };
    // the name does not resolve anywhere: only connecting by the resolved addresses can reach the servers
    UpstreamClient client = client(List.of("http://central.replicas.invalid:" + port), Optional.empty(), dns);
    assertEquals(List.of("central.replicas.invalid"), asked);
    for (int i = 0; i < 20; i++) {
      int n = i;
      Server owner = client.replicas().order(digest(i).toString()).get(0).id().startsWith("127.0.0.2") ? b : a;
      int before = owner.blobRequests();
      on(() -> client.headBlob(REPO, digest(n)));
      assertEquals(before + 1, owner.blobRequests(), "blob " + i + " reached the address its order names");
      assertEquals("central.replicas.invalid:" + port, owner.hosts.get(owner.hosts.size() - 1),
          "the Host header names the configured host");
    }
    assertTrue(a.blobRequests() > 0 && b.blobRequests() > 0, a.blobRequests() + " / " + b.blobRequests());
    assertEquals(20, a.blobRequests() + b.blobRequests());
    assertTrue(a.authorizations.isEmpty());
  }
}
