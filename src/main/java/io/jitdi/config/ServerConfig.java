package io.jitdi.config;

import java.util.Optional;

/**
 * The {@code server:} section.
 *
 * @param listen where the registry API listens
 * @param metricsListen when present, {@code /metrics} is served here only, and no longer on {@code listen}
 */
public record ServerConfig(HostPort listen, Optional<HostPort> metricsListen) {
  public static final HostPort DEFAULT_LISTEN = new HostPort("0.0.0.0", 8888);
}
