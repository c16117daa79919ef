package io.jitdi.cache;

import io.jitdi.concurrent.Io;
import io.jitdi.metrics.JitdiMetrics.CacheResult;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.jitdi.stream.DigestingFileSink;
import io.jitdi.stream.Envelope;
import io.jitdi.stream.Growth;
import io.jitdi.upstream.UpstreamClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Blob requests: answered from the store when cached, otherwise by one {@link Fill} per digest that every concurrent
 * request joins, otherwise (too large to cache, or no disk room) by a verified relay of the upstream body. Every
 * answer is a {@link BlobBody}.
 */
public final class Blobs {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Blobs.class);
  /** Who asks for a blob; it decides where a miss may be answered from and how a fill is admitted. */
  private enum Reader {
    /** A client's GET: may be sent a blob held inside another ({@link BlobOrigins#inside}). */
    CLIENT,
    /** A reader of the whole committed file from its first byte (configs, model blobs). */
    WHOLE,
    /** A JIT build: see {@link #forBuild}. */
    BUILD
  }

  private final Vertx vertx;
  private final BlobStore store;
  private final Io io;
  private final JitdiMetrics metrics;
  private final ConcurrentHashMap<Digest, Fill> fills = new ConcurrentHashMap<>();
  private volatile BlobOrigins origins = BlobOrigins.NONE;
  /** Checks of blobs read inside another ({@link #openInside}), under way or done lately. */
  private final java.util.concurrent.ConcurrentMap<InsideKey, Future<Void>> insideChecks =
      com.github.benmanes.caffeine.cache.Caffeine.newBuilder().maximumSize(10_000)
          .expireAfterWrite(java.time.Duration.ofMinutes(10)).<InsideKey, Future<Void>>build().asMap();
  private volatile BucketTier bucket;
  /** Digests clients asked for (not builds), the most recent ones. */
  private final java.util.concurrent.ConcurrentMap<Digest, Boolean> servedToClients =
      com.github.benmanes.caffeine.cache.Caffeine.newBuilder().maximumSize(100_000).<Digest, Boolean>build().asMap();

  public Blobs(Vertx vertx, BlobStore store, Io io, JitdiMetrics metrics) {
    this.vertx = vertx;
    this.store = store;
    this.io = io;
    this.metrics = metrics;
    metrics.gauge("jitdi.fills.inflight", "Blob fills from upstreams in progress", fills, ConcurrentHashMap::size);
  }

  /** Where each fill under way stands, for the status page. */
  public List<JsonObject> fillStatuses() {
    return fills.values().stream().map(Fill::status).toList();
  }

  /** Who is asked where a missing blob comes from (the JIT images); set once at start-up. */
  public void useOrigins(BlobOrigins origins) {
    this.origins = origins;
  }

  /** The shared bucket behind the store (a central tier); set once at start-up. */
  void useBucket(BucketTier bucket) {
    this.bucket = bucket;
  }

  /**
   * Where a GET of {@code digest} should be redirected: a presigned URL of the shared bucket's copy when the bucket
   * is configured with {@code redirect: true} and has it; empty otherwise, or when the bucket cannot be asked (the
   * local store answers then).
   */
  public Future<Optional<URI>> redirect(Digest digest) {
    BucketTier tier = bucket;
    if (tier == null || !tier.redirects()) {
      return Future.succeededFuture(Optional.empty());
    }
    return tier.size(digest).compose(size -> size.isPresent() ? tier.presigned(digest).map(Optional::of)
            : Future.succeededFuture(Optional.<URI>empty()))
        .onSuccess(url -> url.ifPresent(u -> tier.redirected()))
        .otherwise(Optional.empty());
  }

  /**
   * Answers a client's blob request: from the store, else from where {@link BlobOrigins} says the blob comes from
   * (rebuilt here, or a base image's upstream), else from the request's upstream. Fails with the mapped upstream
   * error when it cannot be had.
   *
   * @param upstream the request's upstream; null when there is none (a JIT-only registry)
   */
  public Future<BlobBody> get(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    servedToClients.put(digest, Boolean.TRUE);
    return get(upstream, repo, digest, 1, Reader.CLIENT);
  }

  /**
   * As {@link #get}, for a JIT build that reads an artifact blob into a layer: the blob is not counted as served to a
   * client, so {@link #dropBuildSource} may remove it once the layer holds its bytes; and a fill this starts is stored
   * even when the budget has no room for it beside the build's own reservation (a build cannot read a relay; a raw
   * model blob is dropped once its layer holds the bytes, and eviction after the build brings the cache back within
   * the budget), as long as the blob fits the budget on its own and the disk has room. A build that joins a fill a
   * client started, which is being relayed, still fails ("does not fit").
   */
  public Future<BlobBody> forBuild(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    return get(upstream, repo, digest, 1, Reader.BUILD);
  }

  /**
   * Fetches {@code digest} for a JIT build straight into a new stored blob around it, its container (a layer of one
   * model file: the model between tar headers and padding): the blob's digest and size are checked and the
   * container's digest computed in the same pass, and the model is written once. Requests for the blob meanwhile join
   * this fetch and read its range of the file; the blob is not stored on its own afterwards ({@code committed}
   * records where it is, before the fetch is done for anyone).
   *
   * @param progress told the blob's bytes written so far
   * @return the container once stored; empty when the blob is at hand already (stored, or being fetched), or when the
   *     container is larger than the whole budget: read it with {@link #forBuild} then
   */
  public Future<Optional<DigestingFileSink.Written>> fillInside(UpstreamClient upstream, RepositoryName repo,
      Digest digest, Envelope envelope, Envelope.Committed committed, java.util.function.LongConsumer progress) {
    return located(upstream, repo, digest).compose(origin -> store.record(digest).compose(record -> {
      // a container larger than the whole budget could not be kept: the plain path says so
      if (record.isPresent() || fills.containsKey(digest) || envelope.size() > store.maxSize()) {
        return Future.succeededFuture(Optional.empty());
      }
      return sourceFor(origin.upstream(), origin.repository(), digest).compose(source -> {
        if (source == null) {
          return Future.failedFuture(unknown(digest));
        }
        Fill fresh = new Fill(vertx, digest, origin.repository(), source, bucket, store, io, metrics, true,
            new Fill.Enveloping(envelope, committed, progress));
        if (fills.putIfAbsent(digest, fresh) != null) {
          return Future.succeededFuture(Optional.empty());
        }
        metrics.cacheRequest(JitdiMetrics.Kind.blob, CacheResult.miss);
        fresh.done().onComplete(ar -> fills.remove(digest, fresh));
        fresh.start();
        return fresh.done().map(v -> Optional.ofNullable(fresh.container()));
      });
    }));
  }

  /**
   * Removes artifact blob {@code digest} from the store after a build put its bytes into a layer, so a model is kept
   * once: unless a client pulled it itself (then it stays, for the next such pull) or someone is reading it. Blocking.
   */
  public boolean dropBuildSource(Digest digest) throws java.io.IOException {
    return !servedToClients.containsKey(digest) && store.drop(digest);
  }

  /**
   * A blob rebuilt into the store by its origin can be evicted again before this request pins it (a tight budget
   * under load); it is then located (rebuilt) once more, {@code retries} times at most.
   */
  private Future<BlobBody> get(UpstreamClient upstream, RepositoryName repo, Digest digest, int retries,
      Reader reader) {
    return located(upstream, repo, digest).compose(origin -> fetch(origin.upstream(), origin.repository(), digest,
        reader).recover(e -> origin.upstream() == null && retries > 0 && e instanceof RegistryException r
            && r.code() == ErrorCode.BLOB_UNKNOWN ? get(upstream, repo, digest, retries - 1, reader)
            : Future.failedFuture(e)));
  }

  /**
   * Where to fetch {@code digest} from on a miss: its known origin, or the request's upstream. When the shared bucket
   * cannot be asked, a blob this replica can answer without it (a fill of it under way, its bytes inside a stored
   * blob) is still answered; anything else fails with the bucket's 503.
   */
  private Future<BlobOrigins.Origin> located(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    BlobOrigins.Origin own = new BlobOrigins.Origin(upstream, repo);
    return store.record(digest).compose(record -> record.isPresent() ? Future.succeededFuture(own)
        : inBucket(digest).recover(unreachable -> answeredHere(digest).compose(here -> here
            ? Future.succeededFuture(true) : Future.failedFuture(unreachable)))
            .compose(held -> held ? Future.succeededFuture(own)
                : origins.locate(digest).map(found -> found.orElse(own))));
  }

  /** Whether this replica can answer {@code digest} from what it has: a fill under way, or a stored blob holding it. */
  private Future<Boolean> answeredHere(Digest digest) {
    return fills.containsKey(digest) ? Future.succeededFuture(true) : inside(digest).map(Optional::isPresent);
  }

  /** Whether the shared bucket holds {@code digest} (then it is filled from there, never built again). */
  private Future<Boolean> inBucket(Digest digest) {
    BucketTier tier = bucket;
    return tier == null ? Future.succeededFuture(false) : tier.size(digest).map(OptionalLong::isPresent);
  }

  /**
   * Finds or fetches {@code digest} from {@code upstream} (null: nowhere to fetch from), for {@code reader}.
   */
  private Future<BlobBody> fetch(UpstreamClient upstream, RepositoryName repo, Digest digest, Reader reader) {
    return store.open(digest).compose(open -> {
      if (open.isPresent()) {
        metrics.cacheRequest(JitdiMetrics.Kind.blob, CacheResult.hit);
        OpenBlob blob = open.get();
        return Future.succeededFuture(new BlobBody.FromFile(blob, Growth.complete(blob.size()),
            blob.jit() ? BlobBody.Origin.JIT : BlobBody.Origin.HIT));
      }
      // only a client's GET is sent a blob held inside another; a build reads it through its own placement
      Future<Optional<BlobBody>> inside = reader == Reader.CLIENT ? openInside(digest)
          : Future.succeededFuture(Optional.empty());
      return inside.compose(held -> {
        if (held.isPresent()) {
          metrics.cacheRequest(JitdiMetrics.Kind.blob, CacheResult.hit);
          return Future.succeededFuture(held.get());
        }
        return sourceFor(upstream, repo, digest).compose(source -> source == null
            ? Future.failedFuture(unknown(digest)) : join(source, upstream, repo, digest, reader));
      });
    });
  }

  /**
   * Where {@code digest}'s bytes are inside another stored blob ({@link BlobOrigins#inside}), unless a check of them
   * failed lately (the blob is then fetched again). Empty also when the lookup fails: the blob is then fetched as any
   * miss.
   */
  private Future<Optional<BlobOrigins.Inside>> inside(Digest digest) {
    if (!Digest.SHA256.equals(digest.algorithm())) {
      return Future.succeededFuture(Optional.empty());
    }
    return origins.inside(digest).map(found -> found.filter(inside -> {
      Future<Void> earlier = insideChecks.get(new InsideKey(digest, inside));
      return earlier == null || !earlier.failed();
    })).otherwise(e -> {
      LOG.warn("blob {} is not read inside the blob holding it ({}); it is fetched instead", digest, e.toString());
      return Optional.empty();
    });
  }

  /**
   * {@code digest} as a body read inside the stored blob that holds its bytes ({@link #inside}), if that blob is still
   * stored. The bytes are hashed again as they are sent, the last byte waiting for it, one check shared by the
   * concurrent and following reads for a while: they were verified when the container was written, but not as this
   * blob.
   */
  private Future<Optional<BlobBody>> openInside(Digest digest) {
    return inside(digest).compose(found -> {
      if (found.isEmpty()) {
        return Future.succeededFuture(Optional.<BlobBody>empty());
      }
      BlobOrigins.Inside inside = found.get();
      return store.open(inside.container()).map(container -> container.<BlobBody>map(c -> {
        OpenBlob region;
        try {
          region = c.region(digest, inside.offset(), inside.size());
        } catch (IllegalArgumentException e) {
          c.close();
          throw e;
        }
        Future<Void> check = insideChecks.computeIfAbsent(new InsideKey(digest, inside), this::checkInside);
        return new BlobBody.FromFile(region, Growth.complete(inside.size(), check), BlobBody.Origin.HIT);
      }));
    }).recover(e -> {
      LOG.warn("blob {} is not read inside the blob holding it ({}); it is fetched instead", digest, e.toString());
      return Future.succeededFuture(Optional.empty());
    });
  }

  /**
   * Hashes the bytes {@code key} names, from a pin of the container of their own. Its memo is written again when it
   * ends, so it is kept for its time after the check, however long the hash took.
   */
  private Future<Void> checkInside(InsideKey key) {
    BlobOrigins.Inside inside = key.inside();
    Future<Void> checked = store.open(inside.container()).compose(container -> io.call(() -> {
      OpenBlob c = container.orElseThrow(() -> new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob "
          + inside.container() + ", which holds " + key.digest() + ", was evicted"));
      try {
        Digest actual = FileDigests.sha256(c.channel(), c.offset() + inside.offset(), inside.size());
        if (!actual.equals(key.digest())) {
          throw new RegistryException(ErrorCode.DIGEST_INVALID, "blob " + key.digest() + " inside "
              + inside.container() + " hashes to " + actual + " now; it is fetched again on the next request");
        }
        return null;
      } finally {
        c.close();
      }
    }));
    // not inline: this may complete while computeIfAbsent still holds the key
    checked.onComplete(ar -> io.executor().execute(() -> insideChecks.replace(key, checked, checked)));
    return checked;
  }

  private record InsideKey(Digest digest, BlobOrigins.Inside inside) {}

  /**
   * Where a miss is filled from: a fill under way whatever its source, else the shared bucket when it has the blob,
   * else {@code upstream}; null when there is nowhere.
   */
  private Future<Fill.Source> sourceFor(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    Fill running = fills.get(digest);
    if (running != null) {
      return Future.succeededFuture(running.source());
    }
    Fill.Source fromUpstream = upstream == null ? null : Fill.Source.upstream(upstream, repo, digest);
    BucketTier tier = bucket;
    if (tier == null) {
      return Future.succeededFuture(fromUpstream);
    }
    return tier.size(digest).map(size -> size.isPresent() ? tier.source(digest) : fromUpstream);
  }

  /** Joins the fill of {@code digest} under way, or starts one from {@code source}. */
  private Future<BlobBody> join(Fill.Source source, UpstreamClient upstream, RepositoryName repo, Digest digest,
      Reader reader) {
    Fill fresh = new Fill(vertx, digest, repo, source, bucket, store, io, metrics, reader == Reader.BUILD);
    Fill existing = fills.putIfAbsent(digest, fresh);
    Fill fill = existing != null ? existing : fresh;
    if (existing == null) {
      fresh.done().onComplete(ar -> fills.remove(digest, fresh));
      fresh.start();
    }
    boolean coalesced = existing != null;
    return fill.head().compose(head -> switch (head.mode()) {
      case ALREADY_CACHED -> fetch(upstream, repo, digest, reader);
      case CACHE -> {
        metrics.cacheRequest(JitdiMetrics.Kind.blob, coalesced ? CacheResult.coalesced : CacheResult.miss);
        yield following(fill, head.size(), coalesced);
      }
      case RELAY -> {
        metrics.cacheRequest(JitdiMetrics.Kind.blob, CacheResult.miss);
        yield fill.takeRelay().map(Future::succeededFuture)
            .orElseGet(() -> fill.source().open(0))
            .map(body -> new BlobBody.Relayed(digest, body, body.contentLength().orElse(-1)));
      }
    });
  }

  /** A body that follows a fill in flight: the growing file, pinned for as long as it is read. */
  private Future<BlobBody> following(Fill fill, long size, boolean coalesced) {
    Digest digest = fill.digest();
    store.pin(digest);
    long base = fill.blobOffset();
    return fill.openForRead().<BlobBody>map(channel -> {
      OpenBlob file = new OpenBlob(digest, channel, base + size, false, () -> store.unpin(digest), io.executor());
      // a fill into a container: the blob is its range of the file
      return new BlobBody.FromFile(base == 0 ? file : file.region(digest, base, size), fill,
          coalesced ? BlobBody.Origin.COALESCED : BlobBody.Origin.MISS);
    }).onFailure(e -> store.unpin(digest))
        // a fill that failed deletes its file before it says why: answer with the why (the digest that did not
        // match, the cut), not with the missing file
        .recover(e -> e instanceof java.nio.file.NoSuchFileException
            ? fill.verified().transform(v -> Future.failedFuture(v.failed() ? v.cause() : e))
            : Future.failedFuture(e));
  }

  /**
   * As {@link #get}, but a fill is waited for: the answer is a committed file once the fill is done, or a relay when
   * the blob cannot be cached. For readers that need the whole blob at once (configs, model blobs).
   */
  public Future<BlobBody> whole(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    return fetch(upstream, repo, digest, Reader.WHOLE).compose(body -> {
      if (body instanceof BlobBody.FromFile file && !file.growth().verified().succeeded()) {
        body.release();
        return file.growth().verified().compose(v -> whole(upstream, repo, digest));
      }
      return Future.succeededFuture(body);
    });
  }

  /**
   * The size of a blob for a client's HEAD request, from the store, a fill under way, or an upstream HEAD (of its
   * origin, as {@link #get} would fetch it).
   */
  public Future<OptionalLong> size(UpstreamClient requested, RepositoryName requestedRepo, Digest digest) {
    return located(requested, requestedRepo, digest).compose(origin -> size(origin, digest));
  }

  private Future<OptionalLong> size(BlobOrigins.Origin origin, Digest digest) {
    UpstreamClient upstream = origin.upstream();
    RepositoryName repo = origin.repository();
    return store.record(digest).compose(record -> {
      if (record.isPresent()) {
        metrics.cacheRequest(JitdiMetrics.Kind.blob, CacheResult.hit);
        return Future.succeededFuture(OptionalLong.of(record.get().size()));
      }
      Fill fill = fills.get(digest);
      if (fill != null && fill.head().succeeded() && fill.head().result().sizeKnown()) {
        return Future.succeededFuture(OptionalLong.of(fill.head().result().size()));
      }
      // a blob held inside another stored blob: its size, without opening or checking it
      return inside(digest).compose(found -> found.isEmpty() ? Future.succeededFuture(found)
          : store.record(found.get().container()).map(container -> container.isPresent() ? found
              : Optional.<BlobOrigins.Inside>empty())).compose(held -> {
        if (held.isPresent()) {
          metrics.cacheRequest(JitdiMetrics.Kind.blob, CacheResult.hit);
          return Future.succeededFuture(OptionalLong.of(held.get().size()));
        }
        return sizeElsewhere(upstream, repo, digest);
      });
    });
  }

  /** The size from the shared bucket, else from {@code upstream}'s HEAD. */
  private Future<OptionalLong> sizeElsewhere(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    BucketTier tier = bucket;
    Future<OptionalLong> inBucket = tier == null ? Future.succeededFuture(OptionalLong.empty()) : tier.size(digest);
    return inBucket.compose(stored -> {
      if (stored.isPresent()) {
        return Future.succeededFuture(stored);
      }
      return upstream == null ? Future.failedFuture(unknown(digest)) : upstream.headBlob(repo, digest);
    });
  }

  private static RegistryException unknown(Digest digest) {
    return new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " is not cached, and this registry has no "
        + "upstream to fetch it from");
  }

  public Io io() {
    return io;
  }

  public int fillsInFlight() {
    return fills.size();
  }
}
