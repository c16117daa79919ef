package io.jitdi.upstream;

import io.jitdi.concurrent.Io;
import io.jitdi.config.UpstreamConfig;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Picks the upstream for a request, and the repository name to ask it for.
 *
 * <ol>
 *   <li>{@code ?ns=<host>} (what containerd sends to a mirror) selects the upstream with that key.</li>
 *   <li>Otherwise a first path segment equal to a configured key selects it ({@code /v2/ghcr.io/org/img/...}), for
 *       clients that cannot send {@code ns}.</li>
 *   <li>Otherwise the default upstream.</li>
 * </ol>
 *
 * A registry that is not configured, whether named by {@code ns} or by a first segment that looks like a host (has a
 * dot or a port, or is {@code localhost}), is refused with 404 {@code NAME_UNKNOWN} before any connection: jitdi is
 * not an open proxy. For {@code docker.io}, a one-component name gets {@code library/}.
 */
public final class UpstreamRouter {
  public static final String DOCKER_HUB = "docker.io";
  private static final java.util.regex.Pattern HOST = java.util.regex.Pattern.compile(
      "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::[0-9]{1,5})?");

  /**
   * Where a request goes.
   *
   * @param registry the upstream key, or the host of a registry that only JIT rules answer for
   * @param upstream null for a JIT-only registry
   */
  public record Route(String registry, UpstreamClient upstream, RepositoryName name) {
    public boolean jitOnly() {
      return upstream == null;
    }
  }

  private final Map<String, UpstreamClient> upstreams;
  private final Set<String> jitRegistries;
  private final UpstreamClient defaultUpstream;
  private PresignedFetch presigned;

  /** Body chunks of up to this size (Netty's default is 8 KiB): each chunk is a trip through the fill's lanes. */
  static final int MAX_CHUNK = 256 * 1024;
  /** Socket receive buffer for upstream connections: blob bodies arrive in few large reads. */
  static final int READ_BUFFER = 1024 * 1024;

  /**
   * Connects to the configured upstreams: one HTTP client tuned for blob bodies, shared token cache, one
   * {@link UpstreamClient} per upstream (registered with {@code metrics}), and for an upstream that is another jitdi,
   * its replicas' host names resolved now and every {@link Replicas#RESOLVE_EVERY} on {@code io}. The wiring
   * every command that talks to upstreams shares.
   *
   * @param ruleRegistries the registries JIT rules name; those without an upstream are JIT-only
   */
  public static UpstreamRouter connect(Vertx vertx, Io io, Collection<UpstreamConfig> configs, String defaultKey,
      Set<String> ruleRegistries, JitdiMetrics metrics) {
    HttpClient http = vertx.createHttpClient(new HttpClientOptions()
        .setKeepAlive(true)
        .setTcpNoDelay(true)
        .setForceSni(true)
        .setDecompressionSupported(false)
        .setReceiveBufferSize(READ_BUFFER)
        .setMaxChunkSize(MAX_CHUNK)
        .setMaxRedirects(0), new PoolOptions().setHttp1MaxSize(32));
    TokenCache tokens = new TokenCache(Clock.systemUTC());
    Map<String, UpstreamClient> upstreams = new LinkedHashMap<>();
    Function<String, Future<List<InetAddress>>> resolver =
        host -> io.call(() -> List.of(InetAddress.getAllByName(host)));
    for (UpstreamConfig upstream : configs) {
      Replicas replicas = Replicas.of(upstream, resolver);
      replicas.start(vertx, Replicas.RESOLVE_EVERY);
      upstreams.put(upstream.key(), new UpstreamClient(upstream, http, tokens, metrics, replicas));
      metrics.registerUpstream(upstream.key());
    }
    Set<String> jitRegistries = new TreeSet<>(ruleRegistries);
    jitRegistries.removeAll(upstreams.keySet());
    UpstreamRouter router = new UpstreamRouter(upstreams, defaultKey, jitRegistries);
    router.presigned = new PresignedFetch(http, PRESIGNED_CONNECT_TIMEOUT, PRESIGNED_IDLE_TIMEOUT);
    return router;
  }

