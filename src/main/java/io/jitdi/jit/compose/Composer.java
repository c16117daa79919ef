package io.jitdi.jit.compose;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jitdi.oci.Platform;
import io.jitdi.oci.Digest;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.MediaType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Writes the config, manifest and index of a JIT image: the base's plus one layer, or a minimal image of that layer.
 *
 * <p>Docker schema2 bases are converted to OCI: the manifest, config and layer media types are renamed to their OCI
 * equivalents (which name the same bytes, so every base digest stays valid) and a manifest list becomes an OCI index.
 * This keeps {@code compression: none} possible, since schema2 has no uncompressed layer type.
 *
 * <p>Everything jitdi adds is fixed (history time, key order), so the same inputs give the same bytes and digests.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/config.md">image config</a>
 */
public final class Composer {
  /** The creation time jitdi writes: 1 second past the epoch, like its tar entries. */
  public static final String CREATED = "1970-01-01T00:00:01Z";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, String> OCI_NAMES = Map.of(
      "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json",
      "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json");

  /** The layer jitdi adds, with its uncompressed digest. */
  public record Layer(MediaType mediaType, Digest digest, long size, Digest diffId) {}

  /** What jitdi changes in the config besides the layer. */
  public record Changes(List<String> env, Map<String, String> labels, String createdBy) {}

  /** A composed single-platform image: its config blob and manifest. */
  public record Image(byte[] config, Manifest manifest) {}

  private Composer() {}

  /**
   * Adds {@code layer} (when present) and {@code changes} to a single-platform base.
   *
   * @throws IllegalArgumentException when the base is not an image manifest jitdi can extend
   */
  public static Image extend(Manifest base, byte[] baseConfig, Optional<Layer> layer, Changes changes) {
    ObjectNode manifest = object(base.bytesUnsafe(), "base manifest");
    ObjectNode config = object(baseConfig, "base config");
    ObjectNode rootfs = config.withObjectProperty("rootfs");
    if (!rootfs.has("type")) {
      rootfs.put("type", "layers");
    }
    ArrayNode diffIds = rootfs.withArrayProperty("diff_ids");
    ArrayNode layers = manifest.withArrayProperty("layers");
    for (JsonNode l : layers) {
      rename((ObjectNode) l);
    }
    if (layer.isPresent()) {
      diffIds.add(layer.get().diffId().toString());
      layers.add(descriptor(layer.get().mediaType(), layer.get().digest(), layer.get().size()));
      if (config.has("history") || diffIds.size() == 1) {
        config.withArrayProperty("history").add(JSON.createObjectNode().put("created", CREATED)
            .put("created_by", changes.createdBy()).put("comment", "jitdi"));
      }
    }
    applyChanges(config.withObjectProperty("config"), changes);
    byte[] configBytes = bytes(config);
    ObjectNode configDescriptor = (ObjectNode) manifest.get("config");
    if (configDescriptor == null) {
      throw new IllegalArgumentException("the base manifest has no config");
    }
    rename(configDescriptor);
    configDescriptor.put("digest", Digest.sha256Of(configBytes).toString()).put("size", configBytes.length);
    manifest.put("mediaType", MediaType.OCI_MANIFEST.value());
    return new Image(configBytes, Manifest.trusted(bytes(manifest), MediaType.OCI_MANIFEST,
        Digest.sha256Of(bytes(manifest))));
  }

