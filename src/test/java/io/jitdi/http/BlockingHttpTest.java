package io.jitdi.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link BlockingHttp} against real local servers: redirects and their limit, credentials, Range answers. */
class BlockingHttpTest {
  private static final byte[] CONTENT = "0123456789abcdefghij".getBytes(StandardCharsets.US_ASCII);
  private static final String AUTH = "Bearer secret-token";

  /** One request a server saw. */
  record Seen(String server, String method, String path, String authorization, String range, String userAgent) {}

  private final List<Seen> seen = new CopyOnWriteArrayList<>();
  private HttpServer home;
  private HttpServer other;

  @BeforeEach
  void start() throws IOException {
    home = server("home");
    other = server("other");
  }

  @AfterEach
  void stop() {
    home.stop(0);
    other.stop(0);
  }

  private HttpServer server(String name) throws IOException {
    HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    s.createContext("/", exchange -> {
      try (exchange) {
        handle(name, exchange);
      }
    });
    s.start();
    return s;
  }

  /**
   * {@code /hops/N}: N redirects, then the content; {@code /away}: to the other server's content; {@code /round}:
   * to the other server, which sends back to this one; {@code /explicit}, {@code /implicit}: to
   * {@code http://127.0.0.1:80/content} and {@code http://127.0.0.1/content}; {@code /ftp}: to an ftp URL; {@code /range/S}: 206 from S
   * whatever was asked; {@code /whole}: 200 whatever was asked; {@code /content}: honours Range.
   */
  private void handle(String name, HttpExchange exchange) throws IOException {
    String path = exchange.getRequestURI().getPath();
    var h = exchange.getRequestHeaders();
    seen.add(new Seen(name, exchange.getRequestMethod(), path, h.getFirst("Authorization"), h.getFirst("Range"),
        h.getFirst("User-Agent")));
    if (path.startsWith("/hops/")) {
      int n = Integer.parseInt(path.substring("/hops/".length()));
      redirect(exchange, n == 0 ? "/content" : "/hops/" + (n - 1));
    } else if (path.equals("/away")) {
      redirect(exchange, url(other, "/content").toString());
    } else if (path.equals("/round")) {
      redirect(exchange, url(other, "/back").toString());
    } else if (path.equals("/back")) {
      redirect(exchange, url(home, "/content").toString());
    } else if (path.equals("/explicit")) {
      redirect(exchange, "http://127.0.0.1:80/content");
    } else if (path.equals("/implicit")) {
      redirect(exchange, "http://127.0.0.1/content");
    } else if (path.equals("/ftp")) {
      redirect(exchange, "ftp://127.0.0.1/content");
    } else if (path.startsWith("/range/")) {
      send(exchange, Integer.parseInt(path.substring("/range/".length())));
    } else if (path.equals("/whole")) {
      send(exchange, -1);
    } else if (path.equals("/content")) {
      String range = h.getFirst("Range");
      send(exchange, range == null ? -1 : Integer.parseInt(range.substring("bytes=".length(), range.length() - 1)));
    } else {
      exchange.sendResponseHeaders(404, -1);
    }
  }

  private static void redirect(HttpExchange exchange, String location) throws IOException {
    exchange.getResponseHeaders().set("Location", location);
    exchange.sendResponseHeaders(302, -1);
  }

