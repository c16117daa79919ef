package io.jitdi.cache;

import io.jitdi.oci.RepositoryName;
import io.jitdi.oci.Tag;
import java.util.Optional;

/**
 * The key a tag's answer is kept under: registry, repository, tag and the normalized {@code Accept} set it was asked
 * with (answers differ by Accept); an imported tag has no Accept set, since an OCI layout names one answer.
 * Encoded as {@code registry/repository:tag} plus {@code |accept} when there is one.
 */
public record TagKey(String registry, RepositoryName repository, Tag tag, Optional<String> accept) {
  private static final String ACCEPT_SEPARATOR = "|";

  /** The key of a cached answer for {@code accept} (null or empty: no Accept header). */
  public static TagKey cached(String registry, RepositoryName repository, Tag tag, String accept) {
    return new TagKey(registry, repository, tag, Optional.of(accept == null ? "" : accept));
  }

  /** The key of an imported tag, which answers whatever the Accept set. */
  public static TagKey imported(String registry, RepositoryName repository, Tag tag) {
    return new TagKey(registry, repository, tag, Optional.empty());
  }

  /** The stored form. */
  public String encoded() {
    return tagPart() + accept.map(a -> ACCEPT_SEPARATOR + a).orElse("");
  }

  /**
   * Whether {@code encoded} is the stored form of a key for this key's registry, repository and tag, with any
   * Accept set or none.
   */
  public boolean sameTag(String encoded) {
    String tagPart = tagPart();
    return encoded.equals(tagPart) || encoded.startsWith(tagPart + ACCEPT_SEPARATOR);
  }

  private String tagPart() {
    return registry + "/" + repository + ":" + tag;
  }

  @Override
  public String toString() {
    return encoded();
  }
}
