package io.jitdi.oci;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Optional;

/**
 * An OCI content descriptor: what a manifest says about a blob or a child manifest, validated.
 * Example: {@code {"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:9f86...","size":32654}}.
 * The JSON it was read from is kept, so that composing a new manifest can carry its annotations and other fields on
 * unchanged.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/descriptor.md">descriptor.md</a>
 */
public record Descriptor(String mediaType, Digest digest, long size, Optional<Platform> platform, JsonNode json) {
  /**
   * Reads a descriptor.
   *
   * @throws RegistryException {@link ErrorCode#MANIFEST_INVALID} when its digest or size is missing or malformed
   */
  public static Descriptor of(JsonNode node) {
    if (node == null || !node.isObject()) {
      throw invalid("a descriptor is not a JSON object");
    }
    JsonNode size = node.get("size");
    if (size == null || !size.canConvertToLong() || size.asLong() < 0) {
      throw invalid("a descriptor has no valid size: " + node);
    }
    Digest digest;
    try {
      digest = Digest.parse(node.path("digest").asText(""));
    } catch (RegistryException e) {
      throw invalid("a descriptor has no valid digest: " + e.getMessage());
    }
    return new Descriptor(node.path("mediaType").asText(""), digest, size.asLong(), Platform.of(node.get("platform")),
        node);
  }

  private static RegistryException invalid(String message) {
    return new RegistryException(ErrorCode.MANIFEST_INVALID, 502, message, null, null, null);
  }
}
