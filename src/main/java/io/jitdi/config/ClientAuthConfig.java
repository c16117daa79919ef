package io.jitdi.config;

import java.util.List;

/**
 * {@code server.auth}: who may use the registry API. When set, every {@code /v2} route needs either a configured
 * basic user or a static bearer token; {@code /healthz}, {@code /readyz} and {@code /metrics} stay open.
 *
 * @param basic users for {@code Authorization: Basic}
 * @param bearerTokens tokens for {@code Authorization: Bearer}
 */
public record ClientAuthConfig(List<BasicUser> basic, List<String> bearerTokens) {
  /** A basic-auth user. */
  public record BasicUser(String username, String password) {
    @Override
    public String toString() {
      return "BasicUser[" + username + "]";
    }
  }

  public ClientAuthConfig {
    basic = List.copyOf(basic);
    bearerTokens = List.copyOf(bearerTokens);
  }
}