  /** A minimal image holding only {@code layer}: enough for Kubernetes image volumes and modelcars. */
  public static Image scratch(Platform platform, Layer layer, Changes changes) {
    ObjectNode config = JSON.createObjectNode();
    config.put("created", CREATED).put("architecture", platform.architecture()).put("os", platform.os());
    platform.variant().ifPresent(v -> config.put("variant", v));
    applyChanges(config.putObject("config"), changes);
    ObjectNode rootfs = config.putObject("rootfs").put("type", "layers");
    rootfs.putArray("diff_ids").add(layer.diffId().toString());
    config.putArray("history").add(JSON.createObjectNode().put("created", CREATED)
        .put("created_by", changes.createdBy()).put("comment", "jitdi"));
    byte[] configBytes = bytes(config);
    ObjectNode manifest = JSON.createObjectNode().put("schemaVersion", 2).put("mediaType", MediaType.OCI_MANIFEST.value());
    manifest.set("config", descriptor(MediaType.OCI_CONFIG, Digest.sha256Of(configBytes), configBytes.length));
    manifest.putArray("layers").add(descriptor(layer.mediaType(), layer.digest(), layer.size()));
    byte[] manifestBytes = bytes(manifest);
    return new Image(configBytes, Manifest.trusted(manifestBytes, MediaType.OCI_MANIFEST,
        Digest.sha256Of(manifestBytes)));
  }

  /** An index of composed platform manifests, keeping the base index's own fields when there is one. */
  public static Manifest index(Optional<Manifest> baseIndex, List<Map.Entry<JsonNode, Manifest>> platforms) {
    ObjectNode index = baseIndex.map(m -> object(m.bytesUnsafe(), "base index")).orElseGet(() ->
        JSON.createObjectNode().put("schemaVersion", 2));
    index.put("mediaType", MediaType.OCI_INDEX.value());
    ArrayNode manifests = index.putArray("manifests");
    for (Map.Entry<JsonNode, Manifest> p : platforms) {
      ObjectNode entry = descriptor(p.getValue().mediaType(), p.getValue().digest(), p.getValue().size());
      entry.set("platform", p.getKey());
      manifests.add(entry);
    }
    byte[] bytes = bytes(index);
    return Manifest.trusted(bytes, MediaType.OCI_INDEX, Digest.sha256Of(bytes));
  }

  /** The platform object of an index entry for {@code platform}. */
  public static JsonNode platform(Platform platform) {
    ObjectNode p = JSON.createObjectNode().put("architecture", platform.architecture()).put("os", platform.os());
    platform.variant().ifPresent(v -> p.put("variant", v));
    return p;
  }

  private static void applyChanges(ObjectNode containerConfig, Changes changes) {
    if (!changes.env().isEmpty()) {
      ArrayNode env = containerConfig.withArrayProperty("Env");
      for (String entry : changes.env()) {
        String key = entry.substring(0, entry.indexOf('=') + 1);
        boolean replaced = false;
        for (int i = 0; i < env.size(); i++) {
          if (env.get(i).asText().startsWith(key)) {
            env.set(i, entry);
            replaced = true;
          }
        }
        if (!replaced) {
          env.add(entry);
        }
      }
    }
    if (!changes.labels().isEmpty()) {
      ObjectNode labels = containerConfig.has("Labels") && containerConfig.get("Labels").isObject()
          ? (ObjectNode) containerConfig.get("Labels") : containerConfig.putObject("Labels");
      changes.labels().forEach(labels::put);
    }
  }

  private static void rename(ObjectNode descriptor) {
    JsonNode type = descriptor.get("mediaType");
    if (type != null && OCI_NAMES.containsKey(type.asText())) {
      descriptor.put("mediaType", OCI_NAMES.get(type.asText()));
    }
  }

  private static ObjectNode descriptor(MediaType type, Digest digest, long size) {
    return JSON.createObjectNode().put("mediaType", type.value()).put("digest", digest.toString()).put("size", size);
  }

  private static ObjectNode object(byte[] bytes, String what) {
    try {
      JsonNode node = JSON.readTree(bytes);
      if (node instanceof ObjectNode o) {
        return o;
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(what + " is not JSON: " + e.getMessage());
    }
    throw new IllegalArgumentException(what + " is not a JSON object");
  }

  private static byte[] bytes(JsonNode node) {
    try {
      return JSON.writeValueAsBytes(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
