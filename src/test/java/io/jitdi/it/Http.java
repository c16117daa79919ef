package io.jitdi.it;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;

/** A plain HTTP client for tests (java.net.http), independent of the code under test. */
public final class Http {
  private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
      .followRedirects(HttpClient.Redirect.NEVER).build();

  private Http() {}

  /** A response with its body as text. */
  public record Text(int status, HttpHeaders headers, String body) {
    public String header(String name) {
      return headers.firstValue(name).orElse(null);
    }
  }

  /**
   * A streamed body: how many bytes came, their sha256, and whether the transfer broke before the declared length.
   */
  public record Streamed(int status, HttpHeaders headers, long bytes, Digest digest, boolean broken) {
    public String header(String name) {
      return headers.firstValue(name).orElse(null);
    }
  }

  /** A response with its body as bytes. */
  public record Bytes(int status, HttpHeaders headers, byte[] body) {
    public String header(String name) {
      return headers.firstValue(name).orElse(null);
    }
  }

  /** GETs {@code url} and keeps the body as bytes. */
  public static Bytes getBytes(String url, Map<String, String> headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(2)).GET();
    headers.forEach(b::header);
    try {
      HttpResponse<byte[]> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
      return new Bytes(r.statusCode(), r.headers(), r.body());
    } catch (IOException e) {
      throw new UncheckedIOException("GET " + url + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  public static Text get(String url, Map<String, String> headers) {
    return send("GET", url, headers, HttpRequest.BodyPublishers.noBody());
  }

  /** Whether {@code url} answers a GET with {@code status} now; false when nothing answers (yet). */
  public static boolean answers(String url, int status) {
    try {
      return get(url).status() == status;
    } catch (RuntimeException e) {
      return false;
    }
  }

  public static Text get(String url) {
    return get(url, Map.of());
  }

  public static Text head(String url, Map<String, String> headers) {
    return send("HEAD", url, headers, HttpRequest.BodyPublishers.noBody());
  }

  public static Text send(String method, String url, Map<String, String> headers, HttpRequest.BodyPublisher body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(120))
        .method(method, body);
    headers.forEach(b::header);
    try {
      HttpResponse<String> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      return new Text(r.statusCode(), r.headers(), r.body());
    } catch (IOException e) {
      throw new UncheckedIOException(method + " " + url + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  public static Text put(String url, Map<String, String> headers, byte[] body) {
    return send("PUT", url, headers, HttpRequest.BodyPublishers.ofByteArray(body));
  }

  public static Text putFile(String url, Map<String, String> headers, Path file) {
    try {
      return send("PUT", url, headers, HttpRequest.BodyPublishers.ofFile(file));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static Text post(String url) {
    return send("POST", url, Map.of(), HttpRequest.BodyPublishers.noBody());
  }

  /** GETs {@code url} streaming the body through sha256, never holding it in memory. */
  public static Streamed stream(String url, Map<String, String> headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(10)).GET();
    headers.forEach(b::header);
    HttpResponse<InputStream> r;
    try {
      r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      return new Streamed(0, HttpHeaders.of(Map.of(), (x, y) -> true), 0, null, true);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
    MessageDigest sha256 = Digest.newSha256();
    long n = 0;
    boolean broken = false;
    byte[] buffer = new byte[1 << 16];
    try (InputStream in = r.body()) {
      int read;
      while ((read = in.read(buffer)) >= 0) {
        sha256.update(buffer, 0, read);
        n += read;
      }
    } catch (IOException e) {
      broken = true;
    }
    long declared = r.headers().firstValueAsLong("Content-Length").orElse(-1);
    if (declared >= 0 && n != declared) {
      broken = true;
    }
    return new Streamed(r.statusCode(), r.headers(), n, Digest.ofSha256Bytes(sha256.digest()), broken);
  }

  public static Streamed stream(String url) {
    return stream(url, Map.of());
  }
}
