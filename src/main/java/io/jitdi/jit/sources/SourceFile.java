package io.jitdi.jit.sources;

import java.io.IOException;
import java.io.InputStream;

/**
 * One file a source gives.
 *
 * @param name its path relative to the source ({@code /}-separated, e.g. {@code llama-2-7b.gguf} or {@code sub/x}),
 *     already checked to have no {@code ..}, {@code .} or empty component
 * @param size its exact size in bytes
 * @param mode permission bits, or -1 for the rule's (or the default 0644)
 * @param opener opens its content; the stream fails (IOException) rather than end short or differ from a pin
 */
public record SourceFile(String name, long size, int mode, Opener opener) {
  /** Opens a file's content. */
  @FunctionalInterface
  public interface Opener {
    InputStream open() throws IOException;
  }

  public SourceFile {
    SourcePaths.checkRelative(name);
  }
}
