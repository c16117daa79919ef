package io.jitdi.jit.sources;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;

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
 */
public record SourceFile(String name, long size, int mode, Opener opener, Optional<Digest> blob) {
  /** Opens a file's content. */
  @FunctionalInterface
  public interface Opener {
    InputStream open() throws IOException;
  }

  public SourceFile {
    SourcePaths.checkRelative(name);
  }

  /** A file whose content does not come from an artifact blob. */
  public SourceFile(String name, long size, int mode, Opener opener) {
    this(name, size, mode, opener, Optional.empty());
  }

  /** This file, read from artifact blob {@code digest}. */
  public SourceFile fromBlob(Digest digest) {
    return new SourceFile(name, size, mode, opener, Optional.of(digest));
  }
}
