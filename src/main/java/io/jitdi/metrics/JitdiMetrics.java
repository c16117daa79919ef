package io.jitdi.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * jitdi's meters, by the names operators query. Every label has a bounded set of values: never a digest, tag or raw
 * path. Meters are resolved once per label set and cached, so recording on a hot path is a map lookup and an add.
 *
 * <p>Names as Prometheus shows them: {@code jitdi_cache_requests_total{kind,result}},
 * {@code jitdi_served_bytes_total{source}}, {@code jitdi_upstream_bytes_total{upstream}},
 * {@code jitdi_upstream_requests_total{upstream,kind,status}},
 * {@code jitdi_upstream_request_duration_seconds{upstream,kind}},
 * {@code jitdi_upstream_replica_requests_total{upstream,replica,outcome}}, {@code jitdi_cache_size_bytes},
 * {@code jitdi_cache_max_bytes}, {@code jitdi_cache_blobs}, {@code jitdi_cache_evictions_total},
 * {@code jitdi_cache_evicted_bytes_total}, {@code jitdi_fills_inflight}, {@code jitdi_digest_mismatch_total{upstream}},
 * {@code jitdi_jit_builds_total{rule,result}}, {@code jitdi_jit_build_duration_seconds{rule}},
 * {@code jitdi_jit_build_bytes_total}, {@code jitdi_jit_builds_inflight},
 * {@code jitdi_bucket_requests_total{op,outcome}}, {@code jitdi_bucket_bytes_total{direction}},
 * {@code jitdi_bucket_redirects_total}, and
 * {@code http_server_requests_seconds{method,route,status}}.
 */
public final class JitdiMetrics {
  /** What a cache request was for. */
  public enum Kind { blob, manifest }

  /** How a cache request was answered. */
  public enum CacheResult { hit, miss, coalesced, stale }

  /** Where served bytes came from. */
  public enum Source { cache, upstream, jit }

  /** How a request routed to one replica of an upstream went. */
  public enum ReplicaOutcome {
    /** the replica answered (any status below 500) */
    ok,
    /** no answer, or a 5xx: the replica is skipped for a while and the next one is tried */
    error,
    /** passed over without a request because it failed recently */
    skipped
  }

