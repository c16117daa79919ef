package io.jitdi.it;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/**
 * An HTTP proxy on loopback in front of a real registry, forwarding every request and streaming every response, that
 * can change what the registry answers at the HTTP level (where {@link FaultRelay} works on bytes): answer a resume
 * ({@code Range}) request with an error status, cut a blob body after some bytes, send a blob chunked (no
 * Content-Length), flip a body byte, or rewrite the {@code WWW-Authenticate} challenge. Each request it forwards is
 * recorded as {@code "METHOD path [Range]"}, and each request it answers itself as {@code "METHOD path -> status"}.
 */
public final class RegistryFront implements AutoCloseable {
  private static final Set<String> HOP_BY_HOP = Set.of("connection", "content-length", "transfer-encoding", "host",
      "keep-alive", "upgrade", "expect", "date");

  /** One armed fault for the next GET whose path contains {@code path}. */
  private record Armed(String path, boolean rangedOnly, int status, long cutAfter, long flipAt) {}

  private final HttpServer server;
  private final String target;
  private final HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
      .connectTimeout(Duration.ofSeconds(10)).build();
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private final List<Armed> armed = new CopyOnWriteArrayList<>();
  private final AtomicReference<String> chunkedPath = new AtomicReference<>();
  private volatile UnaryOperator<String> challenge = UnaryOperator.identity();

  private RegistryFront(HttpServer server, String target) {
    this.server = server;
    this.target = target;
  }

  /** A front forwarding to {@code targetUrl} ({@code http://127.0.0.1:PORT}). */
  public static RegistryFront to(String targetUrl) {
    HttpServer server = Ports.httpServer();
    RegistryFront front = new RegistryFront(server, targetUrl);
    server.createContext("/", front::handle);
    server.start();
    return front;
  }

  public String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** The next GET of a path containing {@code path} that carries a Range header is answered {@code status}. */
  public RegistryFront answerNextRangedGet(String path, int status) {
    armed.add(new Armed(path, true, status, -1, -1));
    return this;
  }

  /** The body of the next GET of a path containing {@code path} is cut (connection closed) after {@code bytes}. */
  public RegistryFront cutNextGet(String path, long bytes) {
    armed.add(new Armed(path, false, 0, bytes, -1));
    return this;
  }

  /** The byte at {@code offset} of the body of the next GET of a path containing {@code path} is flipped. */
  public RegistryFront flipNextGet(String path, long offset) {
    armed.add(new Armed(path, false, 0, -1, offset));
    return this;
  }

  /** GET responses for paths containing {@code path} go out chunked, without Content-Length (null: none). */
  public RegistryFront chunked(String path) {
    chunkedPath.set(path);
    return this;
  }

  /** Rewrites every WWW-Authenticate value the registry sends. */
  public RegistryFront rewriteChallenge(UnaryOperator<String> rewrite) {
    challenge = rewrite;
    return this;
  }

  /** Every request seen so far, in order. */
  public List<String> requests() {
    return List.copyOf(requests);
  }

  /** How many requests of {@code method} whose path contains {@code path} came. */
  public long count(String method, String path) {
    return requests.stream().filter(r -> r.startsWith(method + " ") && r.split(" ")[1].contains(path)).count();
  }

  private Armed take(String method, String path, boolean ranged) {
    if (!method.equals("GET")) {
      return null;
    }
    for (Armed a : armed) {
      if (path.contains(a.path()) && (!a.rangedOnly() || ranged) && armed.remove(a)) {
        return a;
      }
    }
    return null;
  }

  private void handle(HttpExchange exchange) throws IOException {
    answer(exchange);
    exchange.close();
  }

  /** Answers one exchange; an IOException (a cut) leaves it unclosed, and the JDK server then drops the connection. */
  private void answer(HttpExchange exchange) throws IOException {
    {
      String method = exchange.getRequestMethod();
      URI uri = exchange.getRequestURI();
      String range = exchange.getRequestHeaders().getFirst("Range");
      Armed fault = take(method, uri.getPath(), range != null);
      if (fault != null && fault.status() > 0) {
        requests.add(method + " " + uri.getPath() + (range == null ? "" : " " + range) + " -> " + fault.status());
        byte[] body = ("{\"errors\":[{\"code\":\"" + (fault.status() == 429 ? "TOOMANYREQUESTS" : "UNAVAILABLE")
            + "\",\"message\":\"injected by the test\"}]}").getBytes();
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.getResponseHeaders().set("Retry-After", "1");
        exchange.sendResponseHeaders(fault.status(), body.length);
        exchange.getResponseBody().write(body);
        return;
      }
      requests.add(method + " " + uri.getPath() + (range == null ? "" : " " + range));
      HttpRequest.Builder forward = HttpRequest.newBuilder(URI.create(target + uri.getRawPath()
          + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery()))).timeout(Duration.ofMinutes(5));
      exchange.getRequestHeaders().forEach((name, values) -> {
        if (!HOP_BY_HOP.contains(name.toLowerCase(Locale.ROOT))) {
          values.forEach(v -> forward.header(name, v));
        }
      });
      byte[] requestBody = exchange.getRequestBody().readAllBytes();
      forward.method(method, requestBody.length == 0 ? HttpRequest.BodyPublishers.noBody()
          : HttpRequest.BodyPublishers.ofByteArray(requestBody));
      HttpResponse<InputStream> response;
      try {
        response = client.send(forward.build(), HttpResponse.BodyHandlers.ofInputStream());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      }
      response.headers().map().forEach((name, values) -> {
        String lower = name.toLowerCase(Locale.ROOT);
        if (!HOP_BY_HOP.contains(lower) && !lower.startsWith(":")) {
          values.forEach(v -> exchange.getResponseHeaders().add(name,
              lower.equals("www-authenticate") ? challenge.apply(v) : v));
        }
      });
      long length = response.headers().firstValueAsLong("Content-Length").orElse(-1);
      boolean head = method.equals("HEAD");
      String chunk = chunkedPath.get();
      boolean sendChunked = !head && chunk != null && uri.getPath().contains(chunk);
      if (head) {
        if (length >= 0) {
          exchange.getResponseHeaders().set("Content-Length", Long.toString(length));
        }
        exchange.sendResponseHeaders(response.statusCode(), -1);
        response.body().close();
        return;
      }
      exchange.sendResponseHeaders(response.statusCode(), sendChunked || length < 0 ? 0 : length == 0 ? -1 : length);
      try (InputStream in = response.body()) {
        OutputStream out = exchange.getResponseBody();
        byte[] buffer = new byte[64 * 1024];
        long sent = 0;
        int n;
        while ((n = in.read(buffer)) >= 0) {
          if (fault != null && fault.flipAt() >= sent && fault.flipAt() < sent + n) {
            buffer[(int) (fault.flipAt() - sent)] ^= 0x01;
          }
          if (fault != null && fault.cutAfter() >= 0 && sent + n > fault.cutAfter()) {
            out.write(buffer, 0, (int) (fault.cutAfter() - sent));
            out.flush();
            // end the exchange without the rest of its body: the JDK server closes the connection
            throw new IOException("cut by the test after " + fault.cutAfter() + " bytes");
          }
          out.write(buffer, 0, n);
          sent += n;
        }
        out.close();
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
