package io.jitdi.cache;

import io.jitdi.concurrent.Io;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.jitdi.stream.DigestingFileSink;
import io.jitdi.stream.Growth;
import io.jitdi.stream.RecentBytes;
import io.jitdi.upstream.UpstreamClient;
import io.jitdi.upstream.UpstreamErrors;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream fetch of one blob into {@code tmp/}, shared by every request for that digest while it runs.
 *
 * <p>Contract:
 * <ul>
 *   <li>The fill runs to its end whether or not the request that started it is still there.</li>
 *   <li>Readers follow the growing file at their own pace through {@link Growth}. The last byte is withheld until
 *       the sha256 and size are verified, so a reader of a fill that fails can only ever see a cut transfer.</li>
 *   <li>A transfer cut by the network is resumed with {@code Range} from the last byte received, up to
 *       {@link #MAX_RESUMES} times; the digest computation carries on across the pieces.</li>
 *   <li>On success the file is committed to the {@link BlobStore}; on failure the temp file is deleted and nothing
 *       is recorded.</li>
 *   <li>A blob larger than the whole budget, or one the disk has no room for, is not written at all: the fill ends
 *       in {@link Mode#RELAY} and each request relays its own verified upstream stream.</li>
 * </ul>
 */
public final class Fill implements Growth {
  static final int MAX_RESUMES = 3;
  /** Free disk space kept beyond a fill's size; below that the blob is relayed instead of cached. */
  static final long DISK_HEADROOM = 64L * 1024 * 1024;
  private static final Logger LOG = LoggerFactory.getLogger(Fill.class);
  private static final long PROGRESS_LOG_NANOS = 10_000_000_000L;
  /** Bytes just written that stay in memory for readers right behind the fill. */
  static final long RECENT_BYTES = 16L * 1024 * 1024;

  /** How the blob will be served. */
  public enum Mode {
    /** Being written to the cache: read it through {@link Fill#openForRead()}. */
    CACHE,
    /** Not cached: take the upstream stream with {@link Fill#takeRelay()} or start your own relay. */
    RELAY,
    /** It was committed meanwhile: read it from the store. */
    ALREADY_CACHED
  }

  /** What is known once the upstream answered. */
  public record Head(Mode mode, long size) {
    public boolean sizeKnown() {
      return size >= 0;
    }
  }

  private record Waiter(long position, Promise<Long> promise, Context context) {}

  private final Vertx vertx;
  private final Digest digest;
  private final RepositoryName repo;
  private final UpstreamClient upstream;
  private final BlobStore store;
  private final CacheLayout layout;
  private final Io io;
  private final JitdiMetrics metrics;
  private final Counter upstreamBytes;
  private final Promise<Head> head = Promise.promise();
  private final Promise<Void> done = Promise.promise();
  private final List<Waiter> waiters = new ArrayList<>();
  private final RecentBytes recent;
  private final AtomicBoolean relayTaken = new AtomicBoolean();
  private final long started = System.nanoTime();
  private volatile long written;
  private volatile boolean verified;
  private volatile Throwable failure;
  private volatile HttpClientResponse relayResponse;
  private Path tmp;
  private FileChannel channel;
  private DigestingFileSink sink;
  private volatile long size = -1;
  private long reservedBytes;
  private int resumes;
  private long counted;
  private long lastLog = System.nanoTime();

  Fill(Vertx vertx, Digest digest, RepositoryName repo, UpstreamClient upstream, BlobStore store, CacheLayout layout,
      Io io, JitdiMetrics metrics, RecentBytes.Pool recentPool) {
    this.vertx = vertx;
    this.recent = new RecentBytes(RECENT_BYTES, recentPool);
    this.digest = digest;
    this.repo = repo;
    this.upstream = upstream;
    this.store = store;
    this.layout = layout;
    this.io = io;
    this.metrics = metrics;
    this.upstreamBytes = metrics.upstreamBytesCounter(upstream.key());
  }

  /** Where this fill stands: digest, repository, upstream, bytes written, size (-1: not known yet), seconds. */
  public JsonObject status() {
    return new JsonObject().put("digest", digest.toString()).put("repository", repo.toString())
        .put("upstream", upstream.key()).put("bytes", written).put("size", size)
        .put("seconds", (System.nanoTime() - started) / 1e9);
  }

  public Digest digest() {
    return digest;
  }

  /** Completes when the upstream answered (or fails with the mapped upstream error). */
  public Future<Head> head() {
    return head.future();
  }

  /** Completes when the blob is committed, relayed or already cached; fails when the fill failed. */
  public Future<Void> done() {
    return done.future();
  }

  /** Starts the fill on the current context. */
  void start() {
    store.record(digest).onComplete(ar -> {
      if (ar.succeeded() && ar.result().isPresent()) {
        head.tryComplete(new Head(Mode.ALREADY_CACHED, ar.result().get().size()));
        done.tryComplete();
        return;
      }
      upstream.blob(repo, digest, 0).onSuccess(this::onFirstResponse).onFailure(this::fail);
    });
  }

  private void onFirstResponse(HttpClientResponse response) {
    OptionalLong declared = UpstreamClient.contentLength(response);
    size = declared.orElse(-1);
    if (size > store.maxSize()) {
      LOG.info("blob {} ({} bytes) is larger than the whole cache budget; relaying it uncached", digest, size);
      relay(response);
      return;
    }
    io.call(() -> {
      if (size >= 0 && Files.getFileStore(layout.tmpDir()).getUsableSpace() < size + DISK_HEADROOM) {
        return null;
      }
      Path path = layout.newTempFile();
      return new Object[] {path, FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)};
    }).onComplete(ar -> {
      if (ar.failed()) {
        LOG.warn("cannot create a temp file for blob {}; relaying it uncached: {}", digest, ar.cause().toString());
        relay(response);
        return;
      }
      if (ar.result() == null) {
        LOG.warn("not enough free disk for blob {} ({} bytes); relaying it uncached", digest, size);
        relay(response);
        return;
      }
      tmp = (Path) ar.result()[0];
      channel = (FileChannel) ar.result()[1];
      sink = new DigestingFileSink(channel, vertx.getOrCreateContext(), io.executor(),
          (offset, data, total) -> {
            recent.add(offset, data);
            onWritten(total);
          });
      reservedBytes = Math.max(size, 0);
      head.tryComplete(new Head(Mode.CACHE, size));
      store.reserve(reservedBytes).onComplete(r -> pipe(response));
    });
  }

  private void pipe(HttpClientResponse response) {
    response.pipe().endOnComplete(false).to(sink).onComplete(ar -> {
      if (failure != null) {
        response.request().reset();
        return;
      }
      if (ar.succeeded() && (size < 0 || sink.accepted() >= size)) {
        finish();
      } else {
        resume(ar.failed() ? ar.cause() : new IOException("upstream ended the blob at byte " + sink.accepted()));
      }
    });
  }

  private void resume(Throwable cut) {
    if (sink.failure().isPresent()) {
      fail(sink.failure().get());
      return;
    }
    if (resumes >= MAX_RESUMES) {
      fail(UpstreamErrors.unreachable(upstream.key(), new IOException("transfer of " + digest + " cut "
          + (resumes + 1) + " times; last: " + UpstreamErrors.describe(cut), cut)));
      return;
    }
    resumes++;
    long from = sink.accepted();
    LOG.info("blob {} cut at byte {} of {} ({}); resuming with Range, attempt {}", digest, from, size,
        UpstreamErrors.describe(cut), resumes);
    upstream.blob(repo, digest, from).onSuccess(this::pipe).onFailure(this::fail);
  }

  private void finish() {
    sink.end().compose(v -> sink.result()).onComplete(ar -> {
      if (ar.failed()) {
        fail(ar.cause());
        return;
      }
      DigestingFileSink.Written result = ar.result();
      if (!result.digest().equals(digest) || (size >= 0 && result.size() != size)) {
        metrics.digestMismatch(upstream.key());
        LOG.warn("upstream {} sent {} bytes with digest {} for blob {}; rejected", upstream.key(), result.size(),
            result.digest(), digest);
        fail(new RegistryException(ErrorCode.DIGEST_INVALID, 502, "upstream " + upstream.key() + " sent content for "
            + digest + " whose sha256 is " + result.digest(), Map.of("upstream", upstream.key()), null, null));
        return;
      }
      io.run(() -> store.commitBlocking(tmp, digest, result.size(), channel)).onComplete(c -> {
        if (c.failed()) {
          fail(c.cause());
          return;
        }
        written = result.size();
        verified = true;
        store.release(reservedBytes);
        reservedBytes = 0;
        double seconds = (System.nanoTime() - started) / 1e9;
        LOG.info("fill {} committed: {} bytes from {} in {}s{}", digest, result.size(), upstream.key(),
            String.format("%.2f", seconds), resumes > 0 ? " after " + resumes + " resumes" : "");
        notifyWaiters();
        recent.clear();
        done.tryComplete();
      });
    });
  }

  private void relay(HttpClientResponse response) {
    relayResponse = response;
    head.tryComplete(new Head(Mode.RELAY, size));
    done.tryComplete();
    // nobody took it (the starter went away): do not hold the connection
    vertx.setTimer(10_000, t -> {
      if (relayTaken.compareAndSet(false, true)) {
        response.request().reset();
      }
    });
  }

  /** The paused upstream response of a {@link Mode#RELAY} fill, for exactly one caller. */
  public Optional<HttpClientResponse> takeRelay() {
    HttpClientResponse r = relayResponse;
    return r != null && relayTaken.compareAndSet(false, true) ? Optional.of(r) : Optional.empty();
  }

  private void fail(Throwable cause) {
    if (failure != null) {
      return;
    }
    RegistryException error;
    if (cause instanceof RegistryException e) {
      error = e;
    } else if (sink != null && sink.failure().isPresent()) {
      Throwable io = sink.failure().get();
      error = new RegistryException(ErrorCode.UNAVAILABLE, 503, "cannot write blob " + digest + " to the cache: "
          + UpstreamErrors.describe(io), Map.of(), null, io);
    } else {
      error = UpstreamErrors.unreachable(upstream.key(), cause);
    }
    failure = error;
    recent.clear();
    head.tryFail(error);
    if (sink != null) {
      sink.abort(error);
    }
    Path path = tmp;
    FileChannel ch = channel;
    io.run(() -> {
      if (ch != null) {
        ch.close();
      }
      if (path != null) {
        Files.deleteIfExists(path);
      }
    }).onComplete(ar -> {
      store.release(reservedBytes);
      reservedBytes = 0;
      notifyWaiters();
      done.tryFail(error);
    });
    if (!(cause instanceof RegistryException re && re.status() == 404)) {
      LOG.warn("fill {} from {} failed: {}", digest, upstream.key(), error.getMessage());
    }
  }

  /**
   * Opens the file for reading: the temp file while filling, the committed blob after. Blocking work runs on the IO
   * pool.
   */
  public Future<FileChannel> openForRead() {
    Path temp = tmp;
    return io.call(() -> {
      try {
        return FileChannel.open(temp, StandardOpenOption.READ);
      } catch (NoSuchFileException committedMeanwhile) {
        return FileChannel.open(layout.blob(digest), StandardOpenOption.READ);
      }
    });
  }

  private void onWritten(long total) {
    written = total;
    upstreamBytes.increment(total - counted);
    counted = total;
    long now = System.nanoTime();
    if (now - lastLog > PROGRESS_LOG_NANOS) {
      lastLog = now;
      double seconds = (now - started) / 1e9;
      LOG.info("fill {}: {} of {} bytes from {} ({} MB/s)", digest, total, size >= 0 ? size : "?", upstream.key(),
          String.format("%.1f", total / seconds / 1e6));
    }
    notifyWaiters();
  }

  @Override
  public long readable() {
    long w = written;
    return verified ? w : Math.max(0, w - 1);
  }

  @Override
  public Optional<Buffer> recent(long position, int max) {
    return failure != null ? Optional.empty() : recent.read(position, readable(), max);
  }

  @Override
  public Future<Long> awaitBeyond(long position) {
    synchronized (waiters) {
      Throwable failed = failure;
      if (failed != null) {
        return Future.failedFuture(failed);
      }
      long readable = readable();
      if (readable > position) {
        return Future.succeededFuture(readable);
      }
      if (verified) {
        return Future.succeededFuture(-1L);
      }
      Promise<Long> promise = Promise.promise();
      waiters.add(new Waiter(position, promise, vertx.getOrCreateContext()));
      return promise.future();
    }
  }

  private void notifyWaiters() {
    List<Runnable> ready = new ArrayList<>();
    synchronized (waiters) {
      if (waiters.isEmpty()) {
        return;
      }
      Throwable failed = failure;
      long readable = readable();
      boolean complete = verified;
      waiters.removeIf(w -> {
        if (failed != null) {
          ready.add(() -> w.context().runOnContext(v -> w.promise().tryFail(failed)));
        } else if (readable > w.position()) {
          ready.add(() -> w.context().runOnContext(v -> w.promise().tryComplete(readable)));
        } else if (complete) {
          ready.add(() -> w.context().runOnContext(v -> w.promise().tryComplete(-1L)));
        } else {
          return false;
        }
        return true;
      });
    }
    ready.forEach(Runnable::run);
  }
}
