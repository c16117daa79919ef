package io.jitdi.oci;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * A tag: {@code [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}}, validated on construction. Example: {@code 3.12-slim}.
 *
 * @see <a href="https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests">tags</a>
 */
public final class Tag {
  public static final int MAX_LENGTH = 128;
  private static final Pattern TAG = Pattern.compile("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");

  private final String value;

  private Tag(String value) {
    this.value = value;
  }

  /**
   * Parses a tag.
   *
   * @throws RegistryException {@link ErrorCode#TAG_INVALID} saying what is wrong
   */
  public static Tag parse(String text) {
    if (text == null || text.isEmpty()) {
      throw invalid(String.valueOf(text), "a tag is required");
    }
    if (text.length() > MAX_LENGTH) {
      throw invalid(text, "longer than " + MAX_LENGTH + " characters");
    }
    if (!TAG.matcher(text).matches()) {
      throw invalid(text, "a tag is letters, digits, '_', '.' and '-', not starting with '.' or '-'");
    }
    return new Tag(text);
  }

  public String value() {
    return value;
  }

  @Override
  public String toString() {
    return value;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Tag t && t.value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }

  private static RegistryException invalid(String text, String why) {
    return new RegistryException(ErrorCode.TAG_INVALID, "invalid tag \"" + Strings.clip(text) + "\": " + why,
        Map.of("tag", Strings.clip(text)));
  }
}
