package io.jitdi.http;

import java.net.URI;

/** The redirect rules every jitdi HTTP client follows: how many hops, and which locations are usable. */
public final class Redirects {
  /** The most redirects one request follows; the next one fails it. */
  public static final int MAX = 5;

  private Redirects() {}

  /**
   * Where a redirect from {@code from} with {@code location} goes, resolved against {@code from}; null when the
   * location does not parse or is not http(s).
   */
  public static URI target(URI from, String location) {
    URI next;
    try {
      next = from.resolve(location.trim());
    } catch (IllegalArgumentException e) {
      return null;
    }
    return "http".equals(next.getScheme()) || "https".equals(next.getScheme()) ? next : null;
  }
}
