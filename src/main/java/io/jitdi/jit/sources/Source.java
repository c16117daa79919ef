package io.jitdi.jit.sources;

import java.io.IOException;

/**
 * Where the files of a JIT layer come from. New kinds of source (Ollama, Hugging Face, OCI artifacts) implement this
 * without touching the layer builder. Every method blocks; builds call them on the IO pool.
 */
public interface Source {
  /** Lists the files and the identity, checking whatever can be checked without reading content. */
  Listing list() throws IOException;

  /** What to call the source in messages and dry runs. */
  String describe();
}
