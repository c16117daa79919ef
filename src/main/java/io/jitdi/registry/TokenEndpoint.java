package io.jitdi.registry;

import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.Optional;

/** The token endpoint of the Docker token flow: Basic credentials in, a short-lived bearer token out. */
final class TokenEndpoint {
  private final ClientAuth auth;

  TokenEndpoint(ClientAuth auth) {
    this.auth = auth;
  }

  Future<Void> serve(Exchange exchange) {
    Optional<String> token = auth.issue(exchange.request());
    if (token.isEmpty()) {
      exchange.response().putHeader("WWW-Authenticate", "Basic realm=\"jitdi\"");
      throw RegistryException.withStatus(ErrorCode.UNAUTHORIZED, 401,
          "a token needs the Basic credentials of a user in server.auth.basic");
    }
    return exchange.json(200, new JsonObject().put("token", token.get()).put("access_token", token.get())
        .put("expires_in", ClientAuth.TOKEN_LIFETIME.toSeconds()).encode());
  }
}
