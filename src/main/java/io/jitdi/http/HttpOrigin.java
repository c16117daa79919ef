package io.jitdi.http;

import java.net.URI;
import java.util.Locale;

/**
 * The origin of a URL (RFC 6454): scheme, host and port, with the scheme's default port filled in, so that
 * {@code https://h} and {@code https://h:443} are the same origin. Credentials are sent to their own origin only,
 * never to a blob store or CDN a request is redirected to.
 */
public record HttpOrigin(String scheme, String host, int port) {
  /** The origin of {@code url}, which must be absolute http(s). */
  public static HttpOrigin of(URI url) {
    String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
    String host = url.getHost() == null ? "" : url.getHost().toLowerCase(Locale.ROOT);
    int port = url.getPort() > 0 ? url.getPort() : "https".equals(scheme) ? 443 : "http".equals(scheme) ? 80 : -1;
    return new HttpOrigin(scheme, host, port);
  }

  /** Whether {@code a} and {@code b} have the same origin. */
  public static boolean same(URI a, URI b) {
    return of(a).equals(of(b));
  }
}
