package io.jitdi.cache;

import io.jitdi.oci.Digest;
import io.jitdi.oci.RepositoryName;
import io.jitdi.upstream.PresignedFetch;
import io.jitdi.upstream.UpstreamBody;
import io.jitdi.upstream.UpstreamClient;
import io.vertx.core.Future;
import java.util.function.Supplier;

/** Where a {@link Fill} reads its blob from: an upstream registry, or the shared bucket. */
interface FillSource {
  /** For logs, metrics and errors: the upstream's key, or {@code bucket}. */
  String name();

  /** The blob's body from byte {@code offset} on (a 200 at 0, else a 206 starting there). */
  Future<UpstreamBody> open(long offset);

  /** Whether what this source gives should also be written to the shared bucket. */
  boolean mirrored();

  static FillSource upstream(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    return new FillSource() {
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
   * the store does not give it.
   */
  static FillSource bucket(PresignedFetch fetch, Supplier<Future<java.net.URI>> presigned, Digest digest,
      Runnable gone) {
    return new FillSource() {
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
    };
  }
}
