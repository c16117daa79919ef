package io.jitdi.registry;

import io.jitdi.config.HostPort;
import io.jitdi.config.TlsConfig;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.netty.handler.codec.TooLongFrameException;
import io.vertx.core.net.PemKeyCertOptions;
import java.util.Optional;

/**
 * Serves a handler on one address from several event loops (one server instance per loop, sharing the port).
 * Requests that fail HTTP decoding (a request line or headers over the limits) get OCI error JSON too.
 */
public final class RegistryServer extends VerticleBase {
  /** Longest accepted request line; a longer one gets 414. */
  public static final int MAX_REQUEST_LINE = 8192;
  /** Largest accepted header block; a larger one gets 431. */
  public static final int MAX_HEADERS = 16384;

  private final HostPort address;
  private final Handler<HttpServerRequest> handler;
  private final Optional<TlsConfig> tls;
  private HttpServer server;

  private RegistryServer(HostPort address, Handler<HttpServerRequest> handler, Optional<TlsConfig> tls) {
    this.address = address;
    this.handler = handler;
    this.tls = tls;
  }

  /**
   * Deploys {@code instances} servers on {@code address}, over TLS when {@code tls} is given; completes with the
   * deployment id once all listen.
   */
  public static Future<String> deploy(Vertx vertx, HostPort address, Handler<HttpServerRequest> handler,
      int instances, Optional<TlsConfig> tls) {
    return vertx.deployVerticle(() -> new RegistryServer(address, handler, tls),
        new DeploymentOptions().setInstances(instances));
  }

  @Override
  public Future<?> start() {
    HttpServerOptions options = new HttpServerOptions()
        .setHost(address.host())
        .setPort(address.port())
        .setMaxInitialLineLength(MAX_REQUEST_LINE)
        .setMaxHeaderSize(MAX_HEADERS)
        .setTcpNoDelay(true)
        .setIdleTimeout(300)
        .setCompressionSupported(false);
    tls.ifPresent(t -> options.setSsl(true).setUseAlpn(true).setKeyCertOptions(new PemKeyCertOptions()
        .setCertPath(t.cert().toString()).setKeyPath(t.key().toString())));
    server = vertx.createHttpServer(options)
        .invalidRequestHandler(RegistryServer::invalidRequest)
        .requestHandler(handler);
    return server.listen();
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  private static void invalidRequest(HttpServerRequest request) {
    Throwable cause = request.decoderResult().cause();
    String name = cause == null ? "" : cause.getClass().getSimpleName();
    RegistryException error;
    if (name.contains("TooLongHttpLine") || name.contains("TooLongUri")) {
      error = RegistryException.withStatus(ErrorCode.NAME_INVALID, 414, "request line longer than "
          + MAX_REQUEST_LINE + " bytes");
    } else if (name.contains("TooLongHttpHeader") || cause instanceof TooLongFrameException) {
      error = RegistryException.withStatus(ErrorCode.UNSUPPORTED, 431, "request headers larger than "
          + MAX_HEADERS + " bytes");
    } else {
      error = RegistryException.withStatus(ErrorCode.UNSUPPORTED, 400, "malformed HTTP request");
    }
    String body = "{\"errors\":[{\"code\":\"" + error.code() + "\",\"message\":\"" + error.getMessage() + "\"}]}";
    request.response().setStatusCode(error.status()).putHeader("Content-Type", "application/json")
        .putHeader("Connection", "close").end(body).onComplete(v -> request.connection().close());
  }
}
