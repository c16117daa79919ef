package io.jitdi.oci;

import java.util.Optional;

/**
 * The {@code <reference>} of a manifest request: a {@link Tag} or a {@link Digest}. Anything with a colon is read as
 * a digest (tags cannot contain colons), so {@code sha256:ABC} is a bad digest, not a bad tag.
 */
public final class Reference {
  private final Tag tag;
  private final Digest digest;

  private Reference(Tag tag, Digest digest) {
    this.tag = tag;
    this.digest = digest;
  }

  /**
   * Parses a reference.
   *
   * @throws RegistryException {@code TAG_INVALID} or {@code DIGEST_INVALID}
   */
  public static Reference parse(String text) {
    if (text != null && text.indexOf(':') >= 0) {
      return new Reference(null, Digest.parse(text));
    }
    return new Reference(Tag.parse(text), null);
  }

  public static Reference of(Digest digest) {
    return new Reference(null, digest);
  }

  public static Reference of(Tag tag) {
    return new Reference(tag, null);
  }

  public boolean isDigest() {
    return digest != null;
  }

  public Optional<Digest> digest() {
    return Optional.ofNullable(digest);
  }

  public Optional<Tag> tag() {
    return Optional.ofNullable(tag);
  }

  @Override
  public String toString() {
    return digest != null ? digest.toString() : tag.toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Reference r && r.toString().equals(toString());
  }

  @Override
  public int hashCode() {
    return toString().hashCode();
  }
}
