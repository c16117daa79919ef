package io.jitdi.jit.sources;

import io.jitdi.http.ContentRange;
import io.jitdi.http.HttpOrigin;
import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A file at an http(s) URL. {@link #list()} asks with a HEAD for the size and an identity (a pinned sha256, else
 * ETag / X-Linked-Etag, Last-Modified and size). The content is a GET that follows redirects and resumes with
 * {@code Range} when the transfer breaks (up to {@link #RETRIES} times). A bearer token configured for the URL's host
 * is sent to that host only, never to a host it redirects to. A pin is verified while streaming.
 */
public final class HttpSource implements Source {
  static final int RETRIES = 3;
  static final int MAX_REDIRECTS = 5;
  static final int CONNECT_TIMEOUT_MILLIS = 10_000;
  static final int READ_TIMEOUT_MILLIS = 60_000;
  private static final Logger LOG = LoggerFactory.getLogger(HttpSource.class);

  private final URI url;
  private final Optional<Digest> sha256;
  private final Optional<String> token;
  private final String userAgent;

  /**
   * @param token bearer token for {@code url}'s host, if one is configured
   */
  public HttpSource(URI url, Optional<Digest> sha256, Optional<String> token, String userAgent) {
    this.url = url;
    this.sha256 = sha256;
    this.token = token;
    this.userAgent = userAgent;
  }

  @Override
  public Listing list() throws IOException {
    HttpURLConnection head = open("HEAD", 0);
    try {
      long size = head.getContentLengthLong();
      String linkedSize = head.getHeaderField("X-Linked-Size");
      if (size < 0 && linkedSize != null) {
        size = Long.parseLong(linkedSize.trim());
      }
      if (size < 0) {
        throw new IOException(url + " does not say its size (no Content-Length); jitdi needs it to write the layer");
      }
      String etag = Optional.ofNullable(head.getHeaderField("X-Linked-Etag")).orElse(head.getHeaderField("ETag"));
      String identity = sha256.map(d -> "sha256:" + d.hex()).orElse("http:" + url + "|" + etag + "|"
          + head.getHeaderField("Last-Modified") + "|" + size);
      long length = size;
      SourceFile file = file(fileName(), size, in -> sha256.isPresent()
          ? new VerifyingInputStream(in, sha256.get(), length, url.toString()) : in);
      return new Listing(identity, List.of(file));
    } finally {
      head.disconnect();
    }
  }

  /**
   * The URL's content as file {@code name} of a known {@code size}, without asking the server first: each open is a
   * GET that resumes with Range, passed through {@code check} (a verifier, or identity).
   */
  public SourceFile file(String name, long size, java.util.function.UnaryOperator<InputStream> check) {
    return new SourceFile(name, size, -1, () -> check.apply(new ResumingStream(size)));
  }

  private String fileName() throws IOException {
    String path = url.getRawPath();
    String last = URLDecoder.decode(path.substring(path.lastIndexOf('/') + 1), StandardCharsets.UTF_8);
    try {
      SourcePaths.checkRelative(last);
    } catch (IllegalArgumentException e) {
      throw new IOException(url + " ends in no usable file name; give a destination that names the file");
    }
    if (last.contains("/")) {
      throw new IOException(url + " ends in no usable file name");
    }
    return last;
  }

  /** Sends {@code method} from {@code offset}, following redirects; the response is 200, or 206 from offset. */
  HttpURLConnection open(String method, long offset) throws IOException {
    URI target = url;
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
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
      if (token.isPresent() && HttpOrigin.same(target, url)) {
        c.setRequestProperty("Authorization", "Bearer " + token.get());
      }
      int status = c.getResponseCode();
      if (status >= 300 && status < 400 && c.getHeaderField("Location") != null) {
        URI next = target.resolve(c.getHeaderField("Location"));
        c.disconnect();
        if (!"https".equals(next.getScheme()) && !"http".equals(next.getScheme())) {
          throw new IOException(url + " redirects to " + next + ", which is not http(s)");
        }
        target = next;
        continue;
      }
      if (status == 200 && offset == 0 || status == 206 && offset > 0 && rangeStart(c) == offset) {
        return c;
      }
      c.disconnect();
      throw new StatusException(status, method + " " + url + " answered " + status + (offset > 0
          ? " to a Range from " + offset : ""));
    }
    throw new IOException(url + " redirected more than " + MAX_REDIRECTS + " times");
  }

  /** An answer that was not the one asked for; {@code status} says which. */
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

  private static long rangeStart(HttpURLConnection c) {
    return ContentRange.start(c.getHeaderField("Content-Range"));
  }

  @Override
  public String describe() {
    return url.toString();
  }

  /** The content, resumed with Range after a broken transfer; fails if it cannot get exactly {@code size} bytes. */
  private final class ResumingStream extends InputStream {
    private final long size;
    private long offset;
    private int retries;
    private InputStream in;
    private HttpURLConnection connection;

    ResumingStream(long size) throws IOException {
      this.size = size;
      connect();
    }

    private void connect() throws IOException {
      connection = open("GET", offset);
      in = connection.getInputStream();
    }

    @Override
    public int read() throws IOException {
      return Streams.readOne(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      while (true) {
        if (offset >= size) {
          return -1;
        }
        try {
          int n = in.read(b, off, (int) Math.min(len, size - offset));
          if (n > 0) {
            offset += n;
            return n;
          }
          if (n < 0) {
            throw new IOException("the transfer ended at byte " + offset + " of " + size);
          }
        } catch (IOException e) {
          if (retries++ >= RETRIES) {
            throw new IOException(url + ": " + e.getMessage() + " (after " + RETRIES + " resumes)", e);
          }
          LOG.info("source {} broke at byte {} of {} ({}); resuming with Range", url, offset, size, e.getMessage());
          close();
          connect();
        }
      }
    }

    @Override
    public void close() throws IOException {
      if (connection != null) {
        connection.disconnect();
      }
    }
  }

  /** The bearer token for {@code url}'s host from {@code tokens} (host → environment variable), if set. */
  public static Optional<String> tokenFor(URI url, Map<String, String> tokens) {
    return tokenFor(url, tokens, System::getenv);
  }

  /** As {@link #tokenFor(URI, Map)}, reading variables with {@code environment}. */
  public static Optional<String> tokenFor(URI url, Map<String, String> tokens,
      java.util.function.Function<String, String> environment) {
    String variable = tokens.get(url.getHost().toLowerCase(java.util.Locale.ROOT));
    return Optional.ofNullable(variable).map(environment).filter(v -> !v.isEmpty());
  }
}
