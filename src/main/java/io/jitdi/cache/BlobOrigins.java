package io.jitdi.cache;

import io.jitdi.oci.Digest;
import io.jitdi.oci.RepositoryName;
import io.jitdi.upstream.UpstreamClient;
import io.vertx.core.Future;
import java.util.Optional;

/**
 * Where a blob that is not in the store comes from when it is not simply the request's own upstream: a blob jitdi
 * built (rebuilt into the store from its recipe) or one a JIT image took from its base image's upstream.
 * {@link Blobs} consults it on every miss of a client's request; the JIT images implement it.
 */
public interface BlobOrigins {
  /** A blob's upstream and repository. */
  record Origin(UpstreamClient upstream, RepositoryName repository) {}

  /**
   * Where a blob that is no longer stored on its own still is: bytes {@code [offset, offset + size)} of the stored
   * blob {@code container} (a model blob inside the uncompressed layer built from it).
   */
  record Inside(Digest container, long offset, long size) {}

  /** Knows no blob: every miss goes to the request's upstream. */
  BlobOrigins NONE = digest -> Future.succeededFuture(Optional.empty());

  /**
   * Where {@code digest} comes from, if it is known here. A blob jitdi built is rebuilt first, and then the answer is
   * empty with the blob in the store; empty also means "ask the request's own upstream".
   */
  Future<Optional<Origin>> locate(Digest digest);

  /**
   * Where {@code digest}'s verified bytes are inside another stored blob, if they are; asked before {@link #locate}.
   * The container may be gone by the time it is opened: the caller then goes on as if this were empty.
   */
  default Future<Optional<Inside>> inside(Digest digest) {
    return Future.succeededFuture(Optional.empty());
  }
}
