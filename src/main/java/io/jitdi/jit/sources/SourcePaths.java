package io.jitdi.jit.sources;

import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;

/** Path checks shared by every source and by destinations: no way out of where a file is meant to go. */
public final class SourcePaths {
  private SourcePaths() {}

  /**
   * Checks a relative, {@code /}-separated path: non-empty components, no {@code .} or {@code ..}, no backslash or
   * NUL.
   *
   * @throws IllegalArgumentException naming the problem
   */
  public static void checkRelative(String path) {
    if (path.isEmpty() || path.startsWith("/")) {
      throw new IllegalArgumentException("\"" + path + "\" is not a relative path");
    }
    for (String part : path.split("/", -1)) {
      if (part.isEmpty() || part.equals(".") || part.equals("..") || part.indexOf('\\') >= 0
          || part.indexOf('\0') >= 0) {
        throw new IllegalArgumentException("\"" + path + "\" has a '" + part + "' component");
      }
    }
  }

  /**
   * An absolute destination path without {@code .}, {@code ..} or empty components (a trailing {@code /} is kept).
   *
   * @throws RegistryException 400 when a capture made it escape
   */
  public static String checkDestination(String rule, String destination) {
    boolean dir = destination.endsWith("/");
    String body = dir ? destination.substring(0, destination.length() - 1) : destination;
    try {
      if (!body.startsWith("/") || body.length() < 2) {
        throw new IllegalArgumentException("it is not an absolute file path");
      }
      checkRelative(body.substring(1));
    } catch (IllegalArgumentException e) {
      throw refused(rule, "destination \"" + destination + "\": " + e.getMessage());
    }
    return destination;
  }

  /** The 400 for a request whose captures would break a rule's safety checks. */
  public static RegistryException refused(String rule, String why) {
    return new RegistryException(ErrorCode.NAME_INVALID, 400, "rule " + rule + " refuses this name: " + why,
        java.util.Map.of("rule", rule), null, null);
  }
}
