package io.jitdi.cache;

import io.jitdi.cache.BlobStore.TempBlob;
import io.jitdi.concurrent.Io;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.jitdi.stream.BodySource;
import io.jitdi.stream.DigestingFileSink;
import io.jitdi.stream.Envelope;
import io.jitdi.stream.Growth;
import io.jitdi.upstream.PresignedFetch;
import io.jitdi.upstream.UpstreamBody;
import io.jitdi.upstream.UpstreamClient;
import io.jitdi.upstream.UpstreamErrors;
import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream fetch of one blob into a {@link TempBlob}, shared by every request for that digest while it runs.
 *
 * <p>Contract:
 * <ul>
 *   <li>The fill runs to its end whether or not the request that started it is still there.</li>
 *   <li>The upstream body arrives as Netty buffers ({@link UpstreamBody}); each is hashed and written to the temp
 *       file in two lanes, and the socket is paused while the lanes are behind.</li>
 *   <li>Readers follow the growing file at their own pace through {@link Growth}: {@link #readable()} is what is in
 *       the file, {@link #verified()} completes once the sha256 and size matched and the blob is committed. A reader
 *       holds back the last byte of its response until then, so a reader of a fill that fails can only ever see a
 *       cut transfer, whatever range it asked for.</li>
 *   <li>A transfer cut by the network (or idle for the upstream's idle timeout) is resumed with {@code Range} from
 *       the last byte received, up to {@link #MAX_RESUMES} times; the digest computation carries on across the
 *       pieces.</li>
 *   <li>On success the temp blob is committed; on failure it is deleted and nothing is recorded.</li>
 *   <li>A blob larger than the whole budget, or one the disk has no room for, is not written at all: the fill ends
 *       in {@link Mode#RELAY} and each request relays its own verified upstream stream.</li>
 *   <li>A fill {@link Enveloping into an envelope} writes the blob between the envelope's head and tail and commits
 *       that container instead (its digest hashed in the same pass, in a lane of its own); the blob is then not a
 *       stored blob of its own. Its readers read the blob's range of the file.</li>
 * </ul>
 */
public final class Fill implements Growth {
  static final int MAX_RESUMES = 3;
  /** Free disk space kept beyond a fill's size; below that the blob is relayed instead of cached. */
  static final long DISK_HEADROOM = 64L * 1024 * 1024;
  private static final Logger LOG = LoggerFactory.getLogger(Fill.class);
  private static final long PROGRESS_LOG_NANOS = 10_000_000_000L;
  /** How long an upstream response nobody took for a relay is kept open. */
  private static final long UNTAKEN_RELAY_MILLIS = 10_000;

  /** Where a fill reads its blob from: an upstream registry, or the shared bucket. */
  interface Source {
    /** For logs, metrics and errors: the upstream's key, or {@code bucket}. */
    String name();

    /** The blob's body from byte {@code offset} on (a 200 at 0, else a 206 starting there). */
    Future<UpstreamBody> open(long offset);

    /** Whether what this source gives should also be written to the shared bucket. */
    boolean mirrored();

    /** Told when what this source gave was not the blob (another digest or size); the fill then fails. */
    default void rejected() {
    }

    static Source upstream(UpstreamClient upstream, RepositoryName repo, Digest digest) {
      return new Source() {
        @Override
        public String name() {
          return upstream.key();
        }

        @Override
        public Future<UpstreamBody> open(long offset) {
          return upstream.blob(repo, digest, offset);
        }

        @Override
        public boolean mirrored() {
          return true;
        }
      };
    }

    /**
     * The bucket's object for {@code digest}, through a URL presigned anew for each attempt; {@code gone} is told when
     * the store does not give it, {@code corrupt} when what it gave was not the blob.
     */
    static Source bucket(PresignedFetch fetch, Supplier<Future<java.net.URI>> presigned, Digest digest,
        Runnable gone, Runnable corrupt) {
      return new Source() {
        @Override
        public String name() {
          return "bucket";
        }

        @Override
        public Future<UpstreamBody> open(long offset) {
          return presigned.get().compose(url -> fetch.blob(url, digest, offset)).onFailure(e -> gone.run());
        }

        @Override
        public boolean mirrored() {
          return false;
        }

        @Override
        public void rejected() {
          corrupt.run();
        }
      };
    }
  }

  /** How the blob will be served. */
  public enum Mode {
    /** Being written to the cache: follow it through {@link Fill#openForRead()} and {@link Growth}. */
    CACHE,
    /** Not cached: take the upstream body with {@link Fill#takeRelay()} or fetch your own. */
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

  /**
   * A fill into a container: {@code envelope} around the blob, committed as a blob of its own digest once the blob's
   * digest and size were verified. Its room is the caller's to reserve.
   *
   * @param committed told of the container once stored, before the fill is done
   * @param progress told the blob's bytes written so far
   */
  record Enveloping(Envelope envelope, Envelope.Committed committed, java.util.function.LongConsumer progress) {}

  private record Waiter(long position, Promise<Void> promise, Context context) {}

  private final Vertx vertx;
  private final Digest digest;
  private final RepositoryName repo;
  private final Source source;
  private final BucketTier mirror;
  private final BlobStore store;
  private final Io io;
  private final JitdiMetrics metrics;
  private final Counter upstreamBytes;
  private final Promise<Head> head = Promise.promise();
  private final Promise<Void> verified = Promise.promise();
  private final Promise<Void> done = Promise.promise();
  private final List<Waiter> waiters = new ArrayList<>();
  private final AtomicBoolean relayTaken = new AtomicBoolean();
  private final long started = System.nanoTime();
  private volatile long written;
  private volatile Throwable failure;
  private volatile UpstreamBody relayBody;
  private Context context;
  private TempBlob temp;
  private DigestingFileSink sink;
  private UpstreamBody current;
  private volatile long size = -1;
  private long reservedBytes;
  private final boolean forBuild;
  private final Enveloping enveloping;
  /** The container's second digest, fed the head, the blob and the tail; null without an envelope. */
  private java.security.MessageDigest containerDigest;
  private volatile DigestingFileSink.Written container;
  private int resumes;
  private long counted;
  private long lastLog = System.nanoTime();

  /**
   * @param mirror the bucket a cached fill is also uploaded to (null: none, or the source is the bucket)
   * @param forBuild started by a JIT build, which cannot read a relay: stored even past the budget (never past the
   *     disk's room) when the budget has no room beside what is reserved, as long as the blob fits it on its own
   */
  Fill(Vertx vertx, Digest digest, RepositoryName repo, Source source, BucketTier mirror, BlobStore store, Io io,
      JitdiMetrics metrics, boolean forBuild) {
    this(vertx, digest, repo, source, mirror, store, io, metrics, forBuild, null);
  }

  /** As the other constructor; with {@code enveloping}, a fill for a build into a container (never mirrored). */
  Fill(Vertx vertx, Digest digest, RepositoryName repo, Source source, BucketTier mirror, BlobStore store, Io io,
      JitdiMetrics metrics, boolean forBuild, Enveloping enveloping) {
    this.forBuild = forBuild;
    this.enveloping = enveloping;
    this.vertx = vertx;
    this.digest = digest;
    this.repo = repo;
    this.source = source;
    this.mirror = source.mirrored() && enveloping == null ? mirror : null;
    this.store = store;
    this.io = io;
    this.metrics = metrics;
    this.upstreamBytes = metrics.upstreamBytesCounter(source.name());
  }

  /** Where this fill stands: digest, repository, upstream, bytes written, size (-1: not known yet), seconds. */
  public JsonObject status() {
    return new JsonObject().put("digest", digest.toString()).put("repository", repo.toString())
        .put("upstream", source.name()).put("bytes", written).put("size", size)
        .put("seconds", (System.nanoTime() - started) / 1e9);
  }

  /** Where this fill reads from. */
  Source source() {
    return source;
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
    context = vertx.getOrCreateContext();
    store.record(digest).onComplete(ar -> {
      if (ar.succeeded() && ar.result().isPresent()) {
        long committed = ar.result().get().size();
        written = committed;
        head.tryComplete(new Head(Mode.ALREADY_CACHED, committed));
        verified.tryComplete();
        done.tryComplete();
        return;
      }
      source.open(0).onSuccess(this::onFirstBody).onFailure(this::fail);
    });
  }

  private void onFirstBody(UpstreamBody body) {
    size = body.contentLength().orElse(-1);
    if (size == 0 && !digest.isOfNothing()) {
      // a response with no bytes has no last byte to hold back: it would end clean before anything was verified
      body.cancel();
      rejectContent("declares 0 bytes", "sends 0 bytes for " + digest + ", which is not the digest of empty content");
      return;
    }
    if (enveloping != null) {
      long expected = enveloping.envelope().blobSize();
      if (size >= 0 && size != expected) {
        body.cancel();
        fail(new RegistryException(ErrorCode.SIZE_INVALID, 502, "upstream " + source.name() + " sends " + size
            + " bytes for " + digest + ", whose descriptor says " + expected, Map.of("upstream", source.name()),
            null, null));
        return;
      }
      size = expected;
    } else if (size > store.maxSize()) {
      LOG.info("blob {} ({} bytes) is larger than the whole cache budget; relaying it uncached", digest, size);
      relay(body);
      return;
    }
    // an enveloped fill's room is in its build's reservation
    long reservation = enveloping != null ? 0 : Math.max(size, 0);
    Future<Boolean> admitted = enveloping != null ? Future.succeededFuture(true) : forBuild
        ? store.reservePastBudget(reservation).map(fitted -> {
          if (!fitted) {
            LOG.info("blob {} ({} bytes) is read by a JIT build: stored past the cache budget for the build "
                + "(eviction brings the cache back within it afterwards)", digest, size);
          }
          return true;
        })
        : store.tryReserve(reservation);
    admitted.onComplete(fits -> context.runOnContext(v -> {
      if (fits.failed() || !fits.result()) {
        LOG.info("blob {} ({} bytes) does not fit the cache budget beside the fills in flight and the blobs being "
            + "read; relaying it uncached", digest, size);
        relay(body);
        return;
      }
      io.call(() -> {
        if (size >= 0 && Files.getFileStore(store.layout().tmpDir()).getUsableSpace() < size + DISK_HEADROOM) {
          return null;
        }
        TempBlob created = store.newTemp();
        if (enveloping != null) {
          try {
            ByteBuffer head = ByteBuffer.wrap(enveloping.envelope().head());
            while (head.hasRemaining()) {
              created.channel().write(head);
            }
          } catch (IOException e) {
            created.close();
            throw e;
          }
        }
        return created;
      }).onComplete(ar -> {
        if (ar.failed() || ar.result() == null) {
          store.release(reservation);
          if (ar.failed()) {
            LOG.warn("cannot create a temp file for blob {}; relaying it uncached: {}", digest,
                ar.cause().toString());
          } else {
            LOG.warn("not enough free disk for blob {} ({} bytes); relaying it uncached", digest, size);
          }
          relay(body);
          return;
        }
        temp = ar.result();
        if (enveloping != null) {
          containerDigest = Digest.newSha256();
          containerDigest.update(enveloping.envelope().head());
        }
        sink = new DigestingFileSink(temp.channel(), io.executor(), this::onWritten, containerDigest);
        reservedBytes = reservation;
        head.tryComplete(new Head(Mode.CACHE, size));
        receive(body);
        if (mirror != null) {
          mirror.mirror(digest, size, this, openForRead());
        }
      });
    }));
  }

  /** Feeds {@code body} into the sink; its end or cut comes back on the fill's context. */
  private void receive(UpstreamBody body) {
    if (failure != null) {
      body.cancel();
      return;
    }
    current = body;
    body.receive(new BodySource.Receiver() {
      @Override
      public void chunk(ByteBuf data) {
        if (!sink.write(data)) {
          body.pause();
          sink.whenDrained(body::resume);
        }
      }

      @Override
      public void end() {
        context.runOnContext(v -> bodyEnded(null));
      }

      @Override
      public void failed(Throwable cause) {
        context.runOnContext(v -> bodyEnded(cause));
      }
    });
  }

  private void bodyEnded(Throwable cut) {
    current = null;
    if (failure != null) {
      return;
    }
    if (sink.failure().isPresent()) {
      fail(sink.failure().get());
    } else if (cut == null && (size < 0 || sink.accepted() >= size)) {
      finish();
    } else {
      resume(cut != null ? cut : new IOException("upstream ended the blob at byte " + sink.accepted()));
    }
  }

  private void resume(Throwable cut) {
    if (resumes >= MAX_RESUMES) {
      fail(UpstreamErrors.unreachable(source.name(), new IOException("transfer of " + digest + " cut "
          + (resumes + 1) + " times; last: " + UpstreamErrors.describe(cut), cut)));
      return;
    }
    resumes++;
    long from = sink.accepted();
    LOG.info("blob {} cut at byte {} of {} ({}); resuming with Range, attempt {}", digest, from, size,
        UpstreamErrors.describe(cut), resumes);
    source.open(from).onSuccess(this::receive).onFailure(this::fail);
  }

  private void finish() {
    Future.fromCompletionStage(sink.end(), context)
        .compose(result -> io.call(() -> {
          if (enveloping != null) {
            commitContainer(result);
          } else {
            temp.commit(digest, size, result);
          }
          return result;
        }))
        .onSuccess(result -> {
          written = result.size();
          store.release(reservedBytes);
          reservedBytes = 0;
          LOG.info("fill {} committed: {} bytes from {} in {}s{}", digest, result.size(), source.name(),
              String.format("%.2f", (System.nanoTime() - started) / 1e9),
              resumes > 0 ? " after " + resumes + " resumes" : "");
          verified.tryComplete();
          notifyWaiters();
          done.tryComplete();
        })
        .onFailure(e -> {
          if (e instanceof TempBlob.MismatchException mismatch) {
            Digest actual = mismatch.actual().digest();
            rejectContent("sent " + mismatch.actual().size() + " bytes with digest " + actual,
                "sent content for " + digest + " whose sha256 is " + actual);
          } else {
            fail(e);
          }
        });
  }

  /**
   * Checks the blob, writes the envelope's tail after it and commits the container (blocking). The blob is checked
   * before anything is committed: a container is stored only around verified bytes.
   */
  private void commitContainer(DigestingFileSink.Written blob) throws IOException {
    Envelope envelope = enveloping.envelope();
    if (!blob.digest().equals(digest) || blob.size() != envelope.blobSize()) {
      temp.close();
      throw new TempBlob.MismatchException(digest, envelope.blobSize(), blob);
    }
    byte[] tail = envelope.tail();
    ByteBuffer bytes = ByteBuffer.wrap(tail);
    long at = envelope.blobOffset() + envelope.blobSize();
    while (bytes.hasRemaining()) {
      at += temp.channel().write(bytes, at);
    }
    containerDigest.update(tail);
    DigestingFileSink.Written made = new DigestingFileSink.Written(Digest.ofSha256Bytes(containerDigest.digest()),
        envelope.size());
    temp.commitBuilt(made);
    container = made;
    try {
      enveloping.committed().committed(made);
    } catch (IOException | RuntimeException e) {
      // the container is stored and verified; without its records the blob is only fetched again when asked for
      LOG.warn("blob {} is in stored blob {}, but that could not be recorded: {}", digest, made.digest(),
          e.toString());
    }
  }

  /** The container an enveloped fill committed; null before, or without an envelope. */
  DigestingFileSink.Written container() {
    return container;
  }

  /** Where the blob's first byte is in the file {@link #openForRead()} gives. */
  long blobOffset() {
    return enveloping == null ? 0 : enveloping.envelope().blobOffset();
  }

  private void relay(UpstreamBody body) {
    if (enveloping != null) {
      // a build cannot read a relay: it reads the blob another way, and a client that joined fetches its own
      body.cancel();
    } else {
      relayBody = body;
      // nobody took it (the starter went away): do not hold the connection
      vertx.setTimer(UNTAKEN_RELAY_MILLIS, t -> {
        if (relayTaken.compareAndSet(false, true)) {
          body.cancel();
        }
      });
    }
    head.tryComplete(new Head(Mode.RELAY, size));
    done.tryComplete();
  }

  /** The upstream body of a {@link Mode#RELAY} fill, for exactly one caller. */
  public Optional<UpstreamBody> takeRelay() {
    UpstreamBody body = relayBody;
    return body != null && relayTaken.compareAndSet(false, true) ? Optional.of(body) : Optional.empty();
  }

  /**
   * The source sent something other than the blob: counted as a digest mismatch, told to the source (the bucket then
   * stops offering its object), logged with {@code logged}, and the fill fails with 502 DIGEST_INVALID saying
   * {@code why}.
   */
  private void rejectContent(String logged, String why) {
    metrics.digestMismatch(source.name());
    source.rejected();
    LOG.warn("upstream {} {} for blob {}; rejected", source.name(), logged, digest);
    fail(new RegistryException(ErrorCode.DIGEST_INVALID, 502, "upstream " + source.name() + " " + why,
        Map.of("upstream", source.name()), null, null));
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
      error = UpstreamErrors.unreachable(source.name(), cause);
    }
    failure = error;
    head.tryFail(error);
    if (sink != null) {
      sink.abort(error);
    }
    if (current != null) {
      current.cancel();
      current = null;
    }
    TempBlob abandoned = temp;
    io.run(() -> {
      if (abandoned != null) {
        abandoned.close();
      }
    }).onComplete(ar -> {
      store.release(reservedBytes);
      reservedBytes = 0;
      verified.tryFail(error);
      notifyWaiters();
      done.tryFail(error);
    });
    if (!(cause instanceof RegistryException re && re.status() == 404)) {
      LOG.warn("fill {} from {} failed: {}", digest, source.name(), error.getMessage());
    }
  }

  /** Opens the content for reading (the temp file while filling, the committed blob after); on the IO pool. */
  public Future<FileChannel> openForRead() {
    TempBlob file = temp;
    return io.call(file::openReader);
  }

  /** Told by the sink's write lane of the file's new length. */
  private void onWritten(long total) {
    written = total;
    if (enveloping != null) {
      enveloping.progress().accept(total);
    }
    upstreamBytes.increment(total - counted);
    counted = total;
    long now = System.nanoTime();
    if (now - lastLog > PROGRESS_LOG_NANOS) {
      lastLog = now;
      double seconds = (now - started) / 1e9;
      LOG.info("fill {}: {} of {} bytes from {} ({} MB/s)", digest, total, size >= 0 ? size : "?", source.name(),
          String.format("%.1f", total / seconds / 1e6));
    }
    notifyWaiters();
  }

  @Override
  public long readable() {
    return written;
  }

  @Override
  public Future<Void> verified() {
    return verified.future();
  }

  @Override
  public Future<Void> awaitBeyond(long position) {
    synchronized (waiters) {
      if (failure != null && verified.future().isComplete()) {
        return Future.failedFuture(failure);
      }
      if (written > position || verified.future().succeeded()) {
        return Future.succeededFuture();
      }
      Promise<Void> promise = Promise.promise();
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
      Future<Void> outcome = verified.future();
      long readable = written;
      waiters.removeIf(w -> {
        if (outcome.failed()) {
          ready.add(() -> w.context().runOnContext(v -> w.promise().tryFail(outcome.cause())));
        } else if (readable > w.position() || outcome.succeeded()) {
          ready.add(() -> w.context().runOnContext(v -> w.promise().tryComplete()));
        } else {
          return false;
        }
        return true;
      });
    }
    ready.forEach(Runnable::run);
  }
}
