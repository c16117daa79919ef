package io.jitdi.bench.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/** A plain HTTP client (java.net.http) for the bench's setup requests and checks; never follows redirects. */
public final class Http {
  private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
      .followRedirects(HttpClient.Redirect.NEVER).build();

  private Http() {}

  /** A response, its body as text. */
  public record Response(int status, HttpHeaders headers, String body) {
    /** The first value of header {@code name}, or null. */
    public String header(String name) {
      return headers.firstValue(name).orElse(null);
    }
  }

  public static Response get(String url, Map<String, String> headers) {
    return send("GET", url, headers, HttpRequest.BodyPublishers.noBody());
  }

  public static Response head(String url, Map<String, String> headers) {
    return send("HEAD", url, headers, HttpRequest.BodyPublishers.noBody());
  }

  public static Response post(String url) {
    return send("POST", url, Map.of(), HttpRequest.BodyPublishers.noBody());
  }

  public static Response put(String url, Map<String, String> headers, byte[] body) {
    return send("PUT", url, headers, HttpRequest.BodyPublishers.ofByteArray(body));
  }

  /** PUTs {@code file} as the body without reading it into memory. */
  public static Response putFile(String url, Map<String, String> headers, Path file) {
    try {
      return send("PUT", url, headers, HttpRequest.BodyPublishers.ofFile(file));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The status of a GET of {@code url} now, or -1 when nothing answers (yet). */
  public static int status(String url) {
    try {
      return get(url, Map.of()).status();
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /**
   * Sends a request and waits at most 2 minutes for the whole response.
   *
   * @throws UncheckedIOException when the request fails before a response
   */
  private static Response send(String method, String url, Map<String, String> headers,
      HttpRequest.BodyPublisher body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(2))
        .method(method, body);
    headers.forEach(b::header);
    try {
      HttpResponse<String> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      return new Response(r.statusCode(), r.headers(), r.body());
    } catch (IOException e) {
      throw new UncheckedIOException(method + " " + url + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
