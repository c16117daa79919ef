package io.jitdi.config;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * One entry of {@code upstreams:}.
 *
 * @param key the registry host as written in image references and sent by containerd as {@code ?ns=}
 * @param url base URL of the registry API (the part before {@code /v2/})
 * @param username for token or basic auth; empty for anonymous pulls
 * @param password secret for {@code username}, usually {@code ${ENV_VAR}}
 * @param connectTimeout TCP connect timeout
 * @param idleTimeout a transfer that sends nothing for this long is failed
 * @param tokenRealms extra hosts trusted as token realms, beyond the upstream's own domain
 * @param sendNs whether every request carries {@code ?ns=<key>}, as containerd sends to a mirror: set when {@code url}
 *     is another jitdi (a central tier) that serves many registries and routes by {@code ns}
 */
public record UpstreamConfig(String key, URI url, Optional<String> username, Optional<String> password,
    Duration connectTimeout, Duration idleTimeout, List<String> tokenRealms, boolean sendNs) {

  public UpstreamConfig {
    tokenRealms = List.copyOf(tokenRealms);
  }

  /** Whether requests go over TLS. */
  public boolean tls() {
    return "https".equals(url.getScheme());
  }

  public String host() {
    return url.getHost();
  }

  public int port() {
    return url.getPort() > 0 ? url.getPort() : tls() ? 443 : 80;
  }

  /** The URL path before {@code /v2/}, without a trailing slash; usually empty. */
  public String pathPrefix() {
    String p = url.getRawPath();
    return p == null || p.equals("/") ? "" : p.replaceAll("/+$", "");
  }

  @Override
  public String toString() {
    return key + " (" + url + ")";
  }
}
