package io.jitdi.jit;

import io.jitdi.cache.BlobStore;
import io.jitdi.cache.Blobs;
import io.jitdi.cache.Cache;
import io.jitdi.cache.Manifests;
import io.jitdi.cache.BlobBody;
import io.jitdi.cache.OpenBlob;
import io.jitdi.stream.FileRegionStream;
import io.jitdi.stream.Growth;
import io.jitdi.jit.sources.ArtifactRegistry;
import io.jitdi.jit.sources.VerifyingInputStream;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ImageReference;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.MediaType;
import io.jitdi.oci.RepositoryName;
import io.jitdi.upstream.UpstreamClient;
import io.jitdi.upstream.UpstreamRouter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.jitdi.stream.DigestingFileSink;
import io.jitdi.stream.Envelope;
import java.io.IOException;
import java.util.function.LongConsumer;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;

/**
 * Model artifacts read through jitdi's pull-through path: manifests through the manifest cache, blobs fetched once
 * (single-flight, verified) into the blob store and read from there. The registry must be a configured upstream, so
 * its URL, credentials and TLS settings are the ones every pull uses. Blocks the calling thread, which must not be an
 * event loop.
 */
public final class CachedArtifacts implements ArtifactRegistry {
  /** Image manifests of either family; an artifact is never an index here. */
  public static final String ACCEPT = String.join(", ", List.of(MediaType.DOCKER_MANIFEST, MediaType.OCI_MANIFEST).stream()
      .map(MediaType::value).sorted().toList());

  /** Where the cache's futures are started: they need a Vert.x context, and callers are on the IO pool. */
  private final Context context;
  private final UpstreamRouter router;
  private final Manifests manifests;
  private final Blobs blobs;
  private final BlobStore store;
  private final JitRecords records;

  public CachedArtifacts(Vertx vertx, UpstreamRouter router, Cache cache) {
    this.context = vertx.getOrCreateContext();
    this.router = router;
    this.manifests = cache.manifests();
    this.blobs = cache.blobs();
    this.store = cache.store();
    this.records = new JitRecords(cache.index());
  }

  @Override
  public Manifest manifest(ImageReference ref) throws IOException {
    UpstreamClient upstream = upstream(ref);
    Manifest manifest = await(() -> manifests.get(upstream, ref.repository(), ref.reference(), ACCEPT, true), ref)
        .manifest().orElseThrow();
    if (!manifest.mediaType().isManifest() || manifest.mediaType().isIndex()) {
      throw new IOException(ref + " is a " + manifest.mediaType() + ", not a single model manifest; name the "
          + "platform's manifest by digest");
    }
    return manifest;
  }

  @Override
  public Blob blob(ImageReference ref, Digest digest, long size) throws IOException {
    UpstreamClient upstream = upstream(ref);
    OpenBlob open = await(() -> cached(upstream, ref.repository(), digest), ref);
    if (open.size() != size) {
      open.close();
      throw new IOException("blob " + digest + " of " + ref + " has " + open.size() + " bytes, and the manifest says "
          + size);
    }
    return asBlob(open);
  }

  /**
   * Reads {@code length} bytes from {@code offset} as the blob arrives: the fill that fetches it once (shared with
   * every pull and build of the same digest) is followed while it writes, so a layer is built while its source
   * downloads. The stream's end waits until the fill verified the whole blob's digest and size, and fails when it did not: a
   * build never completes on unverified bytes. A blob that cannot be cached is refused, as by {@link #blob}.
   */
  @Override
  public InputStream open(ImageReference ref, Digest digest, long size, long offset, long length)
      throws IOException {
    Optional<InputStream> placed = fromLayer(ref, digest, size, offset, length);
    if (placed.isPresent()) {
      return placed.get();
    }
    UpstreamClient upstream = upstream(ref);
    BlobBody body = await(() -> blobs.forBuild(upstream, ref.repository(), digest), ref);
    if (!(body instanceof BlobBody.FromFile file)) {
      body.release();
      throw new IOException("blob " + digest + " (" + body.size() + " bytes) does not fit in the cache (budget or "
          + "free disk); model layers are built from cached blobs, so raise cache.maxSize or free disk");
    }
    if (file.size() < 0) {
      // the upstream did not say the size: read the committed blob once its fill is done
      body.release();
      return ArtifactRegistry.super.open(ref, digest, size, offset, length);
    }
    if (file.size() != size) {
      body.release();
      throw new IOException("blob " + digest + " of " + ref + " has " + file.size() + " bytes, and the manifest says "
          + size);
    }
    return new Following(file, offset, length, ref); // releases the body if the range is outside the blob
  }

