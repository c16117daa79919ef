package io.jitdi.it;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * An upstream that breaks the rules, one repository per way of breaking them (paths {@code /v2/bad/<way>/...}):
 * {@code huge} (a 5 MiB manifest with Content-Length), {@code hugechunked} (the same, chunked), {@code json} (not
 * JSON), {@code lying} (a Docker-Content-Digest that is not the body's), {@code loop} (redirects to itself forever),
 * {@code limited} (429, Retry-After 17), {@code down} (503, Retry-After 5), {@code broken} (500), {@code empty} (200
 * with {@code Content-Length: 0}, whatever was asked for).
 */
public final class MisbehavingRegistry implements AutoCloseable {
  static final String MANIFEST = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:"
      + "a".repeat(64) + "\",\"size\":2},\"layers\":[]}";

  private final HttpServer server;

  private MisbehavingRegistry(HttpServer server) {
    this.server = server;
  }

  public static MisbehavingRegistry start() {
    HttpServer server = Ports.httpServer();
    MisbehavingRegistry r = new MisbehavingRegistry(server);
    server.createContext("/", r::handle);
    server.start();
    return r;
  }

  public String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private void handle(HttpExchange exchange) throws IOException {
    String path = exchange.getRequestURI().getPath();
    String way = path.startsWith("/v2/bad/") ? path.substring(8, path.indexOf('/', 8)) : "";
    String type = "application/vnd.oci.image.manifest.v1+json";
    switch (way) {
      case "huge" -> send(exchange, 200, type, hugeManifest(), false);
      case "hugechunked" -> send(exchange, 200, type, hugeManifest(), true);
      case "json" -> send(exchange, 200, type, "{\"schemaVersion\":2, \"layers\": [".getBytes(), false);
      case "lying" -> {
        exchange.getResponseHeaders().set("Docker-Content-Digest", "sha256:" + "b".repeat(64));
        send(exchange, 200, type, MANIFEST.getBytes(StandardCharsets.UTF_8), false);
      }
      case "swapped" -> send(exchange, 200, type, MANIFEST.getBytes(StandardCharsets.UTF_8), false);
      case "loop" -> {
        exchange.getResponseHeaders().set("Location", exchange.getRequestURI().toString());
        send(exchange, 302, "text/plain", new byte[0], false);
      }
      case "limited" -> {
        exchange.getResponseHeaders().set("Retry-After", "17");
        send(exchange, 429, "application/json",
            "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"pull rate limit\"}]}".getBytes(), false);
      }
      case "down" -> {
        exchange.getResponseHeaders().set("Retry-After", "5");
        send(exchange, 503, "text/plain", "maintenance".getBytes(), false);
      }
      case "broken" -> send(exchange, 500, "text/plain", "oops".getBytes(), false);
      case "empty" -> send(exchange, 200, "application/octet-stream", new byte[0], false);
      default -> send(exchange, path.equals("/v2/") ? 200 : 404, "application/json", "{}".getBytes(), false);
    }
  }

  private static byte[] hugeManifest() {
    String padding = "x".repeat(5 * 1024 * 1024);
    return ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"annotations\":"
        + "{\"pad\":\"" + padding + "\"},\"config\":{},\"layers\":[]}").getBytes(StandardCharsets.UTF_8);
  }

  private static void send(HttpExchange exchange, int status, String type, byte[] body, boolean chunked)
      throws IOException {
    exchange.getResponseHeaders().set("Content-Type", type);
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head || body.length == 0 ? -1 : chunked ? 0 : body.length);
    if (!head && body.length > 0) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      } catch (IOException closedEarly) {
        // jitdi stopped reading at its limit
      }
    }
    exchange.close();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
