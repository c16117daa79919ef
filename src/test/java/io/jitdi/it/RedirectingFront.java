package io.jitdi.it;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * What sits in front of many real registries: an HTTP front that passes requests to the registry, can demand Basic
 * credentials first (an nginx auth front), and answers blob GETs with a 307 to a separate blob store (a CDN) on
 * another origin. The blob store serves the bytes straight from the registry's storage and records the
 * Authorization headers it was sent.
 */
public final class RedirectingFront implements AutoCloseable {
  private static final Set<String> HOP_BY_HOP = Set.of("connection", "content-length", "transfer-encoding", "host",
      "keep-alive", "date");
  private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .followRedirects(HttpClient.Redirect.NEVER).build();

  private final HttpServer front;
  private final HttpServer cdn;
  private final String registryUrl;
  private final String basicCredentials;
  private final Function<String, Path> blobFile;
  private final List<String> cdnAuthorizations = new CopyOnWriteArrayList<>();
  private final List<String> cdnDigests = new CopyOnWriteArrayList<>();
  private volatile boolean redirectBlobs = true;

  private RedirectingFront(HttpServer front, HttpServer cdn, String registryUrl, String basicCredentials,
      Function<String, Path> blobFile) {
    this.front = front;
    this.cdn = cdn;
    this.registryUrl = registryUrl;
    this.basicCredentials = basicCredentials;
    this.blobFile = blobFile;
  }

  /**
   * @param basicCredentials {@code user:password} required before anything is passed on, or null
   * @param blobFile where the bytes of a digest ({@code sha256:...}) are on disk
   */
  public static RedirectingFront start(String registryUrl, String basicCredentials, Function<String, Path> blobFile) {
    HttpServer front = Ports.httpServer();
    HttpServer cdn = Ports.httpServer();
    RedirectingFront f = new RedirectingFront(front, cdn, registryUrl, basicCredentials, blobFile);
    front.createContext("/", f::front);
    cdn.createContext("/", f::cdn);
    front.start();
    cdn.start();
    return f;
  }

  public String url() {
    return "http://127.0.0.1:" + front.getAddress().getPort();
  }

  /** Authorization headers the blob store received (empty: none sent). */
  public List<String> cdnAuthorizations() {
    return List.copyOf(cdnAuthorizations);
  }

  /** How many times the blob store was asked for {@code digest}. */
  public long cdnGets(Digest digest) {
    return cdnDigests.stream().filter(d -> d.equals(digest.toString())).count();
  }

  private void front(HttpExchange exchange) throws IOException {
    if (basicCredentials != null && !("Basic " + Base64.getEncoder().encodeToString(
        basicCredentials.getBytes(StandardCharsets.UTF_8))).equals(exchange.getRequestHeaders()
        .getFirst("Authorization"))) {
      exchange.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"registry\"");
      TokenServer.respond(exchange, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"login\"}]}");
      return;
    }
    String path = exchange.getRequestURI().getRawPath();
    int blobs = path.indexOf("/blobs/sha256:");
    if (redirectBlobs && blobs > 0 && exchange.getRequestMethod().equals("GET")) {
      String digest = path.substring(blobs + "/blobs/".length());
      exchange.getResponseHeaders().set("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/store/"
          + digest + "?signature=abc");
      exchange.sendResponseHeaders(307, -1);
      exchange.close();
      return;
    }
    HttpRequest.Builder forward = HttpRequest.newBuilder(URI.create(registryUrl + exchange.getRequestURI()))
        .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.noBody());
    exchange.getRequestHeaders().forEach((name, values) -> {
      if (!HOP_BY_HOP.contains(name.toLowerCase())) {
        values.forEach(v -> forward.header(name, v));
      }
    });
    try {
      HttpResponse<InputStream> r = CLIENT.send(forward.build(), HttpResponse.BodyHandlers.ofInputStream());
      r.headers().map().forEach((name, values) -> {
        if (!HOP_BY_HOP.contains(name.toLowerCase()) && !name.startsWith(":")) {
          exchange.getResponseHeaders().put(name, values);
        }
      });
      long length = r.headers().firstValueAsLong("Content-Length").orElse(0);
      boolean head = exchange.getRequestMethod().equals("HEAD");
      if (head && length > 0) {
        exchange.getResponseHeaders().set("Content-Length", Long.toString(length));
      }
      exchange.sendResponseHeaders(r.statusCode(), head || length == 0 ? -1 : length);
      try (InputStream in = r.body(); OutputStream out = exchange.getResponseBody()) {
        in.transferTo(out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      exchange.close();
    }
  }

  private void cdn(HttpExchange exchange) throws IOException {
    cdnAuthorizations.add(java.util.Objects.requireNonNullElse(exchange.getRequestHeaders().getFirst("Authorization"),
        ""));
    String digest = exchange.getRequestURI().getPath().substring("/store/".length());
    cdnDigests.add(digest);
    Path file = blobFile.apply(digest);
    if (!Files.exists(file)) {
      exchange.sendResponseHeaders(404, -1);
      exchange.close();
      return;
    }
    exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
    exchange.sendResponseHeaders(200, Files.size(file));
    try (OutputStream out = exchange.getResponseBody()) {
      Files.copy(file, out);
    }
  }

  @Override
  public void close() {
    front.stop(0);
    cdn.stop(0);
  }
}