  /** Histogram buckets of upstream response times (to headers). */
  static final Duration[] UPSTREAM_BUCKETS = seconds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60);
  /** Histogram buckets of JIT build times. */
  static final Duration[] BUILD_BUCKETS = seconds(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600);

  private final PrometheusMeterRegistry registry;
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();
  /** Most images whose served bytes are tracked for the status page. */
  static final int MAX_IMAGES = 10_000;
  private final Map<String, LongAdder> servedByImage = new ConcurrentHashMap<>();
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();
  private final Counter evictions;
  private final Counter evictedBytes;
  private final Counter jitBuildBytes;

  public JitdiMetrics() {
    this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    evictions = Counter.builder("jitdi.cache.evictions").description("Blobs evicted by the LRU budget")
        .register(registry);
    evictedBytes = Counter.builder("jitdi.cache.evicted.bytes").description("Bytes evicted by the LRU budget")
        .register(registry);
    jitBuildBytes = Counter.builder("jitdi.jit.build.bytes").description("Bytes written by JIT layer builds")
        .register(registry);
    for (Kind kind : Kind.values()) {
      for (CacheResult result : CacheResult.values()) {
        cacheRequestCounter(kind, result);
      }
    }
    for (Source source : Source.values()) {
      servedBytesCounter(source);
    }
  }

  private static Duration[] seconds(double... values) {
    Duration[] out = new Duration[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = Duration.ofNanos((long) (values[i] * 1e9));
    }
    return out;
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** The Prometheus text exposition of every meter. */
  public String scrape() {
    return registry.scrape();
  }

  public void cacheRequest(Kind kind, CacheResult result) {
    cacheRequestCounter(kind, result).increment();
  }

  private Counter cacheRequestCounter(Kind kind, CacheResult result) {
    return counters.computeIfAbsent("cr|" + kind + "|" + result, k -> Counter.builder("jitdi.cache.requests")
        .description("Cache lookups by kind and how they were answered")
        .tag("kind", kind.name()).tag("result", result.name()).register(registry));
  }

  /**
   * Counts response bytes served for {@code image} ({@code registry/repository}), for the status page; not exported
   * to Prometheus (one series per image would be unbounded). Beyond {@link #MAX_IMAGES} images, new ones are not
   * tracked.
   */
  public void imageServed(String image, long bytes) {
    LongAdder adder = servedByImage.get(image);
    if (adder == null) {
      if (servedByImage.size() >= MAX_IMAGES) {
        return;
      }
      adder = servedByImage.computeIfAbsent(image, k -> new LongAdder());
    }
    adder.add(bytes);
  }

  /** The {@code n} images served the most bytes since start, most first. */
  public List<Map.Entry<String, Long>> topImages(int n) {
    return servedByImage.entrySet().stream().map(e -> Map.entry(e.getKey(), e.getValue().sum()))
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
        .limit(n).toList();
  }

  /** Cache lookups of {@code kind} since start, by how they were answered. */
  public Map<CacheResult, Long> cacheRequests(Kind kind) {
    Map<CacheResult, Long> out = new java.util.EnumMap<>(CacheResult.class);
    for (CacheResult r : CacheResult.values()) {
      Counter c = counters.get("cr|" + kind + "|" + r);
      out.put(r, c == null ? 0L : (long) c.count());
    }
    return out;
  }

  /** A counter to add served bytes to; resolve once per response, add per chunk. */
  public Counter servedBytesCounter(Source source) {
    return counters.computeIfAbsent("sb|" + source, k -> Counter.builder("jitdi.served.bytes")
        .description("Bytes sent to clients by where they came from").tag("source", source.name()).register(registry));
  }

  /** A counter of bytes read from {@code upstream}; resolve once per transfer. */
  public Counter upstreamBytesCounter(String upstream) {
    return counters.computeIfAbsent("ub|" + upstream, k -> Counter.builder("jitdi.upstream.bytes")
        .description("Bytes read from upstream registries").tag("upstream", upstream).register(registry));
  }

  /**
   * Records one upstream request.
   *
   * @param kind {@code manifest}, {@code blob}, {@code token}, {@code tags} or {@code head}
   * @param status the HTTP status, or {@code error} when no response came
   */
  public void upstreamRequest(String upstream, String kind, String status, Duration took) {
    counters.computeIfAbsent("ur|" + upstream + "|" + kind + "|" + status, k -> Counter.builder("jitdi.upstream.requests")
        .description("Requests sent to upstream registries").tag("upstream", upstream).tag("kind", kind)
        .tag("status", status).register(registry)).increment();
    timers.computeIfAbsent("ud|" + upstream + "|" + kind, k -> Timer.builder("jitdi.upstream.request.duration")
        .description("Time to the upstream's response headers").tag("upstream", upstream).tag("kind", kind)
        .serviceLevelObjectives(UPSTREAM_BUCKETS).register(registry)).record(took);
  }

  /**
   * Counts one request routed to {@code replica} ({@code host:port} or {@code address:port}) of {@code upstream}.
   */
  public void upstreamReplicaRequest(String upstream, String replica, ReplicaOutcome outcome) {
    counters.computeIfAbsent("rr|" + upstream + "|" + replica + "|" + outcome, k -> Counter.builder(
        "jitdi.upstream.replica.requests").description("Requests routed to each replica of an upstream, by outcome")
        .tag("upstream", upstream).tag("replica", replica).tag("outcome", outcome.name()).register(registry))
        .increment();
  }

  public void digestMismatch(String upstream) {
    digestMismatchCounter(upstream).increment();
  }

  /**
   * Registers the per-upstream counters at 0, so that {@code increase()} in alerts sees the first event (a series
   * that appears at 1 has no increase).
   */
  public void registerUpstream(String upstream) {
    digestMismatchCounter(upstream);
    upstreamBytesCounter(upstream);
  }

  private Counter digestMismatchCounter(String upstream) {
    return counters.computeIfAbsent("dm|" + upstream, k -> Counter.builder("jitdi.digest.mismatch")
        .description("Upstream content whose sha256 or size did not match its digest").tag("upstream", upstream)
        .register(registry));
  }

  public void evicted(long bytes) {
    evictions.increment();
    evictedBytes.increment(bytes);
  }

  /** Records one HTTP request served, by route template (never the raw path). */
  public void httpRequest(String method, String route, int status, Duration took) {
    timers.computeIfAbsent("hs|" + method + "|" + route + "|" + status, k -> Timer.builder("http.server.requests")
        .description("HTTP requests served, by route template").tag("method", method).tag("route", route)
        .tag("status", Integer.toString(status)).register(registry)).record(took);
  }

  public void jitBuild(String rule, String result) {
    jitBuildCounter(rule, result).increment();
  }

  /** Registers a rule's build counter at 0, so that increase() in alerts sees its first failure. */
  public void registerJitBuild(String rule, String result) {
    jitBuildCounter(rule, result);
  }

  private Counter jitBuildCounter(String rule, String result) {
    return counters.computeIfAbsent("jb|" + rule + "|" + result, k -> Counter.builder("jitdi.jit.builds")
        .description("JIT image requests by rule and outcome").tag("rule", rule).tag("result", result)
        .register(registry));
  }

  public void jitBuildDuration(String rule, Duration took) {
    timers.computeIfAbsent("jd|" + rule, k -> Timer.builder("jitdi.jit.build.duration")
        .description("Time to build a JIT image").tag("rule", rule).serviceLevelObjectives(BUILD_BUCKETS)
        .register(registry)).record(took);
  }

  public Counter jitBuildBytes() {
    return jitBuildBytes;
  }

  /** Registers a gauge that reads {@code state} at scrape time. */
  public <T> void gauge(String name, String description, T state, ToDoubleFunction<T> value) {
    Gauge.builder(name, state, value).description(description).register(registry);
  }

  /** Registers a gauge read from a supplier at scrape time. */
  public void gauge(String name, String description, Supplier<Number> value) {
    Gauge.builder(name, value).description(description).register(registry);
  }

  /** What a request to the shared bucket did. */
  public enum BucketOp { head, get, put, upload_part, complete, abort, list, check }

  /**
   * Counts one request to the shared bucket.
   *
   * @param outcome {@code ok}, {@code missing} (404), {@code denied} (403) or {@code error}
   */
  public void bucketRequest(BucketOp op, String outcome) {
    counters.computeIfAbsent("bq|" + op + "|" + outcome, k -> Counter.builder("jitdi.bucket.requests")
        .description("Requests to the shared bucket by operation and outcome").tag("op", op.name())
        .tag("outcome", outcome).register(registry)).increment();
  }

  /** A counter of bytes read from ({@code read}) or written to ({@code write}) the shared bucket. */
  public Counter bucketBytes(String direction) {
    return counters.computeIfAbsent("bb|" + direction, k -> Counter.builder("jitdi.bucket.bytes")
        .description("Blob and record bytes moved to and from the shared bucket").tag("direction", direction)
        .register(registry));
  }

  /** Counts a blob GET answered with a redirect to a presigned bucket URL. */
  public void bucketRedirect() {
    counters.computeIfAbsent("br", k -> Counter.builder("jitdi.bucket.redirects")
        .description("Blob GETs answered with a 307 to a presigned bucket URL").register(registry)).increment();
  }

  /** Registers the bucket meters at zero, so dashboards show them before the first request. */
  public void registerBucket() {
    bucketBytes("read");
    bucketBytes("write");
    counters.computeIfAbsent("br", k -> Counter.builder("jitdi.bucket.redirects")
        .description("Blob GETs answered with a 307 to a presigned bucket URL").register(registry));
  }
}
