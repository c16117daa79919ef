package io.jitdi.jit.sources;

import com.fasterxml.jackson.databind.JsonNode;
import io.jitdi.oci.Descriptor;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ImageReference;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.RegistryException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The files of an OCI artifact: a CNCF ModelPack model, a KitOps ModelKit, or any artifact whose layers are tars or
 * named files (ORAS-style). Read through an {@link ArtifactRegistry}, so in the server the manifest and blobs take
 * jitdi's pull-through path and are cached and verified like any other.
 *
 * <p>Each layer becomes files:
 * <ul>
 *   <li>a media type ending in {@code .tar}, {@code .tar+gzip} or {@code .tar+zstd} (ModelPack's
 *       {@code application/vnd.cncf.model.weight.v1.tar}, KitOps' {@code application/vnd.kitops.modelkit.model.v1.tar},
 *       ordinary image layers) is unpacked with {@link TarLayer}'s rules; its files are known only once it is read,
 *       so the listing gives the layer itself ({@link Listing#tars()}), which a build reads once, as it arrives;</li>
 *   <li>any other layer is one file, named by its {@code org.cncf.model.filepath} or, failing that,
 *       {@code org.opencontainers.image.title} annotation (ModelPack's {@code .raw} layers, ORAS files).</li>
 * </ul>
 * The config blob (ModelPack's model config, the KitOps Kitfile) is metadata, not files, and is not written. Two layers
 * that give the same path fail the listing (or, for files inside tar layers, the build). The identity is the manifest
 * digest, so a listing reads no blob.
 */
public final class OciArtifactSource implements Source {
  public static final String FILEPATH_ANNOTATION = "org.cncf.model.filepath";
  public static final String TITLE_ANNOTATION = "org.opencontainers.image.title";

  private final ArtifactRegistry registry;
  private final ImageReference ref;

  public OciArtifactSource(ArtifactRegistry registry, ImageReference ref) {
    this.registry = registry;
    this.ref = ref;
  }

  @Override
  public Listing list() throws IOException {
    Manifest manifest = registry.manifest(ref);
    List<Descriptor> layers;
    try {
      layers = manifest.layers();
    } catch (RegistryException e) {
      throw new IOException(describe() + ": " + e.getMessage());
    }
    if (layers.isEmpty()) {
      throw new IOException(describe() + " has no layers, so no files");
    }
    TreeMap<String, SourceFile> files = new TreeMap<>();
    List<String> notes = new ArrayList<>();
    List<TarLayer> tars = new ArrayList<>();
    int n = 0;
    for (Descriptor layer : layers) {
      n++;
      String mediaType = layer.mediaType();
      Digest digest = layer.digest();
      long size = layer.size();
      String what = describe() + " layer " + n + " (" + mediaType + ", " + digest + ")";
      Optional<TarLayer.Compression> tar = TarLayer.Compression.ofMediaType(mediaType);
      if (tar.isPresent()) {
        notes.add(what + ": a tar of " + size + " bytes; its files are listed once it is fetched");
        tars.add(new TarLayer(what, size, tar.get(), (offset, length) -> registry.open(ref, digest, size, offset,
            length), Optional.of(digest)));
        continue;
      }
      String name = annotation(layer.json(), FILEPATH_ANNOTATION).or(() -> annotation(layer.json(), TITLE_ANNOTATION))
          .orElseThrow(() -> new IOException(what + " is neither a tar nor a file named by an "
              + FILEPATH_ANNOTATION + " or " + TITLE_ANNOTATION + " annotation"));
      while (name.startsWith("./")) {
        name = name.substring(2);
      }
      try {
        SourcePaths.checkRelative(name);
      } catch (IllegalArgumentException e) {
        throw new IOException(what + ": its file path is refused: " + e.getMessage());
      }
      if (files.put(name, registry.file(name, ref, digest, size)) != null) {
        throw new IOException(describe() + ": two layers give " + name);
      }
    }
    return new Listing("oci:" + ref + "@" + manifest.digest(), List.copyOf(files.values()), notes, tars);
  }

  private static Optional<String> annotation(JsonNode descriptor, String key) {
    JsonNode value = descriptor.path("annotations").get(key);
    return value != null && value.isTextual() && !value.textValue().isEmpty() ? Optional.of(value.textValue())
        : Optional.empty();
  }

  @Override
  public String describe() {
    return "oci artifact " + ref;
  }
}