  /** The content from {@code start} as a 206, or all of it as a 200 when {@code start} is -1. */
  private static void send(HttpExchange exchange, int start) throws IOException {
    int from = Math.max(start, 0);
    if (start >= 0) {
      exchange.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (CONTENT.length - 1) + "/"
          + CONTENT.length);
    }
    boolean head = "HEAD".equals(exchange.getRequestMethod());
    if (head) {
      exchange.getResponseHeaders().set("Content-Length", Integer.toString(CONTENT.length - from));
    }
    exchange.sendResponseHeaders(start >= 0 ? 206 : 200, head ? -1 : CONTENT.length - from);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(CONTENT, from, CONTENT.length - from);
      }
    }
  }

  private static URI url(HttpServer s, String path) {
    return URI.create("http://127.0.0.1:" + s.getAddress().getPort() + path);
  }

  private static String body(BlockingHttp.Response r) throws IOException {
    try (r; var in = r.body()) {
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  private static BlockingHttp client() {
    return new BlockingHttp("jitdi-test/1", Optional.of(AUTH));
  }

  private List<Seen> seenBy(String server) {
    return seen.stream().filter(s -> s.server().equals(server)).toList();
  }

  @Test
  void followsRedirectsUpToTheLimit() throws IOException {
    assertEquals(5, Redirects.MAX);
    assertEquals("0123456789abcdefghij", body(client().open("GET", url(home, "/hops/" + (Redirects.MAX - 1)), 0)));
    assertEquals(Redirects.MAX + 1, seen.size(), "the limit's redirects, then the content: " + seen);
    assertTrue(seen.stream().allMatch(s -> "jitdi-test/1".equals(s.userAgent())), "every hop has the User-Agent");
  }

  @Test
  void refusesOneRedirectMoreThanTheLimit() {
    IOException e = assertThrows(IOException.class, () -> client().open("GET", url(home, "/hops/" + Redirects.MAX),
        0));
    assertTrue(e.getMessage().contains("redirected more than 5 times"), e.getMessage());
    assertEquals(Redirects.MAX + 1, seen.size(), "no request after the last redirect it would follow: " + seen);
    assertTrue(seen.stream().noneMatch(s -> s.path().equals("/content")), seen.toString());
  }

  @Test
  void refusesARedirectThatIsNotHttp() {
    IOException e = assertThrows(IOException.class, () -> client().open("GET", url(home, "/ftp"), 0));
    assertTrue(e.getMessage().contains("not http(s)"), e.getMessage());
  }

  @Test
  void credentialsGoToTheirOwnOriginOnly() throws IOException {
    assertEquals("0123456789abcdefghij", body(client().open("GET", url(home, "/away"), 0)));
    assertEquals(AUTH, seenBy("home").get(0).authorization(), "the origin asked for gets them");
    assertEquals(1, seenBy("other").size());
    assertNull(seenBy("other").get(0).authorization(), "another origin (another port) never sees them");
  }

  @Test
  void aRedirectBackToTheOriginCarriesTheCredentialsAgain() throws IOException {
    assertEquals("0123456789abcdefghij", body(client().open("GET", url(home, "/round"), 0)));
    assertEquals(List.of("/round", "/content"), seenBy("home").stream().map(Seen::path).toList());
    assertTrue(seenBy("home").stream().allMatch(s -> AUTH.equals(s.authorization())), seen.toString());
    assertNull(seenBy("other").get(0).authorization(), seen.toString());
  }

  @Test
  void noCredentialsConfiguredSendsNone() throws IOException {
    body(new BlockingHttp("jitdi-test/1", Optional.empty()).open("GET", url(home, "/hops/1"), 0));
    assertTrue(seen.stream().allMatch(s -> s.authorization() == null), seen.toString());
  }

  @Test
  void aDefaultPortWrittenOutIsTheSameOriginForCredentials() {
    assertTrue(BlockingHttp.sendsCredentials(URI.create("https://h/x"), URI.create("https://h:443/y")));
    assertTrue(BlockingHttp.sendsCredentials(URI.create("https://h:443/x"), URI.create("https://h/y")));
    assertTrue(BlockingHttp.sendsCredentials(URI.create("http://h/x"), URI.create("http://h:80/y")));
    assertFalse(BlockingHttp.sendsCredentials(URI.create("https://h/x"), URI.create("https://h:8443/y")));
    assertFalse(BlockingHttp.sendsCredentials(URI.create("https://h/x"), URI.create("http://h/y")));
    assertFalse(BlockingHttp.sendsCredentials(URI.create("https://h/x"), URI.create("https://cdn.h/y")));
  }

  /** Through a real server on port 80, when this machine lets the test bind it. */
  @Test
  void aRedirectToTheDefaultPortWrittenOutKeepsTheCredentials() throws IOException {
    HttpServer onDefault;
    try {
      onDefault = HttpServer.create(new InetSocketAddress("127.0.0.1", 80), 0);
    } catch (IOException e) {
      assumeTrue(false, "port 80 is not available here: " + e.getMessage());
      return;
    }
    onDefault.createContext("/", exchange -> {
      try (exchange) {
        handle("default", exchange);
      }
    });
    onDefault.start();
    try {
      // http://127.0.0.1/... and http://127.0.0.1:80/... are one origin, whichever is written first
      body(client().open("GET", URI.create("http://127.0.0.1/explicit"), 0));
      body(client().open("GET", URI.create("http://127.0.0.1:80/implicit"), 0));
      assertEquals(List.of("/explicit", "/content", "/implicit", "/content"),
          seenBy("default").stream().map(Seen::path).toList());
      assertTrue(seenBy("default").stream().allMatch(s -> AUTH.equals(s.authorization())), seen.toString());
    } finally {
      onDefault.stop(0);
    }
  }

  @Test
  void aRangeAnswerFromTheOffsetAskedForIsTaken() throws IOException {
    BlockingHttp.Response r = client().open("GET", url(home, "/content"), 10);
    assertEquals(206, r.status());
    assertEquals("abcdefghij", body(r));
    assertEquals("bytes=10-", seen.get(0).range());
    assertEquals("0123456789abcdefghij", body(client().open("GET", url(home, "/content"), 0)));
    assertNull(seen.get(1).range(), "no Range from offset 0");
  }

  @Test
  void aRangeAnswerFromAnotherOffsetIsRefused() {
    BlockingHttp.StatusException e = assertThrows(BlockingHttp.StatusException.class,
        () -> client().open("GET", url(home, "/range/5"), 10));
    assertEquals(206, e.status());
    assertTrue(e.getMessage().contains("to a Range from 10"), e.getMessage());
    BlockingHttp.StatusException whole = assertThrows(BlockingHttp.StatusException.class,
        () -> client().open("GET", url(home, "/whole"), 10));
    assertEquals(200, whole.status(), "a 200 to a Range is not the content from the offset");
    assertEquals(206, assertThrows(BlockingHttp.StatusException.class,
        () -> client().open("GET", url(home, "/range/0"), 0)).status(), "a 206 to a request without Range");
  }

  @Test
  void anotherStatusIsAStatusException() throws IOException {
    assertEquals(404, assertThrows(BlockingHttp.StatusException.class,
        () -> client().open("GET", url(home, "/missing"), 0)).status());
    try (BlockingHttp.Response head = client().open("HEAD", url(home, "/hops/1"), 0)) {
      assertEquals(200, head.status());
      assertEquals(CONTENT.length, head.contentLength());
    }
  }
}
