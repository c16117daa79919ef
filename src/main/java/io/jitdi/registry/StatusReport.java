package io.jitdi.registry;

import io.jitdi.cache.Cache;
import io.jitdi.jit.JitImages;
import io.jitdi.jit.Rule;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.metrics.JitdiMetrics.CacheResult;
import io.jitdi.upstream.UpstreamClient;
import io.jitdi.upstream.UpstreamRouter;
import io.jitdi.upstream.Version;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.Map;

/**
 * The JSON behind the status page ({@code GET /_jitdi/status}): the cache against its budget, cache answers since
 * start, the images served the most bytes, fills and JIT builds under way, the shared bucket and what was last wrong
 * with it, and the configured upstreams (with their replicas) and rules.
 * Every figure is since this process started; Prometheus has the history.
 */
final class StatusReport {
  static final int TOP_IMAGES = 10;

  private final UpstreamRouter router;
  private final Cache cache;
  private final JitImages jit;
  private final JitdiMetrics metrics;
  private final Instant started = Instant.now();

  StatusReport(UpstreamRouter router, Cache cache, JitImages jit, JitdiMetrics metrics) {
    this.router = router;
    this.cache = cache;
    this.jit = jit;
    this.metrics = metrics;
  }

  JsonObject build() {
    JsonObject lookups = new JsonObject();
    long hits = 0;
    long all = 0;
    for (JitdiMetrics.Kind kind : JitdiMetrics.Kind.values()) {
      JsonObject byResult = new JsonObject();
      for (Map.Entry<CacheResult, Long> e : metrics.cacheRequests(kind).entrySet()) {
        byResult.put(e.getKey().name(), e.getValue());
        all += e.getValue();
        // a coalesced request waited for a fill and did not go upstream itself; a stale answer came from the cache
        hits += e.getKey() == CacheResult.miss ? 0 : e.getValue();
      }
      lookups.put(kind.name(), byResult);
    }
    JsonArray top = new JsonArray();
    metrics.topImages(TOP_IMAGES).forEach(e -> top.add(new JsonObject().put("image", e.getKey())
        .put("bytes", e.getValue())));
    JsonArray upstreams = new JsonArray();
    for (UpstreamClient u : router.upstreams().values()) {
      JsonArray urls = new JsonArray();
      u.config().urls().forEach(url -> urls.add(url.toString()));
      upstreams.add(new JsonObject().put("registry", u.key()).put("url", u.config().url().toString())
          .put("urls", urls).put("sendNs", u.config().sendNs()));
    }
    JsonArray rules = new JsonArray();
    for (Rule r : jit.rules().rules()) {
      rules.add(new JsonObject().put("name", r.name()).put("registry", r.registry().orElse("(any)"))
          .put("match", r.pattern().toString()).put("base", r.base().orElse("(none: model only)")));
    }
    return new JsonObject()
        .put("version", Version.VERSION)
        .put("started", started.toString())
        .put("cache", new JsonObject()
            .put("usedBytes", cache.store().committedBytes())
            .put("reservedBytes", cache.store().reservedBytes())
            .put("maxBytes", cache.store().maxSize())
            .put("blobs", cache.store().blobCount())
            .put("bucket", cache.bucketStatus().orElse(null)))
        .put("lookups", lookups)
        .put("hitRatio", all == 0 ? null : (double) hits / all)
        .put("topImages", top)
        .put("fills", new JsonArray(cache.blobs().fillStatuses()))
        .put("builds", new JsonArray(jit.builds()))
        .put("upstreams", upstreams)
        .put("rules", rules);
  }
}
