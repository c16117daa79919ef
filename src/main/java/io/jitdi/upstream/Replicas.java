package io.jitdi.upstream;

import io.jitdi.config.UpstreamConfig;
import io.jitdi.http.HttpOrigin;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.net.SocketAddress;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * The replicas of one upstream, and the order to try them in for a request.
 *
 * <p>Each configured URL is a replica. When the upstream is another jitdi ({@code sendNs}) and a URL's host resolves
 * to several addresses (a Kubernetes headless Service), each address is a replica instead, connected to by address
 * while the request keeps the host name (Host header, TLS SNI and certificate check); the name is resolved again every
 * {@link #RESOLVE_EVERY}. A host with one address, an IP literal, or an upstream without {@code sendNs} is the one
 * replica its URL names, connected to as any URL is.
 *
 * <p>Order: rendezvous (highest random weight) hashing. Each replica's weight for a routing key is a SHA-256 of the
 * key and the replica's identity, and replicas are tried by falling weight, so a key always goes to the same replica,
 * and adding or removing a replica moves only the keys that replica gains or held. A replica that failed is down for
 * {@link #DOWN_FOR}: it moves behind the replicas that are up, in the same relative order, so it is still tried when
 * every replica is down.
 *
 * <p>Thread-safe: the replica list is replaced whole, and the down marks are a concurrent map.
 */
final class Replicas {
  /** How long a replica that failed is tried only after every other. */
  static final Duration DOWN_FOR = Duration.ofSeconds(10);
  /** How often host names with several addresses are resolved again. */
  static final Duration RESOLVE_EVERY = Duration.ofSeconds(30);

  private static final Pattern IPV4 = Pattern.compile("[0-9.]+");

  /**
   * One replica.
   *
   * @param base the configured URL it belongs to (scheme, host as configured, port, path prefix)
   * @param address the address to connect to instead of resolving {@code base}'s host, or null
   * @param id its identity: {@code host:port} of the URL, or {@code address:port}; the hash input and metric label
   */
  record Replica(URI base, InetAddress address, String id) {
    /** The absolute URL of {@code pathAndQuery} (starting with {@code /v2/}) on this replica. */
    URI url(String pathAndQuery) {
      return URI.create(base.getScheme() + "://" + base.getRawAuthority() + pathPrefix(base) + pathAndQuery);
    }

    /** Where to connect for {@code url}: this replica's address when {@code url} is on its origin, else null. */
    SocketAddress server(URI url) {
      if (address == null || !HttpOrigin.same(url, base)) {
        return null;
      }
      return SocketAddress.inetSocketAddress(new InetSocketAddress(address, HttpOrigin.of(base).port()));
    }
  }

  /**
   * The replicas to try for one request, in order, and those passed over because they are down.
   *
   * @param order every replica: those up by rendezvous order, then those down, in the same order
   * @param skipped the down replicas ranked above the first replica that is up
   */
  record Plan(List<Replica> order, List<Replica> skipped) {}

  private final List<URI> urls;
  private final Set<HttpOrigin> origins;
  private final Function<String, Future<List<InetAddress>>> resolver;
  private final LongSupplier nanos;
  private final Map<String, Long> downUntil = new ConcurrentHashMap<>();
  private final Promise<Void> firstResolution = Promise.promise();
  /** The replicas of each configured URL, in configuration order. */
  private volatile Map<URI, List<Replica>> byUrl;
  private volatile List<Replica> all;

  /**
   * @param urls the configured URLs
   * @param resolver a host's addresses; null to take every URL as one replica, never resolving
   * @param nanos {@link System#nanoTime()}, or a test clock
   */
  Replicas(List<URI> urls, Function<String, Future<List<InetAddress>>> resolver, LongSupplier nanos) {
    this.urls = List.copyOf(urls);
    this.origins = Set.copyOf(urls.stream().map(HttpOrigin::of).toList());
    this.resolver = resolver;
    this.nanos = nanos;
    Map<URI, List<Replica>> initial = new LinkedHashMap<>();
    for (URI url : urls) {
      initial.put(url, List.of(urlReplica(url)));
    }
    publish(initial);
    if (!resolves()) {
      firstResolution.complete();
    }
  }

  /** The configured URLs of {@code config}, one replica each, never resolved. */
  static Replicas fixed(UpstreamConfig config) {
    return new Replicas(config.urls(), null, System::nanoTime);
  }

  /**
   * The replicas of {@code config}: resolved through {@code resolver} when the upstream is another jitdi
   * ({@code sendNs}), else {@link #fixed}. Call {@link #refresh()} to resolve.
   */
  static Replicas of(UpstreamConfig config, Function<String, Future<List<InetAddress>>> resolver) {
    return config.sendNs() ? new Replicas(config.urls(), resolver, System::nanoTime) : fixed(config);
  }

  /** Whether some URL has a host name to resolve. */
  boolean resolves() {
    return resolver != null && urls.stream().anyMatch(u -> !isIpLiteral(u.getHost()));
  }

  /** Completes once the first {@link #refresh()} is done (at once when nothing resolves). */
  Future<Void> ready() {
    return firstResolution.future();
  }

  /**
   * Resolves every URL's host again: several addresses give one replica each, one address (or a failure to resolve,
   * when the URL was never resolved before) gives the URL itself. A host that fails to resolve keeps its replicas.
   * Never fails.
   */
  Future<Void> refresh() {
    if (!resolves()) {
      return Future.succeededFuture();
    }
    List<Future<List<Replica>>> each = new ArrayList<>();
    Map<URI, List<Replica>> before = byUrl;
    for (URI url : urls) {
      if (isIpLiteral(url.getHost())) {
        each.add(Future.succeededFuture(before.get(url)));
        continue;
      }
      Future<List<InetAddress>> addresses;
      try {
        addresses = resolver.apply(url.getHost());
      } catch (RuntimeException e) {
        addresses = Future.failedFuture(e);
      }
      each.add(addresses.map(found -> replicasOf(url, found)).otherwise(e -> before.get(url)));
    }
    return Future.join(each).transform(ignored -> {
      Map<URI, List<Replica>> after = new LinkedHashMap<>();
      for (int i = 0; i < urls.size(); i++) {
        after.put(urls.get(i), each.get(i).result());
      }
      publish(after);
      firstResolution.tryComplete();
      return Future.succeededFuture();
    });
  }

  /**
   * Resolves now and then every {@code every} on {@code vertx}'s timers (until it closes), when some host name is to
   * be resolved; the resolver must not block the event loop.
   */
  void start(io.vertx.core.Vertx vertx, Duration every) {
    if (resolves()) {
      refresh();
      vertx.setPeriodic(every.toMillis(), id -> refresh());
    }
  }

  private static List<Replica> replicasOf(URI url, List<InetAddress> found) {
    List<InetAddress> distinct = found.stream().distinct().toList();
    if (distinct.size() <= 1) {
      return List.of(urlReplica(url));
    }
    int port = HttpOrigin.of(url).port();
    return distinct.stream().map(Replicas::withoutName).map(a -> new Replica(url, a, hostPort(a, port))).toList();
  }

  /**
   * The address alone: a resolved address keeps its host name, and Vert.x keys connection pools by it, so the
   * addresses of one name would share one pool (and one connection could serve another address's requests).
   */
  private static InetAddress withoutName(InetAddress address) {
    try {
      return InetAddress.getByAddress(address.getAddress());
    } catch (java.net.UnknownHostException e) {
      throw new IllegalStateException("an address of 4 or 16 bytes is valid", e);
    }
  }

  private void publish(Map<URI, List<Replica>> replicas) {
    Map<String, Replica> unique = new LinkedHashMap<>();
    replicas.values().forEach(list -> list.forEach(r -> unique.putIfAbsent(r.id(), r)));
    byUrl = Map.copyOf(replicas);
    all = List.copyOf(unique.values());
    downUntil.keySet().retainAll(unique.keySet()); // forget replicas that are gone (a pod replaced)
  }

  private static Replica urlReplica(URI url) {
    HttpOrigin origin = HttpOrigin.of(url);
    String host = origin.host().indexOf(':') >= 0 && !origin.host().startsWith("[") ? "[" + origin.host() + "]"
        : origin.host();
    return new Replica(url, null, host + ":" + origin.port());
  }

  private static String hostPort(InetAddress address, int port) {
    String host = address.getHostAddress();
    return (address instanceof Inet6Address ? "[" + host + "]" : host) + ":" + port;
  }

  private static boolean isIpLiteral(String host) {
    return host == null || host.indexOf(':') >= 0 || host.startsWith("[") || IPV4.matcher(host).matches();
  }

  /** The current replicas. */
  List<Replica> all() {
    return all;
  }

  /** The current replicas by rendezvous order for {@code key}, ignoring which are down. */
  List<Replica> order(String key) {
    return rendezvous(key, all);
  }

  /**
   * {@code replicas} ordered by falling weight for {@code key}: SHA-256 of the key, a 0 byte and the replica's hash
   * name, its first 8 bytes read as an unsigned number; ties (never seen in practice) by identity. The hash name is
   * the host alone when every replica has a host of its own (the pods of a StatefulSet), so the shares do not move
   * when the port changes; replicas that share a host are told apart by {@code host:port}.
   */
  static List<Replica> rendezvous(String key, List<Replica> replicas) {
    if (replicas.size() == 1) {
      return replicas;
    }
    boolean ownHosts = replicas.stream().map(r -> host(r.id())).distinct().count() == replicas.size();
    Map<Replica, Long> weights = new LinkedHashMap<>();
    for (Replica r : replicas) {
      weights.put(r, weight(key, ownHosts ? host(r.id()) : r.id()));
    }
    List<Replica> sorted = new ArrayList<>(replicas);
    sorted.sort(Comparator.<Replica, Long>comparing(weights::get, Long::compareUnsigned).reversed()
        .thenComparing(Replica::id));
    return sorted;
  }

  /** The host part of an identity {@code host:port} or {@code [v6]:port}. */
  static String host(String id) {
    return id.substring(0, id.lastIndexOf(':'));
  }

  /** The weight of replica {@code id} for {@code key}. */
  static long weight(String key, String id) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
    sha.update(key.getBytes(StandardCharsets.UTF_8));
    sha.update((byte) 0);
    sha.update(id.getBytes(StandardCharsets.UTF_8));
    return ByteBuffer.wrap(sha.digest()).getLong();
  }

  /** The order to try the replicas in for {@code key}: those up by rendezvous order, then those down. */
  Plan plan(String key) {
    List<Replica> ranked = order(key);
    if (downUntil.isEmpty()) {
      return new Plan(ranked, List.of());
    }
    long now = nanos.getAsLong();
    List<Replica> up = new ArrayList<>(ranked.size());
    List<Replica> down = new ArrayList<>();
    List<Replica> skipped = new ArrayList<>();
    for (Replica r : ranked) {
      if (isDown(r, now)) {
        down.add(r);
        if (up.isEmpty()) {
          skipped.add(r);
        }
      } else {
        up.add(r);
      }
    }
    if (up.isEmpty()) {
      skipped.clear();
    }
    up.addAll(down);
    return new Plan(up, skipped);
  }

  private boolean isDown(Replica r, long now) {
    Long until = downUntil.get(r.id());
    if (until == null) {
      return false;
    }
    if (now - until >= 0) {
      downUntil.remove(r.id(), until);
      return false;
    }
    return true;
  }

  /** Marks {@code replica} down for {@link #DOWN_FOR}: it gave no answer, or a 5xx. */
  void failed(Replica replica) {
    downUntil.put(replica.id(), nanos.getAsLong() + DOWN_FOR.toNanos());
  }

  /** Marks {@code replica} up: it answered. */
  void answered(Replica replica) {
    if (!downUntil.isEmpty()) {
      downUntil.remove(replica.id());
    }
  }

  /** Whether {@code url} is on the origin of a configured URL, where credentials may go. */
  boolean isOwn(URI url) {
    return origins.contains(HttpOrigin.of(url));
  }

  private static String pathPrefix(URI url) {
    String p = url.getRawPath();
    return p == null || p.equals("/") ? "" : p.replaceAll("/+$", "");
  }

  @Override
  public String toString() {
    return all.stream().map(Replica::id).toList().toString().toLowerCase(Locale.ROOT);
  }
}
