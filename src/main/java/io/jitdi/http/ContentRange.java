package io.jitdi.http;

/** Reading a {@code Content-Range} answer ({@code bytes 100-199/200}, RFC 9110 §14.4). */
public final class ContentRange {
  private ContentRange() {}

  /** The first byte the range covers, or -1 when the header is missing or not a byte range. */
  public static long start(String header) {
    if (header == null || !header.startsWith("bytes ")) {
      return -1;
    }
    int dash = header.indexOf('-');
    try {
      return dash > 6 ? Long.parseLong(header.substring(6, dash).trim()) : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
