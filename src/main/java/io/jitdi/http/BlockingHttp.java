package io.jitdi.http;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.util.Optional;

/**
 * The blocking HTTP client of the model sources (for the IO pool, never an event loop). One request follows up to
 * {@link Redirects#MAX} redirects (any 3xx with a {@code Location}, same method) to http(s) locations only. The
 * {@code Authorization} value is sent only to the origin ({@link HttpOrigin}) of the URL asked for: a hop to another
 * origin goes without it, and a redirect back to that origin carries it again. Every hop has the same timeouts,
 * {@code User-Agent}, {@code Accept-Encoding: identity} and {@code Range}. The answer is checked before it is handed
 * out: 200 for the whole content, or 206 whose {@link ContentRange} starts at the offset asked for.
 */
public final class BlockingHttp {
  public static final int CONNECT_TIMEOUT_MILLIS = 10_000;
  public static final int READ_TIMEOUT_MILLIS = 60_000;

  private final String userAgent;
  private final Optional<String> authorization;

  /**
   * @param authorization the {@code Authorization} header value for each request's own origin, if any
   */
  public BlockingHttp(String userAgent, Optional<String> authorization) {
    this.userAgent = userAgent;
    this.authorization = authorization;
  }

  /** A client that sends {@code Bearer token}, when there is a token. */
  public static BlockingHttp bearer(String userAgent, Optional<String> token) {
    return new BlockingHttp(userAgent, token.map(t -> "Bearer " + t));
  }

  /**
   * Sends {@code method} to {@code url}, asking for the content from {@code offset} ({@code Range: bytes=offset-}
   * when it is above 0), and follows redirects.
   *
   * @return the answer, 200 when {@code offset} is 0, else 206 from {@code offset}; the caller closes it
   * @throws StatusException when the final answer is any other status
   * @throws IOException when a hop fails, a redirect goes to an unusable location, or there are more than
   *     {@link Redirects#MAX} redirects
   */
  public Response open(String method, URI url, long offset) throws IOException {
    URI target = url;
    for (int hop = 0; hop <= Redirects.MAX; hop++) {
      HttpURLConnection c = (HttpURLConnection) target.toURL().openConnection();
      c.setInstanceFollowRedirects(false);
      c.setRequestMethod(method);
      c.setConnectTimeout(CONNECT_TIMEOUT_MILLIS);
      c.setReadTimeout(READ_TIMEOUT_MILLIS);
      c.setRequestProperty("User-Agent", userAgent);
      c.setRequestProperty("Accept-Encoding", "identity");
      if (offset > 0) {
        c.setRequestProperty("Range", "bytes=" + offset + "-");
      }
      if (authorization.isPresent() && sendsCredentials(url, target)) {
        c.setRequestProperty("Authorization", authorization.get());
      }
      int status;
      try {
        status = c.getResponseCode();
      } catch (IOException e) {
        c.disconnect();
        throw e;
      }
      String location = c.getHeaderField("Location");
      if (status >= 300 && status < 400 && location != null) {
        c.disconnect();
        URI next = Redirects.target(target, location);
        if (next == null) {
          throw new IOException(url + " redirects to " + location + ", which is not http(s)");
        }
        target = next;
        continue;
      }
      if (status == 200 && offset == 0
          || status == 206 && offset > 0 && ContentRange.start(c.getHeaderField("Content-Range")) == offset) {
        return new Response(c);
      }
      c.disconnect();
      throw new StatusException(status, method + " " + url + " answered " + status + (offset > 0
          ? " to a Range from " + offset : ""));
    }
    throw new IOException(url + " redirected more than " + Redirects.MAX + " times");
  }

  /** Whether a request first sent to {@code asked} carries its credentials to {@code target}: same origin only. */
  static boolean sendsCredentials(URI asked, URI target) {
    return HttpOrigin.same(asked, target);
  }

  /** A checked answer: its status, headers and body. Closing it closes the connection. */
  public static final class Response implements Closeable {
    private final HttpURLConnection connection;

    private Response(HttpURLConnection connection) {
      this.connection = connection;
    }

    public int status() throws IOException {
      return connection.getResponseCode();
    }

    /** The header's value, or null. */
    public String header(String name) {
      return connection.getHeaderField(name);
    }

    /** {@code Content-Length}, or -1 when there is none. */
    public long contentLength() {
      return connection.getContentLengthLong();
    }

    public InputStream body() throws IOException {
      return connection.getInputStream();
    }

    @Override
    public void close() {
      connection.disconnect();
    }
  }

  /** An answer that was not the one asked for; {@link #status()} says which. */
  public static final class StatusException extends IOException {
    private final int status;

    StatusException(int status, String message) {
      super(message);
      this.status = status;
    }

    public int status() {
      return status;
    }
  }
}