  @Override
  public Optional<DigestingFileSink.Written> fetchInto(ImageReference ref, Digest digest, Envelope envelope,
      Envelope.Committed committed, LongConsumer progress) throws IOException {
    boolean atHand = store.holds(digest) || records.placement(digest)
        .filter(p -> p.size() == envelope.blobSize() && store.holds(p.layer())).isPresent();
    if (atHand) {
      return Optional.empty();
    }
    UpstreamClient upstream = upstream(ref);
    return await(() -> blobs.fillInside(upstream, ref.repository(), digest, envelope, committed, progress), ref);
  }

  /**
   * The range read from the uncompressed layer an earlier build placed the blob's bytes in, when the blob itself is no
   * longer stored (a model is kept once); a whole read is verified against the digest again.
   */
  private Optional<InputStream> fromLayer(ImageReference ref, Digest digest, long size, long offset, long length)
      throws IOException {
    if (store.holds(digest)) {
      return Optional.empty();
    }
    Optional<JitRecords.Placement> placement = records.placement(digest).filter(p -> p.size() == size);
    if (placement.isEmpty()) {
      return Optional.empty();
    }
    JitRecords.Placement p = placement.get();
    Optional<OpenBlob> layer = await(() -> store.open(p.layer()), ref);
    if (layer.isEmpty()) {
      return Optional.empty();
    }
    OpenBlob open = layer.get();
    InputStream region = new FileRegionStream(open.channel(), p.offset() + offset, length, open.size(), open::close);
    return Optional.of(offset == 0 && length == size
        ? new VerifyingInputStream(region, digest, size, "blob " + digest + " (in layer " + p.layer() + ")")
        : region);
  }

  /**
   * A range of a blob that may still be being filled, read as the fill writes it; blocks, on the IO pool. Its end is
   * reported only once the fill verified the whole blob: a mismatch fails that read. The blob may start past the
   * file's first byte (a fill into a layer): positions in the file are the blob's plus its offset there.
   */
  private final class Following extends FileRegionStream {
    private final Growth growth;
    private final ImageReference ref;
    private final long base;

    Following(BlobBody.FromFile file, long offset, long length, ImageReference ref) {
      super(file.file().channel(), file.file().offset() + offset, length, file.file().offset() + file.size(),
          file::release);
      this.growth = file.growth();
      this.ref = ref;
      this.base = file.file().offset();
    }

    @Override
    protected long readableFrom(long position) throws IOException {
      long inBlob = position - base;
      if (growth.readable() <= inBlob) {
        await(() -> growth.awaitBeyond(inBlob), ref);
      }
      return base + growth.readable();
    }

    @Override
    protected void reachedEnd() throws IOException {
      await(growth::verified, ref);
    }
  }

  /** {@code open} as an artifact blob: its channel and size, closed (unpinned) with it. */
  private static Blob asBlob(OpenBlob open) {
    return new Blob() {
      @Override
      public FileChannel channel() {
        return open.channel();
      }

      @Override
      public long size() {
        return open.size();
      }

      @Override
      public long offset() {
        return open.offset();
      }

      @Override
      public void close() {
        open.close();
      }
    };
  }

  /** The committed blob, after joining or starting its fill. */
  private Future<OpenBlob> cached(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    return blobs.whole(upstream, repo, digest).compose(body -> {
      if (body instanceof BlobBody.FromFile file) {
        return Future.succeededFuture(file.file());
      }
      body.release();
      return Future.failedFuture(new IOException("blob " + digest + " (" + body.size() + " bytes) does not fit in "
          + "the cache (budget or free disk); model layers are built from cached blobs, so raise cache.maxSize or "
          + "free disk"));
    });
  }

  private UpstreamClient upstream(ImageReference ref) throws IOException {
    UpstreamClient upstream = router.upstreams().get(ref.registry());
    if (upstream == null) {
      throw new IOException("registry " + ref.registry() + " is not configured; add it under upstreams: ("
          + ref.registry() + ": {url: https://" + ref.registry() + "})");
    }
    return upstream;
  }

  /** Starts {@code start} on the context and waits for its result. */
  private <T> T await(Supplier<Future<T>> start, ImageReference ref) throws IOException {
    if (Context.isOnEventLoopThread()) {
      throw new IllegalStateException("model artifacts are read on the IO pool, never on an event loop");
    }
    Promise<T> result = Promise.promise();
    context.runOnContext(v -> {
      try {
        start.get().onComplete(result);
      } catch (RuntimeException e) {
        result.fail(e);
      }
    });
    try {
      return result.future().toCompletionStage().toCompletableFuture().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while reading " + ref, e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof IOException io ? io : new IOException(ref + ": " + cause.getMessage(), cause);
    }
  }
}
