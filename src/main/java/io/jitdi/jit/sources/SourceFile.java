package io.jitdi.jit.sources;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import io.jitdi.stream.DigestingFileSink.Written;
import io.jitdi.stream.Envelope;
import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * One file a source gives.
 *
 * @param name its path relative to the source ({@code /}-separated, e.g. {@code llama-2-7b.gguf} or {@code sub/x}),
 *     already checked to have no {@code ..}, {@code .} or empty component
 * @param size its exact size in bytes
 * @param mode permission bits, or -1 for the rule's (or the default 0644)
 * @param opener opens its content; the stream fails (IOException) rather than end short or differ from a pin
 * @param blob the artifact blob (an Ollama model, an OCI artifact layer) its content comes from, fetched through the
 *     cache; once the layer holding it is built, that blob need not be kept beside it
 * @param fetcher for a file from an artifact blob: fetches the blob straight into a layer (see {@link Fetcher})
 */
public record SourceFile(String name, long size, int mode, Opener opener, Optional<Digest> blob,
    Optional<Fetcher> fetcher) {
  /** Opens a file's content. */
  @FunctionalInterface
  public interface Opener {
    InputStream open() throws IOException;
  }

  /** Fetches an artifact blob straight into a new stored blob around it: {@link ArtifactRegistry#fetchInto}. */
  @FunctionalInterface
  public interface Fetcher {
    Optional<Written> fetchInto(Envelope envelope, Envelope.Committed committed, LongConsumer progress)
        throws IOException;
  }

  public SourceFile {
    SourcePaths.checkRelative(name);
  }

  /** A file whose content does not come from an artifact blob. */
  public SourceFile(String name, long size, int mode, Opener opener) {
    this(name, size, mode, opener, Optional.empty(), Optional.empty());
  }

  /** This file, read from artifact blob {@code digest}, which {@code fetcher} fetches into a layer. */
  public SourceFile fromBlob(Digest digest, Fetcher fetcher) {
    return new SourceFile(name, size, mode, opener, Optional.of(digest), Optional.of(fetcher));
  }

  /** This file, read through {@code opener} instead. */
  public SourceFile withOpener(Opener other) {
    return new SourceFile(name, size, mode, other, blob, fetcher);
  }
}
