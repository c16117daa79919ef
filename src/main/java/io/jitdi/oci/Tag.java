package io.jitdi.oci;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * A tag: {@code [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}}, validated on construction. Example: {@code 3.12-slim}.
 *
 * @see <a href="https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests">tags</a>
 */
public record Tag(String value) {
  public static final int MAX_LENGTH = 128;
  private static final Pattern TAG = Pattern.compile("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");



  /**
   * Parses a tag.
   *
   * @throws RegistryException {@link ErrorCode#TAG_INVALID} saying what is wrong
   */
  /** Validates on construction: a Tag that exists is valid. */
  public Tag {
    check(value);
  }

  public static Tag parse(String text) {
    return new Tag(text);
  }

  private static void check(String text) {
    if (text == null || text.isEmpty()) {
      throw invalid(String.valueOf(text), "a tag is required");
    }
    if (text.length() > MAX_LENGTH) {
      throw invalid(text, "longer than " + MAX_LENGTH + " characters");
    }
    if (!TAG.matcher(text).matches()) {
      throw invalid(text, "a tag is letters, digits, '_', '.' and '-', not starting with '.' or '-'");
    }
  }

  @Override
  public String toString() {
    return value;
  }


  private static RegistryException invalid(String text, String why) {
    return new RegistryException(ErrorCode.TAG_INVALID, "invalid tag \"" + Strings.clip(text) + "\": " + why,
        Map.of("tag", Strings.clip(text)));
  }
}
