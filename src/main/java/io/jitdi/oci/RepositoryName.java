package io.jitdi.oci;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A repository name as the distribution spec defines it: slash-separated components of lowercase letters and digits,
 * joined inside a component by {@code .}, {@code _}, {@code __} or runs of {@code -}; at most 255 characters.
 *
 * <p>Validation is the first line of defence against path traversal: a valid name has no {@code ..}, no empty
 * component, no backslash, no percent sign and no leading or trailing slash. Example: {@code library/busybox}.
 *
 * @see <a href="https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests">names</a>
 */
public record RepositoryName(String value) {
  public static final int MAX_LENGTH = 255;
  private static final String COMPONENT = "[a-z0-9]++(?:(?:[._]|__|-++)[a-z0-9]++)*+";
  private static final Pattern COMPONENT_PATTERN = Pattern.compile(COMPONENT);
  private static final Pattern NAME = Pattern.compile(COMPONENT + "(?:/" + COMPONENT + ")*+");



  /**
   * Parses a name.
   *
   * @throws RegistryException {@link ErrorCode#NAME_INVALID} saying what is wrong
   */
  /** Validates on construction: a RepositoryName that exists is valid. */
  public RepositoryName {
    check(value);
  }

  public static RepositoryName parse(String text) {
    return new RepositoryName(text);
  }

  private static void check(String text) {
    if (text == null || text.isEmpty()) {
      throw invalid(String.valueOf(text), "a repository name is required");
    }
    if (text.length() > MAX_LENGTH) {
      throw invalid(text, "longer than " + MAX_LENGTH + " characters");
    }
    if (!NAME.matcher(text).matches()) {
      throw invalid(text, "components are lowercase letters and digits separated by '.', '_', '__' or '-', "
          + "joined by single '/'");
    }
  }

  /** Whether {@code text} is a valid single name component (used to recognise registry hosts in paths). */
  public static boolean isComponent(String text) {
    return COMPONENT_PATTERN.matcher(text).matches();
  }

  public List<String> components() {
    return List.of(value.split("/"));
  }

  /** The name with {@code prefix/} in front, e.g. {@code library/} for Docker Hub's official images. */
  public RepositoryName prefixed(String prefix) {
    return parse(prefix + "/" + value);
  }

  @Override
  public String toString() {
    return value;
  }


  private static RegistryException invalid(String text, String why) {
    return new RegistryException(ErrorCode.NAME_INVALID,
        "invalid repository name \"" + Strings.clip(text) + "\": " + why, Map.of("name", Strings.clip(text)));
  }
}
