package io.jitdi.config;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * One entry of {@code upstreams:}.
 *
 * @param key the registry host as written in image references and sent by containerd as {@code ?ns=}
 * @param urls base URLs of the registry API (the part before {@code /v2/}): one, or several replicas of one registry
 *     (all with the same scheme and path), which requests are spread over
 * @param username for token or basic auth; empty for anonymous pulls
 * @param password secret for {@code username}, usually {@code ${ENV_VAR}}
 * @param connectTimeout TCP connect timeout
 * @param idleTimeout a transfer that sends nothing for this long is failed
 * @param tokenRealms extra hosts trusted as token realms, beyond the upstream's own domain
 * @param sendNs whether every request carries {@code ?ns=<key>}, as containerd sends to a mirror: set when {@code url}
 *     is another jitdi (a central tier) that serves many registries and routes by {@code ns}
 */
public record UpstreamConfig(String key, List<URI> urls, Optional<String> username, Optional<String> password,
    Duration connectTimeout, Duration idleTimeout, List<String> tokenRealms, boolean sendNs) {

  public UpstreamConfig {
    urls = List.copyOf(urls);
    if (urls.isEmpty()) {
      throw new IllegalArgumentException("an upstream needs at least one url");
    }
    tokenRealms = List.copyOf(tokenRealms);
  }

  /** An upstream with one URL. */
  public UpstreamConfig(String key, URI url, Optional<String> username, Optional<String> password,
      Duration connectTimeout, Duration idleTimeout, List<String> tokenRealms, boolean sendNs) {
    this(key, List.of(url), username, password, connectTimeout, idleTimeout, tokenRealms, sendNs);
  }

  /** The first (canonical) URL; with several replicas, all share its scheme and path prefix. */
  public URI url() {
    return urls.get(0);
  }

  /** Whether requests go over TLS. */
  public boolean tls() {
    return "https".equals(url().getScheme());
  }

  /** The host of the first URL. */
  public String host() {
    return url().getHost();
  }

  /** The port of the first URL, with the scheme's default filled in. */
  public int port() {
    return url().getPort() > 0 ? url().getPort() : tls() ? 443 : 80;
  }

  /** The URL path before {@code /v2/}, without a trailing slash; usually empty. */
  public String pathPrefix() {
    return pathPrefix(url());
  }

  /** The path of {@code url} before {@code /v2/}, without a trailing slash. */
  static String pathPrefix(URI url) {
    String p = url.getRawPath();
    return p == null || p.equals("/") ? "" : p.replaceAll("/+$", "");
  }

  @Override
  public String toString() {
    return key + " (" + (urls.size() == 1 ? url().toString() : urls.toString()) + ")";
  }
}
