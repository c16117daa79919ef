package io.jitdi.bucket;

import io.jitdi.bucket.BucketException.Reason;
import io.jitdi.concurrent.Io;
import io.jitdi.config.S3StoreConfig;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.metrics.JitdiMetrics.BucketOp;
import io.jitdi.oci.Digest;
import io.jitdi.stream.FileRegionStream;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Future;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.Callable;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/**
 * One bucket (and key prefix) on an S3-compatible store. Every request runs on the blocking pool and comes back as a
 * future on the caller's context; failures are {@link BucketException}s that say what to fix.
 *
 * <p>Keys, under the configured prefix: {@code blobs/sha256/<hex>} for verified blobs and
 * {@code records/<name>} for small records (manifests, tag answers, JIT recipes). A blob key is only ever written by
 * completing a multipart upload or by one PUT, both after the caller verified the content.
 *
 * <p>Requests to a custom endpoint send checksums only where S3 requires them: several S3-compatible stores answer
 * {@code 501} to the CRC32 headers the SDK otherwise adds to every upload.
 */
public final class Bucket implements AutoCloseable {
  /** How long {@link #check()} waits for the store, all attempts together. */
  static final Duration CHECK_TIMEOUT = Duration.ofSeconds(10);
  /** Parts of a multipart upload, unless the blob is so large that 10,000 parts would not hold it. */
  public static final long PART_SIZE = 16L * 1024 * 1024;
  /** S3 allows at most this many parts. */
  static final int MAX_PARTS = 10_000;
  /** Part size for a blob of unknown size: 640 GB in 10,000 parts. */
  static final long UNKNOWN_SIZE_PART = 64L * 1024 * 1024;
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration SOCKET_TIMEOUT = Duration.ofSeconds(60);

  private final S3StoreConfig config;
  private final S3Client s3;
  private final S3Presigner presigner;
  private final Io io;
  private final JitdiMetrics metrics;
  private final Counter readBytes;
  private final Counter writtenBytes;

  private Bucket(S3StoreConfig config, S3Client s3, S3Presigner presigner, Io io, JitdiMetrics metrics) {
    this.config = config;
    this.s3 = s3;
    this.presigner = presigner;
    this.io = io;
    this.metrics = metrics;
    this.readBytes = metrics.bucketBytes("read");
    this.writtenBytes = metrics.bucketBytes("write");
    metrics.registerBucket();
  }

  /** A client for {@code config}'s bucket; makes no request yet (see {@link #check()}). */
  public static Bucket open(S3StoreConfig config, Io io, JitdiMetrics metrics) {
    AwsCredentialsProvider credentials = config.accessKeyId().isPresent()
        ? StaticCredentialsProvider.create(AwsBasicCredentials.create(config.accessKeyId().get(),
            config.secretAccessKey().orElseThrow()))
        : DefaultCredentialsProvider.builder().build();
    Region region = Region.of(config.region());
    var builder = S3Client.builder()
        .region(region)
        .credentialsProvider(credentials)
        .forcePathStyle(config.pathStyle())
        .httpClient(UrlConnectionHttpClient.builder().connectionTimeout(CONNECT_TIMEOUT)
            .socketTimeout(SOCKET_TIMEOUT).build())
        .overrideConfiguration(o -> o.retryStrategy(r -> r.maxAttempts(2)));
    var presign = S3Presigner.builder().region(region).credentialsProvider(credentials)
        .serviceConfiguration(S3Configuration.builder().pathStyleAccessEnabled(config.pathStyle()).build());
    if (config.endpoint().isPresent()) {
      builder.endpointOverride(config.endpoint().get())
          .requestChecksumCalculation(software.amazon.awssdk.core.checksums.RequestChecksumCalculation.WHEN_REQUIRED)
          .responseChecksumValidation(software.amazon.awssdk.core.checksums.ResponseChecksumValidation.WHEN_REQUIRED);
      presign.endpointOverride(config.endpoint().get());
    }
    return new Bucket(config, builder.build(), presign.build(), io, metrics);
  }

