package io.jitdi.cache;

import io.jitdi.oci.Digest;
import io.jitdi.stream.Growth;
import io.jitdi.upstream.UpstreamBody;

/**
 * What a blob GET sends: a file (committed, or still being filled) or an upstream body relayed through a verifier.
 * The receiver sends it once and then calls {@link #release()}, whether or not the send succeeded.
 */
public sealed interface BlobBody permits BlobBody.FromFile, BlobBody.Relayed {
  /** How the cache answered. */
  enum Origin {
    /** A committed blob fetched earlier. */
    HIT,
    /** A committed blob jitdi built (a JIT layer or config). */
    JIT,
    /** A fill this request started. */
    MISS,
    /** A fill another request started. */
    COALESCED
  }

  Digest digest();

  /** The blob's size, or -1 when the upstream did not say (a fill or relay of a chunked response). */
  long size();

  Origin origin();

  /** Gives back what the body holds (an open file and its pin, or an upstream connection). Idempotent. */
  void release();

  /**
   * A file that may still be growing: send what {@link Growth} says is readable, and hold back the response's last
   * byte until {@link Growth#verified()} succeeds.
   */
  record FromFile(OpenBlob file, Growth growth, Origin origin) implements BlobBody {
    @Override
    public Digest digest() {
      return file.digest();
    }

    @Override
    public long size() {
      return file.size();
    }

    @Override
    public void release() {
      file.close();
    }
  }

  /** An upstream body that cannot be cached (too large for the budget, or no disk room): relay it, verified. */
  record Relayed(Digest digest, UpstreamBody upstream, long size) implements BlobBody {
    @Override
    public Origin origin() {
      return Origin.MISS;
    }

    @Override
    public void release() {
      upstream.cancel();
    }
  }
}