  /** Timeouts of fetches from presigned object-store URLs. */
  static final Duration PRESIGNED_CONNECT_TIMEOUT = Duration.ofSeconds(5);
  static final Duration PRESIGNED_IDLE_TIMEOUT = Duration.ofSeconds(60);

  /** Fetches blobs from presigned object-store URLs on the upstreams' HTTP client; null when not {@link #connect}ed. */
  public PresignedFetch presigned() {
    return presigned;
  }

  public UpstreamRouter(Map<String, UpstreamClient> upstreams, String defaultKey) {
    this(upstreams, defaultKey, Set.of());
  }

  /**
   * @param jitRegistries registry hosts of JIT rules ({@code registry: jit.local}) that are not upstreams
   */
  public UpstreamRouter(Map<String, UpstreamClient> upstreams, String defaultKey, Set<String> jitRegistries) {
    this.upstreams = Map.copyOf(upstreams);
    this.jitRegistries = Set.copyOf(jitRegistries);
    this.defaultUpstream = upstreams.get(defaultKey);
    if (defaultUpstream == null) {
      throw new IllegalArgumentException("default upstream " + defaultKey + " is not configured");
    }
  }

  /**
   * Routes a request for {@code rawName} (the path's name part, undecoded).
   *
   * @param ns the {@code ns} query parameter, or null
   * @throws RegistryException {@code NAME_UNKNOWN} for an unconfigured registry, {@code NAME_INVALID} for a bad name
   */
  public Route route(String ns, String rawName) {
    if (ns != null && !ns.isEmpty()) {
      String key = ns.toLowerCase(Locale.ROOT);
      UpstreamClient upstream = upstreams.get(key);
      if (upstream != null) {
        return new Route(key, upstream, name(upstream, rawName));
      }
      if (jitRegistries.contains(key)) {
        return new Route(key, null, RepositoryName.parse(rawName));
      }
      throw notConfigured(ns);
    }
    int slash = rawName.indexOf('/');
    if (slash > 0) {
      String first = rawName.substring(0, slash);
      UpstreamClient upstream = upstreams.get(first);
      if (upstream != null) {
        return new Route(first, upstream, name(upstream, rawName.substring(slash + 1)));
      }
      if (jitRegistries.contains(first)) {
        return new Route(first, null, RepositoryName.parse(rawName.substring(slash + 1)));
      }
      if (looksLikeHost(first)) {
        throw notConfigured(first);
      }
    }
    return new Route(defaultUpstream.key(), defaultUpstream, name(defaultUpstream, rawName));
  }

  /** The registries JIT rules name that are not upstreams: answered only by JIT images and what they built. */
  public Set<String> jitRegistries() {
    return jitRegistries;
  }

  public Map<String, UpstreamClient> upstreams() {
    return upstreams;
  }

  private static RepositoryName name(UpstreamClient upstream, String raw) {
    RepositoryName name = RepositoryName.parse(raw);
    if (DOCKER_HUB.equals(upstream.key()) && name.components().size() == 1) {
      return name.prefixed("library");
    }
    return name;
  }

  /** A host name with a dot or a port, or {@code localhost}, as image references recognise registries. */
  private static boolean looksLikeHost(String segment) {
    return HOST.matcher(segment).matches()
        && (segment.indexOf('.') >= 0 || segment.indexOf(':') >= 0 || segment.startsWith("localhost"));
  }

  private static RegistryException notConfigured(String host) {
    String shown = host.length() > 100 ? host.substring(0, 100) + "..." : host;
    return new RegistryException(ErrorCode.NAME_UNKNOWN, "registry " + shown + " is not configured in jitdi; add it "
        + "under upstreams: in the config to allow it", Map.of("registry", shown));
  }
}
