package io.jitdi.cache;

import io.jitdi.concurrent.Io;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.metrics.JitdiMetrics.CacheResult;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.jitdi.stream.RecentBytes;
import io.jitdi.upstream.UpstreamClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Blob requests: answered from the store when cached, otherwise by one {@link Fill} per digest that every concurrent
 * request joins, otherwise (too large to cache, or no disk room) by a verified relay of the upstream stream.
 */
public final class Blobs {
  /** How a blob request is to be answered. */
  public sealed interface Answer permits Hit, Filling, Relaying {}

  /** Cached: send the pinned file, then close it. */
  public record Hit(OpenBlob blob) implements Answer {}

  /** Being fetched: follow the fill's growing file. {@code size} is -1 when the upstream did not say. */
  public record Filling(Fill fill, long size, boolean coalesced) implements Answer {}

  /** Not cacheable: relay this paused upstream response through a verifier. */
  public record Relaying(HttpClientResponse upstream, long size) implements Answer {}

  private final Vertx vertx;
  private final BlobStore store;
  private final CacheLayout layout;
  private final Io io;
  private final JitdiMetrics metrics;
  private final ConcurrentHashMap<Digest, Fill> fills = new ConcurrentHashMap<>();
  /** What all fills together keep in memory for their followers: an eighth of the heap. */
  private final RecentBytes.Pool recentPool = new RecentBytes.Pool(Runtime.getRuntime().maxMemory() / 8);

  public Blobs(Vertx vertx, BlobStore store, CacheLayout layout, Io io, JitdiMetrics metrics) {
    this.vertx = vertx;
    this.store = store;
    this.layout = layout;
    this.io = io;
    this.metrics = metrics;
    metrics.gauge("jitdi.fills.inflight", "Blob fills from upstreams in progress", fills, ConcurrentHashMap::size);
  }

  /** Where each fill under way stands, for the status page. */
  public List<JsonObject> fillStatuses() {
    return fills.values().stream().map(Fill::status).toList();
  }

  public BlobStore store() {
    return store;
  }

  /**
   * Finds or fetches {@code digest}; fails with the mapped upstream error when it cannot be had.
   *
   * @param upstream where to fetch it from on a miss; null when there is nowhere (a JIT-only registry)
   */
  public Future<Answer> get(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    return store.open(digest).compose(open -> {
      if (open.isPresent()) {
        metrics.cacheRequest(JitdiMetrics.Kind.blob, CacheResult.hit);
        return Future.succeededFuture(new Hit(open.get()));
      }
      if (upstream == null) {
        return Future.failedFuture(unknown(digest));
      }
      Fill fresh = new Fill(vertx, digest, repo, upstream, store, layout, io, metrics, recentPool);
      Fill existing = fills.putIfAbsent(digest, fresh);
      Fill fill = existing != null ? existing : fresh;
      if (existing == null) {
        fresh.done().onComplete(ar -> fills.remove(digest, fresh));
        fresh.start();
      }
      boolean coalesced = existing != null;
      return fill.head().compose(head -> switch (head.mode()) {
        case ALREADY_CACHED -> get(upstream, repo, digest);
        case CACHE -> {
          metrics.cacheRequest(JitdiMetrics.Kind.blob, coalesced ? CacheResult.coalesced : CacheResult.miss);
          yield Future.succeededFuture(new Filling(fill, head.size(), coalesced));
        }
        case RELAY -> {
          metrics.cacheRequest(JitdiMetrics.Kind.blob, CacheResult.miss);
          yield fill.takeRelay().map(r -> Future.<Answer>succeededFuture(new Relaying(r, head.size())))
              .orElseGet(() -> upstream.blob(repo, digest, 0).map(r -> new Relaying(r,
                  UpstreamClient.contentLength(r).orElse(-1))));
        }
      });
    });
  }

  /**
   * As {@link #get}, but a fill is waited for: the answer is a {@link Hit} once the blob is committed, or a
   * {@link Relaying} when it cannot be cached. For readers that need the whole blob at once (configs, model blobs).
   */
  public Future<Answer> whole(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    return get(upstream, repo, digest).compose(answer -> answer instanceof Filling filling
        ? filling.fill().done().compose(v -> whole(upstream, repo, digest)) : Future.succeededFuture(answer));
  }

  /** The size of a blob for a HEAD request, from the store, a fill under way, or an upstream HEAD. */
  public Future<OptionalLong> size(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    return store.record(digest).compose(record -> {
      if (record.isPresent()) {
        metrics.cacheRequest(JitdiMetrics.Kind.blob, CacheResult.hit);
        return Future.succeededFuture(OptionalLong.of(record.get().size()));
      }
      Fill fill = fills.get(digest);
      if (fill != null && fill.head().succeeded() && fill.head().result().sizeKnown()) {
        return Future.succeededFuture(OptionalLong.of(fill.head().result().size()));
      }
      if (upstream == null) {
        return Future.failedFuture(unknown(digest));
      }
      return upstream.headBlob(repo, digest);
    });
  }

  private static RegistryException unknown(Digest digest) {
    return new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " is not cached, and this registry has no "
        + "upstream to fetch it from");
  }

  /** Pins a blob for the duration of a read that follows a fill. */
  public void pin(Digest digest) {
    store.pin(digest);
  }

  public void unpin(Digest digest) {
    store.unpin(digest);
  }

  public Io io() {
    return io;
  }

  public int fillsInFlight() {
    return fills.size();
  }
}
