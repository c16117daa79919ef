package io.jitdi.oci;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Optional;

/**
 * An OCI platform: operating system, architecture and optional variant, as in an index entry's {@code platform}
 * ({@code {"os":"linux","architecture":"arm64","variant":"v8"}}) or an image config.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/image-index.md">image-index.md</a>
 */
public record Platform(String os, String architecture, Optional<String> variant) {
  public Platform {
    if (os == null || os.isEmpty() || architecture == null || architecture.isEmpty()) {
      throw new IllegalArgumentException("a platform needs an os and an architecture");
    }
    variant = variant.filter(v -> !v.isEmpty());
  }

  /** The platform of an index entry or config, if it names an os and an architecture. */
  public static Optional<Platform> of(JsonNode node) {
    if (node == null || !node.hasNonNull("os") || !node.hasNonNull("architecture")) {
      return Optional.empty();
    }
    String os = node.get("os").asText("");
    String architecture = node.get("architecture").asText("");
    if (os.isEmpty() || architecture.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Platform(os, architecture, Optional.ofNullable(node.get("variant"))
        .map(JsonNode::asText)));
  }

  /** {@code os/architecture[/variant]}. */
  @Override
  public String toString() {
    return os + "/" + architecture + variant.map(v -> "/" + v).orElse("");
  }
}
