package io.jitdi.oci;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A media type ({@code type/subtype[+suffix]}, RFC 6838), lowercased, without parameters. Example:
 * {@code application/vnd.oci.image.manifest.v1+json}.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/media-types.md">image-spec media types</a>
 */
public record MediaType(String value) {
  // declared first: the constants below are parsed with it
  private static final Pattern SYNTAX = Pattern.compile(
      "[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}");

  public static final MediaType OCI_MANIFEST = of("application/vnd.oci.image.manifest.v1+json");
  public static final MediaType OCI_INDEX = of("application/vnd.oci.image.index.v1+json");
  public static final MediaType OCI_CONFIG = of("application/vnd.oci.image.config.v1+json");
  public static final MediaType OCI_LAYER = of("application/vnd.oci.image.layer.v1.tar");
  public static final MediaType OCI_LAYER_GZIP = of("application/vnd.oci.image.layer.v1.tar+gzip");
  public static final MediaType OCI_LAYER_ZSTD = of("application/vnd.oci.image.layer.v1.tar+zstd");
  public static final MediaType DOCKER_MANIFEST = of("application/vnd.docker.distribution.manifest.v2+json");
  public static final MediaType DOCKER_MANIFEST_LIST = of("application/vnd.docker.distribution.manifest.list.v2+json");
  public static final MediaType DOCKER_CONFIG = of("application/vnd.docker.container.image.v1+json");
  public static final MediaType DOCKER_LAYER_GZIP = of("application/vnd.docker.image.rootfs.diff.tar.gzip");
  public static final MediaType DOCKER_SCHEMA1_SIGNED = of("application/vnd.docker.distribution.manifest.v1+prettyjws");
  public static final MediaType DOCKER_SCHEMA1 = of("application/vnd.docker.distribution.manifest.v1+json");
  public static final MediaType OCTET_STREAM = of("application/octet-stream");
  public static final MediaType JSON = of("application/json");

  /** The manifest types jitdi knows and serves. */
  public static final List<MediaType> MANIFEST_TYPES = List.of(OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST,
      DOCKER_MANIFEST_LIST, DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA1);

  /** Validates on construction: a bare, lowercase {@code type/subtype}. */
  public MediaType {
    if (value == null || !SYNTAX.matcher(value).matches()) {
      throw new IllegalArgumentException("not a media type: " + value);
    }
  }

  /** Parses {@code text}, dropping parameters ({@code ;charset=...}); empty if it is not a media type. */
  public static Optional<MediaType> parse(String text) {
    if (text == null) {
      return Optional.empty();
    }
    int semicolon = text.indexOf(';');
    String bare = (semicolon >= 0 ? text.substring(0, semicolon) : text).trim().toLowerCase(Locale.ROOT);
    return SYNTAX.matcher(bare).matches() ? Optional.of(new MediaType(bare)) : Optional.empty();
  }

  /** A media type from a known-good literal. */
  public static MediaType of(String text) {
    return parse(text).orElseThrow(() -> new IllegalArgumentException("not a media type: " + text));
  }

  public boolean isIndex() {
    return equals(OCI_INDEX) || equals(DOCKER_MANIFEST_LIST);
  }

  public boolean isManifest() {
    return MANIFEST_TYPES.contains(this);
  }

  @Override
  public String toString() {
    return value;
  }
}
