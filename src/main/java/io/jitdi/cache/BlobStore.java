package io.jitdi.cache;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.jitdi.concurrent.Io;
import io.jitdi.concurrent.SingleFlight;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Digest;
import io.jitdi.stream.DigestingFileSink.Written;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The committed, verified blobs: lookups (Caffeine in front of the RocksDB {@link MetadataStore}), pinned reads, commits from
 * {@code tmp/}, and the byte budget.
 *
 * <p>Budget: {@code committed + reserved} is kept within {@code maxSize}, where {@code reserved} is the declared size
 * of fills in flight. Above {@link #HIGH_WATERMARK} the least recently accessed blobs are evicted until the total is
 * under {@link #LOW_WATERMARK}; a reservation that would pass {@code maxSize} waits for that eviction first. Pinned
 * blobs (being read) are never evicted.
 *
 * <p>Access times are kept in memory and written to the index in batches every few seconds and before each eviction,
 * so a cache hit costs no index write.
 */
public final class BlobStore {
  public static final double HIGH_WATERMARK = 0.95;
  public static final double LOW_WATERMARK = 0.85;
  private static final Logger LOG = LoggerFactory.getLogger(BlobStore.class);
  private static final int EVICTING = -1;

  private final CacheLayout layout;
  private final MetadataStore index;
  private final Io io;
  private final Clock clock;
  private final JitdiMetrics metrics;
  private final long maxSize;
  private final AsyncLoadingCache<Digest, BlobRecord> records;
  private final AtomicLong committed = new AtomicLong();
  private final AtomicLong blobCount = new AtomicLong();
  private final AtomicLong reserved = new AtomicLong();
  /** Bytes of reservations waiting for an eviction pass to make room for them. */
  private final AtomicLong waiting = new AtomicLong();
  private final ConcurrentHashMap<Digest, Integer> pins = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Digest, Long> pendingAccess = new ConcurrentHashMap<>();
  private final SingleFlight<String, Void> evictions = new SingleFlight<>();

  /** A store over the cache directory {@code dir} (its index already open); for tools and benchmarks. */
  public BlobStore(Path dir, MetadataStore index, Io io, Clock clock, JitdiMetrics metrics, long maxSize) {
    this(new CacheLayout(dir), index, io, clock, metrics, maxSize);
  }

  BlobStore(CacheLayout layout, MetadataStore index, Io io, Clock clock, JitdiMetrics metrics, long maxSize) {
    this.layout = layout;
    this.index = index;
    this.io = io;
    this.clock = clock;
    this.metrics = metrics;
    this.maxSize = maxSize;
    this.records = Caffeine.newBuilder().maximumSize(200_000).executor(io.executor())
        .buildAsync(digest -> index.blob(digest).orElse(null));
    metrics.gauge("jitdi.cache.size.bytes", "Bytes of committed blobs in the cache", committed, AtomicLong::get);
    metrics.gauge("jitdi.cache.max.bytes", "The cache's byte budget (cache.maxSize)", () -> maxSize);
    metrics.gauge("jitdi.cache.blobs", "Committed blobs in the cache", blobCount, AtomicLong::get);
  }

  /** Sets the totals found by the start-up reconciliation. */
  void initTotals(long bytes, long count) {
    committed.set(bytes);
    blobCount.set(count);
  }

  public long maxSize() {
    return maxSize;
  }

  public long committedBytes() {
    return committed.get();
  }

  public long blobCount() {
    return blobCount.get();
  }

  public long reservedBytes() {
    return reserved.get();
  }

  /** The record of a committed blob, if there is one. */
  public Future<Optional<BlobRecord>> record(Digest digest) {
    CompletableFuture<BlobRecord> cf = records.get(digest);
    if (cf.isDone() && !cf.isCompletedExceptionally()) {
      return Future.succeededFuture(Optional.ofNullable(cf.join()));
    }
    Context context = Vertx.currentContext();
    return (context == null ? Future.fromCompletionStage(cf) : Future.fromCompletionStage(cf, context))
        .map(Optional::ofNullable);
  }

  /**
   * Opens a committed blob for reading and pins it. Empty when the blob is not cached, is being evicted, or its file
   * is gone or has the wrong size (then the stale record is dropped and the caller refetches).
   */
  public Future<Optional<OpenBlob>> open(Digest digest) {
    return record(digest).compose(found -> {
      if (found.isEmpty() || !tryPin(digest)) {
        return Future.succeededFuture(Optional.empty());
      }
      long size = found.get().size();
      boolean jit = found.get().jit();
      return io.call(() -> {
        FileChannel channel;
        try {
          channel = FileChannel.open(layout.blob(digest), StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
          LOG.warn("blob {} has an index record but no file; dropping the record", digest);
          forget(digest, size);
          return Optional.<OpenBlob>empty();
        }
        if (channel.size() != size) {
          channel.close();
          LOG.warn("blob {} is {} bytes on disk, not {}; removing it", digest, channel.size(), size);
          forget(digest, size);
          Files.deleteIfExists(layout.blob(digest));
          return Optional.<OpenBlob>empty();
        }
        return Optional.of(new OpenBlob(digest, channel, size, jit, () -> unpin(digest), io.executor()));
      }).andThen(ar -> {
        if (ar.failed() || ar.result().isEmpty()) {
          unpin(digest);
        } else {
          pendingAccess.put(digest, clock.millis());
        }
      });
    });
  }

  /** Starts a blob under {@code tmp/} (blocking): the one way content enters the store. */
  public TempBlob newTemp() throws IOException {
    return TempBlob.create(this, layout.newTempFile());
  }

  /** Starts a blob under {@code tmp/} from an existing file, moved there (blocking; same file system). */
  public TempBlob adoptTemp(Path file) throws IOException {
    Path tmp = layout.newTempFile();
    Files.move(file, tmp, StandardCopyOption.ATOMIC_MOVE);
    return TempBlob.adopt(this, tmp);
  }

  /** Stores a small blob jitdi made (a JIT config), through {@code tmp/} like every other (blocking). */
  public void putBytes(Digest digest, byte[] content) throws IOException {
    try (TempBlob temp = newTemp()) {
      ByteBuffer bytes = ByteBuffer.wrap(content);
      while (bytes.hasRemaining()) {
        temp.channel().write(bytes);
      }
      temp.commit(digest, content.length, new Written(Digest.sha256Of(content), content.length));
    }
    published(digest, content.length);
  }

  /** Who is told of blobs jitdi made, once committed (the shared bucket); blocking, on the committing thread. */
  public interface BuiltBlobs {
    /**
     * {@code digest} was committed; {@code content} reads it. Returns when it is published; throws when it could
     * not be (the build goes on: the blob is in the local store).
     */
    void committed(Digest digest, FileChannel content, long size) throws IOException;
  }

  private volatile BuiltBlobs builtBlobs;

  /** Tells {@code blobs} of every blob jitdi makes from now on. */
  void publishBuilt(BuiltBlobs blobs) {
    this.builtBlobs = blobs;
  }

  private void published(Digest digest, long size) {
    BuiltBlobs hook = builtBlobs;
    if (hook == null) {
      return;
    }
    try (FileChannel content = FileChannel.open(layout.blob(digest), StandardOpenOption.READ)) {
      hook.committed(digest, content, size);
    } catch (IOException | RuntimeException e) {
      LOG.warn("built blob {} stays in the local store only: {}", digest, e.getMessage());
    }
  }

  /** Whether {@code digest} is committed and its file is there (blocking). */
  public boolean holds(Digest digest) {
    return index.blob(digest).isPresent() && Files.exists(layout.blob(digest));
  }

  CacheLayout layout() {
    return layout;
  }

  /**
   * Moves a verified temp file into the store and records it (blocking; only {@link TempBlob} calls it). "Already
   * exists" counts as success, since the name is the content. The write channel is fsynced afterwards in the
   * background and then closed; until then the record says {@code synced=false}, so a power cut before that is
   * caught at start-up.
   */
  void commitBlocking(Path tmp, Digest digest, long size, FileChannel writeChannel, boolean jit)
      throws IOException {
    layout.createBlobParent(digest);
    Path target = layout.blob(digest);
    if (index.blob(digest).isPresent() && Files.exists(target)) {
      // already committed (the same content built or fetched twice): the name is the content, keep the first
      Files.deleteIfExists(tmp);
      writeChannel.close();
      return;
    }
    boolean moved;
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      moved = true;
    } catch (FileAlreadyExistsException e) {
      moved = false;
    }
    if (!moved || Files.size(target) != size) {
      Files.deleteIfExists(tmp);
      writeChannel.close();
      if (Files.size(target) != size) {
        throw new IOException("blob " + digest + " already exists with another size");
      }
      if (index.blob(digest).isPresent()) {
        return;
      }
    }
    long now = clock.millis();
    BlobRecord record = new BlobRecord(size, now, now, false, jit);
    index.putBlob(digest, record);
    records.put(digest, CompletableFuture.completedFuture(record));
    committed.addAndGet(size);
    blobCount.incrementAndGet();
    if (writeChannel.isOpen()) {
      io.executor().execute(() -> syncLater(digest, writeChannel));
    }
  }

  private void syncLater(Digest digest, FileChannel channel) {
    try (channel) {
      channel.force(true);
      index.blob(digest).ifPresent(r -> index.putBlob(digest, r.asSynced()));
    } catch (IOException | RuntimeException e) {
      LOG.warn("fsync of blob {} failed; it will be re-verified at start-up: {}", digest, e.toString());
    }
  }

  /**
   * Reserves room for a fill of {@code size} bytes. Completes at once, or after an eviction when the reservation would
   * pass the budget. The caller must {@link #release(long)} it when the fill ends, committed or not.
   */
  public Future<Void> reserve(long size) {
    long total = committed.get() + reserved.addAndGet(size);
    if (total > maxSize) {
      return evict();
    }
    if (total > maxSize * HIGH_WATERMARK) {
      evict();
    }
    return Future.succeededFuture();
  }

  /**
   * Reserves room for a fill of {@code size} bytes only if it fits: at once when {@code committed + reserved + size}
   * is within the budget, otherwise after eviction made room. Completes with false when it still does not fit (the
   * room is held by fills in flight or by blobs being read); then nothing is reserved and the caller must not write
   * the blob to the cache. On true, the caller must {@link #release(long)} it when the fill ends.
   */
  public Future<Boolean> tryReserve(long size) {
    if (admit(size)) {
      if (committed.get() + reserved.get() > maxSize * HIGH_WATERMARK) {
        evict();
      }
      return Future.succeededFuture(true);
    }
    waiting.addAndGet(size);
    // a pass already under way did not count this reservation: when it does not make room, run one that does
    return evict().compose(v -> admit(size) ? Future.succeededFuture(true) : evict().map(w -> admit(size)))
        .andThen(ar -> waiting.addAndGet(-size));
  }

  /**
   * Reserves room for {@code size} bytes that must be written even past the budget (a JIT build, or a blob a build
   * reads: neither can be relayed): admitted as {@link #tryReserve} admits when it fits, else counted anyway after an
   * eviction. Completes with whether it fitted; either way the caller holds {@code size} and must
   * {@link #release(long)} it, also when an eviction failed.
   */
  public Future<Boolean> reservePastBudget(long size) {
    return tryReserve(size).otherwise(false).compose(fits -> fits ? Future.succeededFuture(true)
        : reserve(size).transform(ar -> Future.succeededFuture(false)));
  }

  private synchronized boolean admit(long size) {
    if (committed.get() + reserved.get() + size > maxSize) {
      return false;
    }
    reserved.addAndGet(size);
    return true;
  }

  public void release(long size) {
    reserved.addAndGet(-size);
  }

  /** Starts an eviction pass if none runs; completes when the pass under way ends. */
  public Future<Void> evict() {
    return evictions.run("evict", () -> io.run(this::evictBlocking)).future();
  }

  /** Flushes batched access times to the index (blocking). */
  public void flushAccessTimes() {
    if (pendingAccess.isEmpty() || !index.isOpen()) {
      return;
    }
    Map<Digest, Long> batch = new HashMap<>();
    for (Digest d : pendingAccess.keySet()) {
      Long at = pendingAccess.remove(d);
      if (at != null) {
        batch.put(d, at);
      }
    }
    index.touch(batch);
  }

  private void evictBlocking() throws IOException {
    flushAccessTimes();
    long high = (long) (maxSize * HIGH_WATERMARK);
    if (committed.get() + reserved.get() + waiting.get() <= high) {
      return;
    }
    long low = (long) (maxSize * LOW_WATERMARK);
    List<Evictor.Candidate> candidates = new ArrayList<>();
    index.forEachBlob((digest, record) -> candidates.add(new Evictor.Candidate(digest, record.size(),
        record.lastAccess())));
    long needed = committed.get() + reserved.get() + waiting.get() - low;
    for (Evictor.Candidate victim : Evictor.choose(candidates, needed, d -> pins.containsKey(d))) {
      if (!tryMarkEvicting(victim.digest())) {
        continue; // pinned since it was chosen
      }
      try {
        index.deleteBlob(victim.digest());
        records.synchronous().invalidate(victim.digest());
        Files.deleteIfExists(layout.blob(victim.digest()));
        committed.addAndGet(-victim.size());
        blobCount.decrementAndGet();
        metrics.evicted(victim.size());
        LOG.debug("evicted {} ({} bytes)", victim.digest(), victim.size());
      } finally {
        pins.remove(victim.digest(), EVICTING);
      }
    }
    if (committed.get() + reserved.get() > maxSize) {
      LOG.warn("cache is over its budget ({} committed + {} in flight > {}); the rest is pinned by readers or fills",
          committed.get(), reserved.get(), maxSize);
    }
  }

  /**
   * Removes a committed blob that is no longer wanted (blocking); a blob being read is left alone (the LRU takes it
   * later). Returns whether it was removed.
   */
  boolean drop(Digest digest) throws IOException {
    Optional<BlobRecord> record = index.blob(digest);
    if (record.isEmpty() || !tryMarkEvicting(digest)) {
      return false;
    }
    try {
      index.deleteBlob(digest);
      records.synchronous().invalidate(digest);
      Files.deleteIfExists(layout.blob(digest));
      committed.addAndGet(-record.get().size());
      blobCount.decrementAndGet();
      metrics.evicted(record.get().size());
      return true;
    } finally {
      pins.remove(digest, EVICTING);
    }
  }

  /** Removes a blob whose content is bad or gone (blocking). */
  void forget(Digest digest, long size) {
    index.deleteBlob(digest);
    records.synchronous().invalidate(digest);
    committed.addAndGet(-size);
    blobCount.decrementAndGet();
  }

  /** Pins a blob that is about to be read while its fill runs; unpin when the read ends. */
  void pin(Digest digest) {
    tryPin(digest);
  }

  private boolean tryPin(Digest digest) {
    return pins.merge(digest, 1, (old, one) -> old == EVICTING ? EVICTING : old + 1) != EVICTING;
  }

  void unpin(Digest digest) {
    pins.computeIfPresent(digest, (d, n) -> {
      if (n == EVICTING) {
        return n;
      }
      return n <= 1 ? null : Integer.valueOf(n - 1);
    });
  }

  private boolean tryMarkEvicting(Digest digest) {
    return pins.putIfAbsent(digest, EVICTING) == null;
  }

  /**
   * A blob being written under {@code tmp/}: the one way content enters the store. Fills, JIT builds and imports all
   * write here and then either {@link #commit} (verified, moved into {@code blobs/}, recorded) or {@link #close()}
   * (deleted). Until it is committed the content is invisible to readers of the store.
   *
   * <p>The writer measures what it wrote (sha256 and size) while writing; {@link #commit} checks that against what was
   * expected and against the file, so a blob file exists only after its digest and size were verified. Blocking: call
   * {@link #commit} and {@link #close()} on the IO pool.
   */
  public static final class TempBlob implements AutoCloseable {
    /** The content did not hash to, or was not as long as, what was expected. The temp file is deleted. */
    public static final class MismatchException extends IOException {
      private static final long serialVersionUID = 1L;
      private final transient Written actual;

      MismatchException(Digest expected, long expectedSize, Written actual) {
        super("content for " + expected + (expectedSize >= 0 ? " (" + expectedSize + " bytes)" : "") + " is "
            + actual.size() + " bytes with digest " + actual.digest());
        this.actual = actual;
      }

      /** What the content really was. */
      public Written actual() {
        return actual;
      }
    }

    private final BlobStore store;
    private final Path path;
    private final FileChannel channel;
    private boolean finished;
    private volatile Digest committedAs;

    TempBlob(BlobStore store, Path path, FileChannel channel) {
      this.store = store;
      this.path = path;
      this.channel = channel;
    }

    /** Where to write the content (open for writing and reading, at position 0). */
    public FileChannel channel() {
      return channel;
    }

    /**
     * Commits content fetched from elsewhere: it must hash to {@code expected} and be {@code expectedSize} bytes long
     * ({@code -1}: any size). Committing content that is already in the store counts as success.
     *
     * @param written what the writer measured while writing
     * @throws MismatchException when it is not the expected content (the temp file is then deleted)
     */
    public void commit(Digest expected, long expectedSize, Written written) throws IOException {
      if (!written.digest().equals(expected) || (expectedSize >= 0 && written.size() != expectedSize)) {
        close();
        throw new MismatchException(expected, expectedSize, written);
      }
      commit(written, false);
    }

    /** Commits content jitdi made (a JIT layer or config): its digest is what it hashed to. */
    public void commitBuilt(Written written) throws IOException {
      commit(written, true);
      store.published(written.digest(), written.size());
    }

    private void commit(Written written, boolean jit) throws IOException {
      if (finished) {
        throw new IllegalStateException("temp blob finished twice");
      }
      if (channel.size() != written.size()) {
        close();
        throw new IOException("temp file of " + written.digest() + " is " + channel.size() + " bytes, but "
            + written.size() + " were written");
      }
      finished = true;
      committedAs = written.digest();
      try {
        store.commitBlocking(path, written.digest(), written.size(), channel, jit);
      } catch (IOException | RuntimeException e) {
        discard(); // not committed (if the file was moved before the failure, there is nothing left to delete)
        throw e;
      }
    }

    /**
     * Opens the content for reading by others while it is being written: the temp file, or the committed blob once it
     * was moved (an open descriptor stays valid across the move).
     */
    public FileChannel openReader() throws IOException {
      try {
        return FileChannel.open(path, StandardOpenOption.READ);
      } catch (java.nio.file.NoSuchFileException movedMeanwhile) {
        Digest moved = committedAs;
        if (moved == null) {
          throw movedMeanwhile;
        }
        return FileChannel.open(store.layout().blob(moved), StandardOpenOption.READ);
      }
    }

    /** Deletes the temp file unless it was committed; idempotent. */
    @Override
    public void close() throws IOException {
      if (finished) {
        return;
      }
      finished = true;
      discard();
    }

    private void discard() throws IOException {
      try {
        channel.close();
      } finally {
        Files.deleteIfExists(path);
      }
    }

    static TempBlob adopt(BlobStore store, Path path) throws IOException {
      return new TempBlob(store, path, FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.READ));
    }

    static TempBlob create(BlobStore store, Path path) throws IOException {
      FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
          StandardOpenOption.READ);
      return new TempBlob(store, path, channel);
    }
  }
}