  public S3StoreConfig config() {
    return config;
  }

  /** The part size for a blob of {@code size} bytes (-1: unknown): at least {@link #PART_SIZE}, whole MiBs. */
  public static long partSize(long size) {
    if (size < 0) {
      return UNKNOWN_SIZE_PART;
    }
    long needed = (size + MAX_PARTS - 1) / MAX_PARTS;
    long mib = 1024 * 1024;
    return Math.max(PART_SIZE, (needed + mib - 1) / mib * mib);
  }

  /** The key of a verified blob, under the prefix. */
  public String blobKey(Digest digest) {
    return config.prefix() + "blobs/" + digest.algorithm() + "/" + digest.hex();
  }

  private String recordKey(String name) {
    return config.prefix() + "records/" + name;
  }

  /**
   * Whether the bucket exists and takes jitdi's credentials; fails with {@link BucketException.Reason#UNAVAILABLE}
   * when the store has not answered within {@link #CHECK_TIMEOUT} (a store that accepts connections and hangs).
   */
  public Future<Void> check() {
    return call(BucketOp.check, () -> {
      s3.headBucket(b -> b.bucket(config.bucket()).overrideConfiguration(o -> o.apiCallTimeout(CHECK_TIMEOUT)));
      return null;
    });
  }

  /** The size of {@code digest}'s object; empty when the bucket does not have it. */
  public Future<OptionalLong> blobSize(Digest digest) {
    return io.call(() -> blobSizeNow(digest));
  }

  /** As {@link #blobSize}, blocking: call on the IO pool. */
  public OptionalLong blobSizeNow(Digest digest) {
    return blocking(BucketOp.head, () -> {
      try {
        return OptionalLong.of(s3.headObject(b -> b.bucket(config.bucket()).key(blobKey(digest))).contentLength());
      } catch (NoSuchKeyException e) {
        return OptionalLong.empty();
      } catch (S3Exception e) {
        if (e.statusCode() == 404) {
          return OptionalLong.empty();
        }
        throw e;
      }
    });
  }

  /** A presigned GET of {@code digest}'s object, valid for {@code ttl}; computed locally, no request. */
  public URI presignedBlob(Digest digest, Duration ttl) {
    try {
      return presigner.presignGetObject(p -> p.signatureDuration(ttl)
          .getObjectRequest(g -> g.bucket(config.bucket()).key(blobKey(digest)))).url().toURI();
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException("the SDK presigned an invalid URL", e);
    }
  }

  /** Reads the record {@code name}; empty when there is none. Blocks: call on the IO pool. */
  public Optional<byte[]> readNow(String name) {
    return blocking(BucketOp.get, () -> {
      try {
        byte[] bytes = s3.getObjectAsBytes(b -> b.bucket(config.bucket()).key(recordKey(name))).asByteArray();
        readBytes.increment(bytes.length);
        return Optional.of(bytes);
      } catch (NoSuchKeyException e) {
        return Optional.empty();
      }
    });
  }

  /** Writes the record {@code name} (replacing it). Blocks: call on the IO pool. */
  public void writeNow(String name, byte[] bytes) {
    blocking(BucketOp.put, () -> {
      s3.putObject(b -> b.bucket(config.bucket()).key(recordKey(name)).contentLength((long) bytes.length),
          RequestBody.fromBytes(bytes));
      writtenBytes.increment(bytes.length);
      return null;
    });
  }

  /** Deletes the record {@code name} (absent is fine). Blocks: call on the IO pool. */
  public void deleteNow(String name) {
    blocking(BucketOp.put, () -> {
      s3.deleteObject(b -> b.bucket(config.bucket()).key(recordKey(name)));
      return null;
    });
  }

  /**
   * Puts a whole verified blob in one request, for blobs smaller than a part. The caller verified {@code channel}'s
   * first {@code size} bytes against {@code digest}.
   */
  public Future<Void> putBlob(Digest digest, FileChannel channel, long size) {
    return io.run(() -> putBlobNow(digest, channel, size));
  }

