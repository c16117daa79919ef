package io.jitdi.oci;

/** Helpers for putting untrusted input into messages. */
final class Strings {
  private static final int MAX = 200;

  private Strings() {}

  /** {@code s} cut to a length that is safe to echo in an error message or log line. */
  static String clip(String s) {
    if (s == null) {
      return "null";
    }
    return s.length() <= MAX ? s : s.substring(0, MAX) + "...(" + s.length() + " chars)";
  }
}
