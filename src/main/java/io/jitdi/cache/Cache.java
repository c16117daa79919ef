package io.jitdi.cache;

import io.jitdi.bucket.Bucket;
import io.jitdi.concurrent.Io;
import io.jitdi.config.CacheConfig;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.upstream.PresignedFetch;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cache as a whole: opens the directory and the index, reconciles them, and owns the blob and manifest services
 * and their background work. {@link #open} blocks and runs before the server starts; {@link #close} flushes access
 * times and closes the index.
 */
public final class Cache implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Cache.class);
  static final long ACCESS_FLUSH_MILLIS = 5_000;

  private final Vertx vertx;
  private final CacheLayout layout;
  private final MetadataStore index;
  private final Io io;
  private final BlobStore store;
  private final Blobs blobs;
  private final Manifests manifests;
  private final long flushTimer;
  private volatile BucketTier bucket;

  private Cache(Vertx vertx, CacheLayout layout, MetadataStore index, Io io, BlobStore store, Blobs blobs,
      Manifests manifests) {
    this.vertx = vertx;
    this.layout = layout;
    this.index = index;
    this.io = io;
    this.store = store;
    this.blobs = blobs;
    this.manifests = manifests;
    this.flushTimer = vertx.setPeriodic(ACCESS_FLUSH_MILLIS, t -> io.run(store::flushAccessTimes));
  }

  /**
   * The directory under the cache directory {@code dir} where the process keeps what it unpacks for itself (Vert.x's
   * file cache, RocksDB's JNI library), so that nothing is written outside the cache directory: created, and cleared
   * of the file caches Vert.x left there when a process was killed before its shutdown hook ran. Blocking; call
   * before Vert.x starts.
   */
  public static Path prepareRuntimeDir(Path dir) throws IOException {
    CacheLayout layout = new CacheLayout(dir);
    layout.create(); // its error names the directory, as Cache.open's would
    Path runtime = layout.runtimeDir();
    try (var left = Files.newDirectoryStream(runtime, VERTX_FILE_CACHE + "-*")) {
      for (Path old : left) {
        CacheLayout.deleteTree(old);
      }
    }
    return runtime;
  }

  /** The name Vert.x's file cache directories start with, under {@link #prepareRuntimeDir}. */
  public static final String VERTX_FILE_CACHE = "vertx";

  /** Opens and reconciles the cache in {@code config.dir()} (blocking). */
  public static Cache open(Vertx vertx, CacheConfig config, Io io, Clock clock, JitdiMetrics metrics) {
    CacheLayout layout = new CacheLayout(config.dir());
    layout.create();
    MetadataStore index = MetadataStore.open(layout.indexDir(), layout.runtimeDir());
    try {
      long started = System.nanoTime();
      Reconciler.Report report = Reconciler.run(layout, index, clock, Reconciler.Mode.STARTUP, true);
      LOG.info("cache {}: {} blobs, {} bytes of {} budget; reconciled in {} ms (tmp removed {}, records dropped {}, "
          + "files adopted {}, files removed {})", layout.root(), report.blobs(), report.bytes(), config.maxSize(),
          (System.nanoTime() - started) / 1_000_000, report.tmpRemoved(), report.recordsDropped(),
          report.filesAdopted(), report.filesRemoved());
      BlobStore store = new BlobStore(layout, index, io, clock, metrics, config.maxSize());
      store.initTotals(report.bytes(), report.blobs());
      Blobs blobs = new Blobs(vertx, store, io, metrics);
      Manifests manifests = new Manifests(index, io, clock, config.manifestTtl(), metrics);
      Cache cache = new Cache(vertx, layout, index, io, store, blobs, manifests);
      if (report.bytes() > config.maxSize() * BlobStore.HIGH_WATERMARK) {
        store.evict();
      }
      return cache;
    } catch (IOException e) {
      index.close();
      throw new UncheckedIOException("cannot reconcile the cache at " + layout.root() + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      index.close();
      throw e;
    }
  }

  public Blobs blobs() {
    return blobs;
  }

  public Manifests manifests() {
    return manifests;
  }

  public BlobStore store() {
    return store;
  }

  /** The index, for services that keep records of their own (JIT builds). Blocking calls: use the IO pool. */
  public MetadataStore index() {
    return index;
  }

  /**
   * Puts the shared bucket behind the local store: misses are looked up there, fills are written there. Checks the
   * bucket and aborts uploads a crash left; completes when that is done, successfully even when the bucket does not
   * answer (then the status page and {@link #bucketMisconfiguration()} say why, and the log says how to fix it).
   */
  public Future<Void> useBucket(Bucket bucket, PresignedFetch fetch, JitdiMetrics metrics) {
    BucketTier tier = new BucketTier(bucket, fetch, store, index, io, metrics);
    this.bucket = tier;
    blobs.useBucket(tier);
    index.share(tier.records());
    store.publishBuilt(tier.builtBlobs());
    return tier.start().otherwiseEmpty();
  }

  /**
   * What is wrong with the shared bucket's configuration (credentials refused, no such bucket) as last checked: empty
   * when nothing is, when the store merely cannot be reached, or when there is no bucket. Answers at once and starts
   * a new check in the background, so a store that hangs does not hang the caller.
   */
  public Optional<String> bucketMisconfiguration() {
    BucketTier tier = bucket;
    if (tier == null) {
      return Optional.empty();
    }
    tier.recheck();
    return Optional.ofNullable(tier.misconfiguration());
  }

  /** The shared bucket for the status page: where it is, whether it redirects, what was last wrong with it. */
  public Optional<JsonObject> bucketStatus() {
    BucketTier tier = bucket;
    return Optional.ofNullable(tier).map(BucketTier::status);
  }

  /** Whether the index is open and the cache directory takes writes (blocking). */
  public boolean ready() {
    if (!index.isOpen()) {
      return false;
    }
    try {
      Files.delete(Files.createTempFile(layout.tmpDir(), "ready", ".probe"));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void close() {
    vertx.cancelTimer(flushTimer);
    try {
      store.flushAccessTimes();
    } finally {
      index.close();
    }
  }
}
