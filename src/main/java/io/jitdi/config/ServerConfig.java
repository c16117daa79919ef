package io.jitdi.config;

import java.util.Optional;

/**
 * The {@code server:} section.
 *
 * @param listen where the registry API listens
 * @param metricsListen when present, {@code /metrics} is served here only (plain HTTP), and no longer on
 *     {@code listen}
 * @param auth client authentication for the registry API; empty means open
 * @param tls HTTPS for the registry API; empty means plain HTTP
 */
public record ServerConfig(HostPort listen, Optional<HostPort> metricsListen, Optional<ClientAuthConfig> auth,
    Optional<TlsConfig> tls) {
  public static final HostPort DEFAULT_LISTEN = new HostPort("0.0.0.0", 8888);

  public static ServerConfig defaults() {
    return new ServerConfig(DEFAULT_LISTEN, Optional.empty(), Optional.empty(), Optional.empty());
  }
}
