package io.jitdi.jit.sources;

import io.jitdi.oci.Digest;
import io.jitdi.stream.FileRegionStream;
import io.jitdi.oci.ImageReference;
import io.jitdi.oci.Manifest;
import io.jitdi.stream.DigestingFileSink;
import io.jitdi.stream.Envelope;
import java.io.IOException;
import java.util.Optional;
import java.util.function.LongConsumer;
import java.io.InputStream;
import java.nio.channels.FileChannel;

/**
 * Where registry-based sources (Ollama models, OCI model artifacts) read manifests and blobs. In the server this is
 * jitdi's own pull-through path: the manifest cache, and blobs fetched once into the verified blob store. Every
 * method blocks; callers are on the IO pool.
 */
public interface ArtifactRegistry {
  /** The single-platform manifest {@code ref} names (an index is refused), with its exact bytes. */
  Manifest manifest(ImageReference ref) throws IOException;

  /**
   * A blob of {@code ref}'s repository, verified against {@code digest} and {@code size} before it is handed out.
   *
   * @throws IOException when it cannot be had, or when this registry does not read content (a dry run's)
   */
  Blob blob(ImageReference ref, Digest digest, long size) throws IOException;

  /**
   * {@code length} bytes of blob {@code digest} from {@code offset}, read in place; closing the stream closes the blob.
   */
  default InputStream open(ImageReference ref, Digest digest, long size, long offset, long length)
      throws IOException {
    Blob blob = blob(ref, digest, size);
    return new FileRegionStream(blob.channel(), blob.offset() + offset, length, blob.offset() + blob.size(),
        blob::close);
  }

  /**
   * File {@code name} of a source whose content is blob {@code digest} ({@code size} bytes) of {@code ref}'s
   * repository: read with {@link #open}, or fetched straight into a layer with {@link #fetchInto}.
   */
  default SourceFile file(String name, ImageReference ref, Digest digest, long size) {
    return new SourceFile(name, size, -1, () -> open(ref, digest, size, 0, size)).fromBlob(digest,
        (envelope, committed, progress) -> fetchInto(ref, digest, envelope, committed, progress));
  }

  /**
   * Fetches blob {@code digest} (of {@code envelope.blobSize()} bytes) of {@code ref}'s repository straight into a new
   * stored blob, its container: {@code envelope}'s head, the blob, its tail. The blob's digest and size are verified
   * and the container's digest computed in the same pass; clients asking for the blob meanwhile follow it there.
   *
   * @param committed told of the container once it is stored, before the fetch is done for anyone
   * @param progress told the blob's bytes written so far
   * @return the container; empty when the blob is at hand already (stored, inside a stored blob, or being fetched):
   *     read it with {@link #open} then
   * @throws IOException when it cannot be had or is not what {@code digest} says
   */
  default Optional<DigestingFileSink.Written> fetchInto(ImageReference ref, Digest digest, Envelope envelope,
      Envelope.Committed committed, LongConsumer progress) throws IOException {
    return Optional.empty();
  }

  /** A verified blob on local disk, kept (not evicted) until closed. */
  interface Blob extends AutoCloseable {
    FileChannel channel();

    long size();

    /** Where the blob's first byte is in {@link #channel()} (past 0 for a blob inside another). */
    default long offset() {
      return 0;
    }

    @Override
    void close();
  }
}
