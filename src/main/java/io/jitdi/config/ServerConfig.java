package io.jitdi.config;

/**
 * The {@code server:} section.
 *
 * @param listen where the registry API listens
 */
public record ServerConfig(HostPort listen) {
  public static final HostPort DEFAULT_LISTEN = new HostPort("0.0.0.0", 8888);
}
