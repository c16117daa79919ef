package io.jitdi.it;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A plain HTTP file server for JIT sources, as model hosts behave: {@code /files/<path>} with HEAD, single
 * {@code Range} requests (206), ETag and Last-Modified; {@code /redirect/<path>} answers 302 to {@code /files/<path>}.
 * It can throttle, cut a response once after N bytes, and it logs every request.
 */
public final class SourceServer implements AutoCloseable {
  /** One request: method, path, Range and Authorization headers. */
  public record Request(String method, String path, String range, String authorization) {}

  private final HttpServer server;
  private final Path root;
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final Map<String, Long> cuts = new ConcurrentHashMap<>();
  private volatile long bytesPerSecond = -1;
  private volatile String awayOrigin;

  private SourceServer(HttpServer server, Path root) {
    this.server = server;
    this.root = root;
  }

  public static SourceServer start(Path root) {
    HttpServer server = Ports.httpServer();
    SourceServer s = new SourceServer(server, root);
    server.createContext("/", s::handle);
    server.start();
    return s;
  }

  public String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** The next response for {@code path} is cut after {@code bytes} body bytes. */
  public SourceServer cutOnce(String path, long bytes) {
    cuts.put(path, bytes);
    return this;
  }

  /** {@code /redirect-away/<path>} answers 302 to {@code <origin>/files/<path>}, another server. */
  public SourceServer redirectAway(String origin) {
    awayOrigin = origin;
    return this;
  }

  public SourceServer throttle(long perSecond) {
    bytesPerSecond = perSecond;
    return this;
  }

  public List<Request> requests() {
    return List.copyOf(requests);
  }

  public long count(String method, String pathPrefix) {
    return requests.stream().filter(r -> r.method().equals(method) && r.path().startsWith(pathPrefix)).count();
  }

  private void handle(HttpExchange exchange) throws IOException {
    String path = exchange.getRequestURI().getPath();
    requests.add(new Request(exchange.getRequestMethod(), path, exchange.getRequestHeaders().getFirst("Range"),
        exchange.getRequestHeaders().getFirst("Authorization")));
    try (exchange) {
      if (path.startsWith("/redirect-away/") && awayOrigin != null) {
        exchange.getResponseHeaders().set("Location", awayOrigin + "/files/" + path.substring(
            "/redirect-away/".length()));
        exchange.sendResponseHeaders(302, -1);
        return;
      }
      if (path.startsWith("/redirect/")) {
        exchange.getResponseHeaders().set("Location", "/files/" + path.substring("/redirect/".length()));
        exchange.sendResponseHeaders(302, -1);
        return;
      }
      Path file = path.startsWith("/files/") ? root.resolve(path.substring("/files/".length())).normalize() : null;
      if (file == null || !file.startsWith(root) || !Files.isRegularFile(file)) {
        exchange.sendResponseHeaders(404, -1);
        return;
      }
      long size = Files.size(file);
      long start = 0;
      String range = exchange.getRequestHeaders().getFirst("Range");
      if (range != null && range.matches("bytes=\\d+-")) {
        start = Long.parseLong(range.substring(6, range.length() - 1));
        exchange.getResponseHeaders().set("Content-Range", "bytes " + start + "-" + (size - 1) + "/" + size);
      }
      exchange.getResponseHeaders().set("ETag", "\"" + Digest.sha256Of(Files.readAllBytes(file)).hex() + "\"");
      exchange.getResponseHeaders().set("Last-Modified", "Mon, 23 Nov 2026 00:00:00 GMT");
      exchange.getResponseHeaders().set("Accept-Ranges", "bytes");
      if (exchange.getRequestMethod().equals("HEAD")) {
        exchange.getResponseHeaders().set("Content-Length", Long.toString(size));
        exchange.sendResponseHeaders(200, -1);
        return;
      }
      exchange.sendResponseHeaders(start > 0 ? 206 : 200, size - start);
      Long cut = cuts.remove(path);
      long sent = 0;
      long began = System.nanoTime();
      try (InputStream in = Files.newInputStream(file); OutputStream out = exchange.getResponseBody()) {
        in.skipNBytes(start);
        byte[] buffer = new byte[64 * 1024];
        int n;
        while ((n = in.read(buffer)) > 0) {
          if (cut != null && sent + n > cut) {
            out.write(buffer, 0, (int) (cut - sent));
            out.flush();
            return; // closing without the rest: the client sees a short body
          }
          out.write(buffer, 0, n);
          sent += n;
          long rate = bytesPerSecond;
          if (rate > 0) {
            long ahead = (long) (sent * 1e9 / rate) - (System.nanoTime() - began);
            if (ahead > 0) {
              Thread.sleep(ahead / 1_000_000);
            }
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