  /** As {@link #putBlob}, blocking: call on the IO pool. */
  public void putBlobNow(Digest digest, FileChannel channel, long size) {
    blocking(BucketOp.put, () -> {
      s3.putObject(b -> b.bucket(config.bucket()).key(blobKey(digest)).contentLength(size),
          region(channel, 0, size));
      writtenBytes.increment(size);
      return null;
    });
  }

  /** Starts a multipart upload of {@code digest}; nothing is visible under its key until it is completed. */
  public Future<Upload> startUpload(Digest digest) {
    return io.call(() -> startUploadNow(digest));
  }

  /** As {@link #startUpload}, blocking: call on the IO pool. */
  public Upload startUploadNow(Digest digest) {
    String key = blobKey(digest);
    return blocking(BucketOp.put, () -> new Upload(key,
        s3.createMultipartUpload(b -> b.bucket(config.bucket()).key(key)).uploadId()));
  }

  /**
   * Aborts the incomplete uploads under the prefix that are in {@code ids} (this replica's, left by a crash), or of
   * an object key in {@code keys} (uploads this replica was starting when it crashed, before it knew their ids), or
   * were started before {@code now - olderThan} (anyone's, abandoned); gives how many were aborted.
   */
  public Future<Integer> abortUploads(Set<String> ids, Set<String> keys, Duration olderThan) {
    return call(BucketOp.list, () -> {
      Instant cutoff = Instant.now().minus(olderThan);
      List<MultipartUpload> stale = new ArrayList<>();
      s3.listMultipartUploadsPaginator(b -> b.bucket(config.bucket()).prefix(config.prefix() + "blobs/"))
          .uploads().forEach(u -> {
            if (ids.contains(u.uploadId()) || keys.contains(u.key())
                || (u.initiated() != null && u.initiated().isBefore(cutoff))) {
              stale.add(u);
            }
          });
      int aborted = 0;
      for (MultipartUpload u : stale) {
        try {
          s3.abortMultipartUpload(b -> b.bucket(config.bucket()).key(u.key()).uploadId(u.uploadId()));
          metrics.bucketRequest(BucketOp.abort, "ok");
          aborted++;
        } catch (S3Exception e) {
          // another replica aborted it first (404 NoSuchUpload), or it cannot be now: the others still go
          metrics.bucketRequest(BucketOp.abort, e.statusCode() == 404 ? "missing" : "error");
        }
      }
      return aborted;
    });
  }

  /**
   * One multipart upload of a blob. Parts are sent in order, one at a time; {@link #complete()} makes the object
   * visible, {@link #abort()} discards the parts.
   */
  public final class Upload {
    private final String key;
    private final String uploadId;
    private final List<CompletedPart> parts = new ArrayList<>();

    private Upload(String key, String uploadId) {
      this.key = key;
      this.uploadId = uploadId;
    }

    public String uploadId() {
      return uploadId;
    }

    /** How many parts were sent. */
    public int parts() {
      return parts.size();
    }

    /** Sends bytes {@code [offset, offset + length)} of {@code channel} as the next part. */
    public Future<Void> part(FileChannel channel, long offset, long length) {
      return io.run(() -> partNow(channel, offset, length));
    }

    /** As {@link #part}, blocking: call on the IO pool. */
    public void partNow(FileChannel channel, long offset, long length) {
      int number = parts.size() + 1;
      blocking(BucketOp.upload_part, () -> {
        String etag = s3.uploadPart(b -> b.bucket(config.bucket()).key(key).uploadId(uploadId).partNumber(number)
            .contentLength(length), region(channel, offset, length)).eTag();
        writtenBytes.increment(length);
        synchronized (parts) {
          parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
        }
        return null;
      });
    }

    /** Completes the upload: the object appears under the blob's key. Call only after the content was verified. */
    public Future<Void> complete() {
      return io.run(this::completeNow);
    }

