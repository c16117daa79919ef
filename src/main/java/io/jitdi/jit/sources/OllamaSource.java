package io.jitdi.jit.sources;

import io.jitdi.oci.Descriptor;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.RegistryException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An Ollama model from an Ollama registry (an OCI distribution API that serves docker v2 manifests whose layers have
 * {@code application/vnd.ollama.image.*} types). Read through an {@link ArtifactRegistry}, so blobs are fetched once
 * into jitdi's store and verified while they stream.
 *
 * <p>{@link Layout#ollama} writes what {@code ollama pull} leaves in {@code OLLAMA_MODELS} (Ollama 0.19 and later,
 * which keep the registry's manifest bytes): {@code manifests/<host>/<namespace>/<model>/<tag>} holding the manifest
 * exactly as the registry sent it, and {@code blobs/sha256-<hex>} for the config and every layer. Point the
 * destination at the models directory ({@code /root/.ollama/models/} for the ollama image) and {@code ollama serve}
 * finds the model without downloading.
 *
 * <p>{@link Layout#files} writes plain files for runtimes that read GGUF directly (llama.cpp and the like):
 * {@code model.gguf}, {@code projector.gguf}, {@code adapter.gguf}, {@code template}, {@code system},
 * {@code params.json}, {@code messages.json}, {@code license}; a second layer of a kind gets {@code -2} before the
 * extension. A layer of another type fails this layout.
 *
 * <p>The identity is the model name and its manifest digest.
 */
public final class OllamaSource implements Source {
  /** Where Ollama's layer types go in {@link Layout#files}: name and extension. */
  private static final Map<String, String[]> FILE_NAMES = Map.of(
      "model", new String[] {"model", ".gguf"}, "projector", new String[] {"projector", ".gguf"},
      "adapter", new String[] {"adapter", ".gguf"}, "template", new String[] {"template", ""},
      "system", new String[] {"system", ""}, "params", new String[] {"params", ".json"},
      "messages", new String[] {"messages", ".json"}, "license", new String[] {"license", ""});
  static final String LAYER_PREFIX = "application/vnd.ollama.image.";

  /** How the model's files are laid out under the destination. */
  public enum Layout { ollama, files }

  private final ArtifactRegistry registry;
  private final OllamaName name;
  private final Layout layout;

  public OllamaSource(ArtifactRegistry registry, OllamaName name, Layout layout) {
    this.registry = registry;
    this.name = name;
    this.layout = layout;
  }

  @Override
  public Listing list() throws IOException {
    Manifest manifest = registry.manifest(name.reference());
    List<Descriptor> blobs = blobsOf(manifest);
    if (blobs.size() < 2) {
      throw new IOException(describe() + " has no layers; it is not an Ollama model");
    }
    TreeMap<String, SourceFile> files = new TreeMap<>();
    if (layout == Layout.ollama) {
      byte[] bytes = manifest.bytes();
      String path = "manifests/" + name.host() + "/" + name.namespace() + "/" + name.model() + "/" + name.tag();
      files.put(path, new SourceFile(path, bytes.length, -1, () -> new ByteArrayInputStream(bytes)));
      for (Descriptor blob : blobs) {
        SourceFile f = blobFile(blob, "blobs/sha256-" + blob.digest().hex());
        files.put(f.name(), f);
      }
    } else {
      Map<String, Integer> seen = new HashMap<>();
      for (Descriptor layer : blobs.subList(1, blobs.size())) {
        String mediaType = layer.mediaType();
        String[] naming = mediaType.startsWith(LAYER_PREFIX) ? FILE_NAMES.get(mediaType.substring(
            LAYER_PREFIX.length())) : null;
        if (naming == null) {
          throw new IOException(describe() + " has a layer of type " + mediaType + ", which layout: files cannot "
              + "name; use layout: ollama");
        }
        int n = seen.merge(naming[0], 1, Integer::sum);
        String file = naming[0] + (n == 1 ? "" : "-" + n) + naming[1];
        files.put(file, blobFile(layer, file));
      }
    }
    return new Listing("ollama:" + name + "@" + manifest.digest(), List.copyOf(files.values()));
  }

  private SourceFile blobFile(Descriptor descriptor, String path) {
    return registry.file(path, name.reference(), descriptor.digest(), descriptor.size());
  }

  /** The config and layers of the model's manifest, each with a valid digest and size. */
  private List<Descriptor> blobsOf(Manifest manifest) throws IOException {
    try {
      return manifest.blobs();
    } catch (RegistryException e) {
      throw new IOException(describe() + ": " + e.getMessage());
    }
  }


  @Override
  public String describe() {
    return "ollama " + name;
  }
}
