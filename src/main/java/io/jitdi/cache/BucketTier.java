package io.jitdi.cache;

import com.github.benmanes.caffeine.cache.Caffeine;
import io.jitdi.bucket.Bucket;
import io.jitdi.bucket.BucketException;
import io.jitdi.concurrent.Io;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.jitdi.stream.Growth;
import io.jitdi.upstream.PresignedFetch;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared bucket as the cache uses it: the tier behind the local disk that every replica of a central tier reads
 * and writes.
 *
 * <p>Contract:
 * <ul>
 *   <li>A blob goes into the bucket while it is filled from an upstream: its parts are uploaded as the fill's file
 *       grows, and the multipart upload is completed only once the fill verified the digest and size (aborted
 *       otherwise). A blob smaller than a part is put in one request after verification.</li>
 *   <li>Uploads under way are recorded in the index; {@link #start()} aborts the ones a crash left, and any upload
 *       under the prefix older than {@link #ABANDONED}.</li>
 *   <li>A local miss that the bucket has is filled from the bucket, verified like any fill, and not uploaded
 *       again.</li>
 *   <li>When the store cannot be reached, blobs on the local disk are still served; a miss fails with 503 and
 *       {@code Retry-After}, so the replicas do not each fetch from the upstream what the bucket may already hold.</li>
 * </ul>
 */
public final class BucketTier {
  private static final Logger LOG = LoggerFactory.getLogger(BucketTier.class);
  /** An upload under the prefix started this long ago belongs to nobody any more. */
  static final Duration ABANDONED = Duration.ofHours(24);
  static final Duration RETRY_AFTER = Duration.ofSeconds(10);

  private final Bucket bucket;
  private final PresignedFetch fetch;
  private final BlobStore store;
  private final MetadataStore index;
  private final Io io;
  private final JitdiMetrics metrics;
  /** Digests known to be in the bucket; objects under a digest key never change, so a hit is trusted for a while. */
  private final ConcurrentMap<Digest, Long> present = Caffeine.newBuilder().maximumSize(100_000)
      .expireAfterWrite(Duration.ofMinutes(10)).<Digest, Long>build().asMap();
  /**
   * Digests the bucket did not have a moment ago: one request's steps (where to fetch from, then the fill's source)
   * ask once, not once each. Kept briefly, as another replica may upload the blob at any time; a stale entry only
   * means a fetch from the upstream.
   */
  private final ConcurrentMap<Digest, Boolean> absent = Caffeine.newBuilder().maximumSize(100_000)
      .expireAfterWrite(ABSENT_FOR).<Digest, Boolean>build().asMap();
  private final AtomicReference<String> health = new AtomicReference<>("not checked yet");
  private final AtomicReference<String> misconfigured = new AtomicReference<>();
  private final AtomicBoolean checking = new AtomicBoolean();
  static final Duration ABSENT_FOR = Duration.ofSeconds(2);
  /** How long an object that did not verify is taken to be absent, unless this replica replaced it before. */
  static final Duration CORRUPT_FOR = Duration.ofHours(1);
  private final ConcurrentMap<Digest, Boolean> corrupt = Caffeine.newBuilder().maximumSize(10_000)
      .expireAfterWrite(CORRUPT_FOR).<Digest, Boolean>build().asMap();

  BucketTier(Bucket bucket, PresignedFetch fetch, BlobStore store, MetadataStore index, Io io, JitdiMetrics metrics) {
    this.bucket = bucket;
    this.store = store;
    this.fetch = fetch;
    this.index = index;
    this.io = io;
    this.metrics = metrics;
  }

  /** Checks the bucket and aborts the uploads a crash left; logs what is wrong and how to fix it. */
  Future<Void> start() {
    return check().compose(v -> io.call(index::uploads))
        .compose(ids -> bucket.abortUploads(uploadIds(ids), startingKeys(ids), ABANDONED)
            .compose(aborted -> io.run(() -> {
              ids.forEach(index::deleteUpload);
              if (aborted > 0) {
                LOG.info("bucket {}: aborted {} incomplete uploads left by a crash or abandoned", bucket.config(),
                    aborted);
              }
            })))
        .onFailure(e -> LOG.warn("bucket {}: {}", bucket.config(), e.getMessage()));
  }

  /** Marks an upload of a blob as starting, before the store gives its id (see {@link #uploadStarting}). */
  static final String STARTING = "starting|";

  private static Set<String> uploadIds(List<String> recorded) {
    return recorded.stream().filter(r -> !r.startsWith(STARTING)).collect(Collectors.toSet());
  }

  private Set<String> startingKeys(List<String> recorded) {
    return recorded.stream().filter(r -> r.startsWith(STARTING))
        .map(r -> bucket.blobKey(Digest.parse(r.substring(STARTING.length())))).collect(Collectors.toSet());
  }

  /**
   * Records that an upload of {@code digest} is about to be created (blocking): a crash after the store created it
   * and before its id is recorded still finds it at the next start, by its key.
   */
  private void uploadStarting(Digest digest) {
    index.putUpload(STARTING + digest, digest.toString());
  }

  /** The upload's own record replaces the "starting" one (blocking). */
  private void uploadStarted(Digest digest, Bucket.Upload upload) {
    index.putUpload(upload.uploadId(), digest.toString());
    index.deleteUpload(STARTING + digest);
  }

  /**
   * Asks the store whether the bucket is there and takes the credentials; {@link #problem()} and
   * {@link #misconfiguration()} say the outcome.
   */
  Future<Void> check() {
    return bucket.check().onSuccess(v -> {
      health.set(null);
      misconfigured.set(null);
    }).onFailure(e -> {
      health.set(e.getMessage());
      if (e instanceof BucketException b && b.reason() != BucketException.Reason.UNAVAILABLE) {
        misconfigured.set(e.getMessage());
      }
    });
  }

  /** Starts a {@link #check()} in the background unless one is under way. */
  void recheck() {
    if (checking.compareAndSet(false, true)) {
      check().onComplete(ar -> checking.set(false));
    }
  }

  /**
   * What is wrong with jitdi's configuration of the bucket (credentials refused, no such bucket) as last checked;
   * null when nothing is. A store that cannot be reached is not a configuration problem: it is the same for every
   * replica, and a replica still serves what its own disk holds.
   */
  public String misconfiguration() {
    return misconfigured.get();
  }

  /** What is wrong with the bucket as last seen, or null when it answered. */
  public String problem() {
    return health.get();
  }

  /** Where the bucket is, whether it redirects, and what was last wrong with it (null: nothing). */
  JsonObject status() {
    return new JsonObject().put("store", bucket.config().toString())
        .put("redirect", bucket.config().redirect()).put("problem", health.get());
  }

  public boolean redirects() {
    return bucket.config().redirect();
  }

  /**
   * The size of the bucket's copy of {@code digest}; empty when it has none, or only a corrupt one. Fails with 503
   * when unreachable.
   */
  Future<OptionalLong> size(Digest digest) {
    if (corrupt.containsKey(digest)) {
      return Future.succeededFuture(OptionalLong.empty());
    }
    Long known = present.get(digest);
    if (known != null) {
      return Future.succeededFuture(OptionalLong.of(known));
    }
    if (absent.containsKey(digest)) {
      return Future.succeededFuture(OptionalLong.empty());
    }
    return bucket.blobSize(digest).onSuccess(size -> {
      if (size.isPresent()) {
        present.put(digest, size.getAsLong());
      } else {
        absent.put(digest, Boolean.TRUE);
      }
    }).recover(e -> Future.failedFuture(unavailable(e)));
  }

  /** {@code digest} is in the bucket now (this replica put it there). */
  private void known(Digest digest, long size) {
    present.put(digest, size);
    absent.remove(digest);
    corrupt.remove(digest);
  }

  /**
   * A URL that reads {@code digest} from the bucket without credentials, valid for the configured TTL. On the IO
   * pool: the SDK may refresh credentials (STS, instance metadata) while it signs.
   */
  Future<URI> presigned(Digest digest) {
    return io.call(() -> bucket.presignedBlob(digest, bucket.config().redirectTtl()));
  }

  /**
   * A fill source that reads {@code digest} from the bucket. When the store does not give it (gone since it was
   * seen), the digest is no longer taken to be there, so the next request fills it from the upstream. When what it
   * gives is not the blob (bit rot, or an object another tool wrote under the key), the object is taken to be absent
   * for {@link #CORRUPT_FOR}: the next request fills the blob from the upstream, and that fill's upload replaces the
   * object.
   */
  Fill.Source source(Digest digest) {
    return Fill.Source.bucket(fetch, () -> presigned(digest), digest, () -> present.remove(digest),
        () -> corrupt(digest));
  }

  private void corrupt(Digest digest) {
    present.remove(digest);
    corrupt.put(digest, Boolean.TRUE);
    LOG.warn("bucket {}: object {} is not blob {} (its bytes do not hash to it); the blob is fetched from the "
        + "upstream instead, and the object replaced once that fill is verified", bucket.config(),
        bucket.blobKey(digest), digest);
  }

  /**
   * Uploads a blob being filled: parts follow {@code growth}, and the object is completed only once growth is
   * verified. Closes {@code reader} when done. Failures are logged and leave the blob local only.
   *
   * @param size the blob's size, -1 when not known yet
   */
  void mirror(Digest digest, long size, Growth growth, Future<FileChannel> reader) {
    // pinned while it is read, so eviction does not delete the file under a slow upload
    store.pin(digest);
    reader.compose(channel -> upload(digest, size, growth, channel)
            .eventually(() -> io.run(channel::close)))
        .onComplete(done -> store.unpin(digest))
        .onSuccess(v -> LOG.info("blob {} is in bucket {}", digest, bucket.config()))
        .onFailure(e -> {
          if (growth.verified().failed()) {
            LOG.debug("upload of {} abandoned with its fill", digest);
          } else {
            LOG.warn("blob {} was not written to bucket {}; it stays in the local cache only: {}", digest,
                bucket.config(), e.getMessage());
          }
        });
  }

  private Future<Void> upload(Digest digest, long size, Growth growth, FileChannel channel) {
    long part = Bucket.partSize(size);
    if (size >= 0 && size < part) {
      return growth.verified().compose(v -> bucket.putBlob(digest, channel, size))
          .onSuccess(v -> known(digest, size));
    }
    return io.run(() -> uploadStarting(digest))
        .compose(v -> bucket.startUpload(digest).recover(e -> io.run(() -> index.deleteUpload(STARTING + digest))
            .transform(ignored -> Future.<Bucket.Upload>failedFuture(e))))
        .compose(upload -> io.run(() -> uploadStarted(digest, upload))
        .compose(v -> parts(upload, channel, growth, part, 0))
        .compose(total -> {
          if (upload.parts() == 0) {
            // a blob of unknown size that turned out smaller than a part
            return upload.abort().compose(v -> bucket.putBlob(digest, channel, total)).map(total);
          }
          return upload.complete().map(total);
        })
        .onSuccess(total -> known(digest, total))
        // the record goes once the upload is completed or aborted; if the abort fails, the next start aborts it
        .recover(e -> upload.abort().compose(aborted -> io.run(() -> index.deleteUpload(upload.uploadId())))
            .transform(ignored -> Future.<Long>failedFuture(e)))
        .compose(total -> io.run(() -> index.deleteUpload(upload.uploadId())))
        .mapEmpty());
  }

  /**
   * Uploads parts from {@code offset} on as the file grows; gives the blob's size once it is verified and every
   * part is sent. One step per part, each started from the previous one's completion, so a blob of thousands of
   * parts does not nest thousands of futures.
   */
  private Future<Long> parts(Bucket.Upload upload, FileChannel channel, Growth growth, long part, long offset) {
    Promise<Long> sent = Promise.promise();
    step(upload, channel, growth, part, offset, sent);
    return sent.future();
  }

  private void step(Bucket.Upload upload, FileChannel channel, Growth growth, long part, long offset,
      Promise<Long> sent) {
    growth.awaitBeyond(offset + part - 1).onComplete(grown -> {
      if (grown.failed()) {
        sent.fail(grown.cause());
        return;
      }
      boolean last = growth.verified().succeeded();
      long available = growth.readable() - offset;
      if (!last || available > part) {
        upload.part(channel, offset, part).onComplete(done -> {
          if (done.failed()) {
            sent.fail(done.cause());
          } else {
            step(upload, channel, growth, part, offset + part, sent);
          }
        });
      } else if (available == part || (available > 0 && upload.parts() > 0)) {
        upload.part(channel, offset, available).onComplete(done -> {
          if (done.failed()) {
            sent.fail(done.cause());
          } else {
            sent.complete(offset + available);
          }
        });
      } else {
        sent.complete(offset + available);
      }
    });
  }

  /**
   * Publishes a blob jitdi built (a JIT layer or config) before its image is answered, so other replicas find it
   * here rather than build it again. Blocking, on the build's thread.
   */
  BlobStore.BuiltBlobs builtBlobs() {
    return (digest, content, size) -> {
      if (present.containsKey(digest) || bucket.blobSizeNow(digest).isPresent()) {
        return;
      }
      long part = Bucket.partSize(size);
      if (size < part) {
        bucket.putBlobNow(digest, content, size);
      } else {
        uploadStarting(digest);
        Bucket.Upload upload;
        try {
          upload = bucket.startUploadNow(digest);
        } catch (RuntimeException e) {
          index.deleteUpload(STARTING + digest);
          throw e;
        }
        try {
          uploadStarted(digest, upload);
          for (long offset = 0; offset < size; offset += part) {
            upload.partNow(content, offset, Math.min(part, size - offset));
          }
          upload.completeNow();
        } catch (RuntimeException e) {
          upload.abortNow();
          throw e;
        } finally {
          index.deleteUpload(upload.uploadId());
        }
      }
      known(digest, size);
    };
  }

  /** Tag answers, manifests and JIT records shared through the bucket (blocking, on the IO pool). */
  MetadataStore.SharedRecords records() {
    return new MetadataStore.SharedRecords() {
      @Override
      public Optional<byte[]> read(String name) {
        try {
          return bucket.readNow(name);
        } catch (BucketException e) {
          LOG.warn("record {} not read from bucket {}: {}", name, bucket.config(), e.getMessage());
          return Optional.empty();
        }
      }

      @Override
      public void write(String name, byte[] value) {
        try {
          bucket.writeNow(name, value);
        } catch (BucketException e) {
          LOG.warn("record {} not written to bucket {}; it stays local: {}", name, bucket.config(),
              e.getMessage());
        }
      }

      @Override
      public void delete(String name) {
        try {
          bucket.deleteNow(name);
        } catch (BucketException e) {
          LOG.warn("record {} not deleted from bucket {}: {}", name, bucket.config(), e.getMessage());
        }
      }
    };
  }

  void redirected() {
    metrics.bucketRedirect();
  }

  private static Throwable unavailable(Throwable e) {
    if (!(e instanceof BucketException)) {
      return e;
    }
    return new RegistryException(ErrorCode.UNAVAILABLE, 503, "the shared bucket cannot be read (" + e.getMessage()
        + "); blobs not on this replica's disk are served again once it answers", Map.of(), RETRY_AFTER, e);
  }

}