    /** As {@link #complete}, blocking: call on the IO pool. */
    public void completeNow() {
      blocking(BucketOp.complete, () -> {
        List<CompletedPart> sent;
        synchronized (parts) {
          sent = List.copyOf(parts);
        }
        s3.completeMultipartUpload(b -> b.bucket(config.bucket()).key(key).uploadId(uploadId)
            .multipartUpload(CompletedMultipartUpload.builder().parts(sent).build()));
        return null;
      });
    }

    /** Discards the upload and its parts. */
    public Future<Void> abort() {
      return io.run(this::abortNow);
    }

    /** As {@link #abort}, blocking: call on the IO pool. */
    public void abortNow() {
      blocking(BucketOp.abort, () -> {
        s3.abortMultipartUpload(b -> b.bucket(config.bucket()).key(key).uploadId(uploadId));
        return null;
      });
    }
  }

  /** A request body of bytes {@code [offset, offset + length)} of {@code channel}, read by position. */
  private static RequestBody region(FileChannel channel, long offset, long length) {
    // the SDK may open the body more than once (to sign it, to retry): each stream reads by position, none closes
    return RequestBody.fromContentProvider(() -> new FileRegionStream(channel, offset, length, offset + length,
        () -> { }), length, "application/octet-stream");
  }

  /** Runs a request on the pool, counting it and mapping its failure to a {@link BucketException}. */
  private <T> Future<T> call(BucketOp op, Callable<T> request) {
    return io.call(() -> blocking(op, request));
  }

  /** Runs a request on this thread, counting it and mapping its failure to a {@link BucketException}. */
  private <T> T blocking(BucketOp op, Callable<T> request) {
    try {
      T result = request.call();
      metrics.bucketRequest(op, result instanceof OptionalLong o && o.isEmpty()
          || result instanceof Optional<?> p && p.isEmpty() ? "missing" : "ok");
      return result;
    } catch (S3Exception e) {
      metrics.bucketRequest(op, e.statusCode() == 403 ? "denied" : "error");
      throw mapped(e);
    } catch (SdkClientException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("Unable to load credentials")) {
        metrics.bucketRequest(op, "denied");
        throw new BucketException(Reason.DENIED, "no credentials for the object store " + where() + ": set "
            + "cache.store.s3.accessKeyId and secretAccessKey, or give them through the AWS default chain "
            + "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a web identity token, an instance profile)", e);
      }
      metrics.bucketRequest(op, "error");
      throw new BucketException(Reason.UNAVAILABLE, "the object store " + where() + " cannot be reached: "
          + e.getMessage(), e);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private BucketException mapped(S3Exception e) {
    String code = e.awsErrorDetails() != null ? e.awsErrorDetails().errorCode() : null;
    if (e.statusCode() == 403) {
      return new BucketException(Reason.DENIED, "the object store " + where() + " refused jitdi's credentials for "
          + "bucket " + config.bucket() + " (" + (code != null ? code : "403") + "): check cache.store.s3."
          + "accessKeyId and secretAccessKey (or, without them, the credentials the AWS default chain finds: "
          + "AWS_ACCESS_KEY_ID, web identity, instance profile) and that they may read and write the bucket", e);
    }
    if ("NoSuchBucket".equals(code) || e.statusCode() == 404 && code == null) {
      return new BucketException(Reason.NO_BUCKET, "bucket " + config.bucket() + " does not exist at " + where()
          + ": create it (e.g. aws s3 mb s3://" + config.bucket() + ") or fix cache.store.s3.bucket", e);
    }
    return new BucketException(Reason.UNAVAILABLE, "the object store " + where() + " answered " + e.statusCode()
        + (code != null ? " " + code : "") + ": " + e.getMessage(), e);
  }

  private String where() {
    return config.endpoint().map(URI::toString).orElse("AWS S3 " + config.region());
  }

  @Override
  public void close() {
    presigner.close();
    s3.close();
  }
}
