package io.jitdi.oci;

import java.util.Map;

/**
 * An image reference as users write it: {@code [registry/]repository[:tag|@digest]}. The first component is the
 * registry when it has a dot or a port or is {@code localhost}; otherwise the registry is {@code docker.io}, where a
 * one-component repository gets {@code library/}. The tag defaults to {@code latest}.
 *
 * <p>Examples: {@code ghcr.io/ggerganov/llama.cpp:full}, {@code busybox} (= {@code docker.io/library/busybox:latest}),
 * {@code registry.local:5000/models/x@sha256:...}.
 */
public record ImageReference(String registry, RepositoryName repository, Reference reference) {
  public static final String DOCKER_HUB = "docker.io";

  /**
   * Parses a reference.
   *
   * @throws RegistryException {@code NAME_INVALID}, {@code TAG_INVALID} or {@code DIGEST_INVALID}
   */
  public static ImageReference parse(String text) {
    if (text == null || text.isEmpty() || text.length() > 512) {
      throw new RegistryException(ErrorCode.NAME_INVALID, "invalid image reference \"" + Strings.clip(text) + "\"",
          Map.of());
    }
    String rest = text;
    String registry = DOCKER_HUB;
    int slash = rest.indexOf('/');
    if (slash > 0) {
      String first = rest.substring(0, slash);
      if (first.indexOf('.') >= 0 || first.indexOf(':') >= 0 || first.equals("localhost")) {
        registry = first.toLowerCase(java.util.Locale.ROOT);
        rest = rest.substring(slash + 1);
      }
    }
    Reference reference;
    int at = rest.indexOf('@');
    if (at >= 0) {
      reference = Reference.of(Digest.parse(rest.substring(at + 1)));
      rest = rest.substring(0, at);
    } else {
      int colon = rest.lastIndexOf(':');
      if (colon > rest.lastIndexOf('/') && colon >= 0) {
        reference = Reference.of(Tag.parse(rest.substring(colon + 1)));
        rest = rest.substring(0, colon);
      } else {
        reference = Reference.of(Tag.parse("latest"));
      }
    }
    RepositoryName repository = RepositoryName.parse(rest);
    if (registry.equals(DOCKER_HUB) && repository.components().size() == 1) {
      repository = repository.prefixed("library");
    }
    return new ImageReference(registry, repository, reference);
  }

  @Override
  public String toString() {
    return registry + "/" + repository + (reference.isDigest() ? "@" : ":") + reference;
  }
}
