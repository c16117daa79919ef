package io.jitdi.cache;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.jitdi.concurrent.Io;
import io.jitdi.concurrent.SingleFlight;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.metrics.JitdiMetrics.CacheResult;
import io.jitdi.oci.Digest;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.MediaType;
import io.jitdi.oci.Reference;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.jitdi.oci.Tag;
import io.jitdi.upstream.UpstreamClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Manifest requests, cached as exact bytes.
 *
 * <ul>
 *   <li>By digest: immutable. Served from the store, or fetched once, verified against the digest and kept.</li>
 *   <li>By tag: the answer (digest, type, size) is kept per upstream, repository, tag and negotiated Accept set. It is
 *       trusted for {@code manifestTtl}; after that an upstream HEAD revalidates it (cheap, and not counted against
 *       Docker Hub's pull limit) and the manifest is fetched again only if the digest changed.</li>
 *   <li>Stale-if-error: when revalidation fails on the network, a 5xx or a 429, the stale answer is served and
 *       counted as {@code stale}. A 404, 401 or 403 is the upstream's real answer and is passed on.</li>
 *   <li>Concurrent requests for the same tag or digest share one upstream request.</li>
 * </ul>
 */
public final class Manifests {
  private static final Logger LOG = LoggerFactory.getLogger(Manifests.class);
  private static final String ALL_MANIFEST_TYPES = String.join(", ",
      MediaType.MANIFEST_TYPES.stream().map(MediaType::value).toList());

  /**
   * A manifest answer. {@code manifest} is empty when only the head was asked for and the body was not needed.
   */
  public record Answer(Optional<Manifest> manifest, Digest digest, MediaType mediaType, long size, CacheResult result) {
    static Answer of(Manifest m, CacheResult result) {
      return new Answer(Optional.of(m), m.digest(), m.mediaType(), m.size(), result);
    }

    Answer as(CacheResult r) {
      return new Answer(manifest, digest, mediaType, size, r);
    }
  }

  private final MetadataStore index;
  private final Io io;
  private final Clock clock;
  private final Duration ttl;
  private final JitdiMetrics metrics;
  private final AsyncLoadingCache<String, TagRecord> tags;
  private final AsyncLoadingCache<Digest, Manifest> manifests;
  private final SingleFlight<String, Answer> flights = new SingleFlight<>();

  public Manifests(MetadataStore index, Io io, Clock clock, Duration ttl, JitdiMetrics metrics) {
    this.index = index;
    this.io = io;
    this.clock = clock;
    this.ttl = ttl;
    this.metrics = metrics;
    this.tags = Caffeine.newBuilder().maximumSize(100_000).executor(io.executor())
        .buildAsync(key -> index.tag(key).orElse(null));
    this.manifests = Caffeine.newBuilder().maximumWeight(64L * 1024 * 1024)
        .<Digest, Manifest>weigher((d, m) -> m.size() + 200).executor(io.executor())
        .buildAsync(digest -> index.manifest(digest).orElse(null));
  }

  /**
   * Answers a manifest request.
   *
   * @param accept the client's normalized Accept header (null for none); tag answers are cached per Accept set
   * @param needBody false for HEAD, where a fresh tag answer needs no bytes
   */
  public Future<Answer> get(UpstreamClient upstream, RepositoryName repo, Reference ref, String accept,
      boolean needBody) {
    Future<Answer> answer = ref.digest().isPresent()
        ? byDigest(upstream, repo, ref.digest().get(), accept)
        : byTag(upstream, repo, ref.tag().orElseThrow(), accept, needBody);
    return answer.andThen(ar -> {
      if (ar.succeeded()) {
        metrics.cacheRequest(JitdiMetrics.Kind.manifest, ar.result().result());
      }
    });
  }

  /** The stored manifest {@code digest}, if any. */
  public Future<Optional<Manifest>> stored(Digest digest) {
    return lookup(manifests.get(digest));
  }

  /** Keeps {@code manifest} in the store (the index write runs on the IO pool). */
  public Future<Void> store(Manifest manifest) {
    manifests.put(manifest.digest(), CompletableFuture.completedFuture(manifest));
    return io.run(() -> index.putManifest(manifest));
  }

  private Future<Answer> byDigest(UpstreamClient upstream, RepositoryName repo, Digest digest, String accept) {
    return stored(digest).compose(found -> {
      if (found.isPresent()) {
        return Future.succeededFuture(Answer.of(found.get(), CacheResult.hit));
      }
      SingleFlight.Joined<Answer> joined = flights.run("digest|" + digest, () ->
          upstream.manifest(repo, Reference.of(digest), withAllTypes(accept))
              .compose(m -> store(m).map(Answer.of(m, CacheResult.miss))));
      return joined.future().map(a -> joined.coalesced() ? a.as(CacheResult.coalesced) : a);
    });
  }

  private Future<Answer> byTag(UpstreamClient upstream, RepositoryName repo, Tag tag, String accept,
      boolean needBody) {
    String key = TagKey.cached(upstream.key(), repo, tag, accept).encoded();
    // no answer cached for this Accept set: an imported tag (jitdi cache import) stands in for one
    return lookup(tags.get(key)).compose(cached -> cached.isPresent() ? Future.succeededFuture(cached)
        : lookup(tags.get(TagKey.imported(upstream.key(), repo, tag).encoded())))
        .compose(record -> {
      if (record.isPresent() && fresh(record.get())) {
        return answer(record.get(), needBody, CacheResult.hit)
            .compose(a -> a.isPresent() ? Future.succeededFuture(a.get())
                : fetchTag(upstream, repo, tag, accept, key, Optional.empty()));
      }
      SingleFlight.Joined<Answer> joined = flights.run("tag|" + key, () -> record.isPresent()
          ? revalidate(upstream, repo, tag, accept, key, record.get())
          : fetchTag(upstream, repo, tag, accept, key, Optional.empty()));
      return joined.future().map(a -> joined.coalesced() && a.result() == CacheResult.miss
          ? a.as(CacheResult.coalesced) : a);
    });
  }

  private Future<Answer> revalidate(UpstreamClient upstream, RepositoryName repo, Tag tag, String accept, String key,
      TagRecord stale) {
    return upstream.headManifest(repo, Reference.of(tag), accept).compose(head -> {
      if (head.digest().isPresent() && head.digest().get().equals(stale.digest())) {
        TagRecord confirmed = stale.confirmedAt(clock.millis());
        putTag(key, confirmed);
        return answer(confirmed, true, CacheResult.hit).compose(a -> a.isPresent() ? Future.succeededFuture(a.get())
            : fetchTag(upstream, repo, tag, accept, key, Optional.of(stale)));
      }
      return fetchTag(upstream, repo, tag, accept, key, Optional.of(stale));
    }, failure -> staleOr(failure, upstream, key, stale));
  }

  private Future<Answer> fetchTag(UpstreamClient upstream, RepositoryName repo, Tag tag, String accept, String key,
      Optional<TagRecord> stale) {
    return upstream.manifest(repo, Reference.of(tag), accept).compose(m -> {
      putTag(key, new TagRecord(m.digest(), m.mediaType(), m.size(), clock.millis()));
      return store(m).map(Answer.of(m, CacheResult.miss));
    }, failure -> stale.isPresent() ? staleOr(failure, upstream, key, stale.get()) : Future.failedFuture(failure));
  }

  private Future<Answer> staleOr(Throwable failure, UpstreamClient upstream, String key, TagRecord stale) {
    if (failure instanceof RegistryException e && (e.status() == 404)) {
      tags.synchronous().invalidate(key);
      io.run(() -> index.deleteTag(key));
      return Future.failedFuture(failure);
    }
    boolean upstreamTrouble = !(failure instanceof RegistryException e) || e.status() >= 500 || e.status() == 429;
    if (!upstreamTrouble) {
      return Future.failedFuture(failure);
    }
    LOG.warn("upstream {} failed to revalidate {} ({}); serving the cached answer {}", upstream.key(), key,
        failure.getMessage(), stale.digest());
    return answer(stale, true, CacheResult.stale).compose(a -> a.isPresent() ? Future.succeededFuture(a.get())
        : Future.failedFuture(failure));
  }

  /** The answer for a tag record; empty when its manifest bytes are needed but gone. */
  private Future<Optional<Answer>> answer(TagRecord record, boolean needBody, CacheResult result) {
    if (!needBody) {
      return Future.succeededFuture(Optional.of(new Answer(Optional.empty(), record.digest(), record.mediaType(),
          record.size(), result)));
    }
    return stored(record.digest()).map(m -> m.map(manifest -> Answer.of(manifest, result)));
  }

  private boolean fresh(TagRecord record) {
    return clock.millis() - record.fetchedAt() < ttl.toMillis();
  }

  private void putTag(String key, TagRecord record) {
    tags.put(key, CompletableFuture.completedFuture(record));
    io.run(() -> index.putTag(key, record)).onFailure(e -> LOG.warn("cannot record tag {}: {}", key, e.toString()));
  }

  private static <T> Future<Optional<T>> lookup(CompletableFuture<T> cf) {
    if (cf.isDone() && !cf.isCompletedExceptionally()) {
      return Future.succeededFuture(Optional.ofNullable(cf.join()));
    }
    return Future.fromCompletionStage(cf, Vertx.currentContext()).map(Optional::ofNullable);
  }

  private static String withAllTypes(String accept) {
    return accept == null || accept.isEmpty() ? ALL_MANIFEST_TYPES : accept + ", " + ALL_MANIFEST_TYPES;
  }
}
