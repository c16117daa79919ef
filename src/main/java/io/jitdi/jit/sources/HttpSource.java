package io.jitdi.jit.sources;

import io.jitdi.http.BlockingHttp;
import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
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
 * ETag / X-Linked-Etag, Last-Modified and size). The content is a GET through {@link BlockingHttp} (redirects, the
 * answer checked) that resumes with {@code Range} when the transfer breaks (up to {@link #RETRIES} times). A bearer
 * token configured for the URL's host is sent to the URL's origin only, never to another origin it redirects to. A
 * pin is verified while streaming.
 */
public final class HttpSource implements Source {
  static final int RETRIES = 3;
  private static final Logger LOG = LoggerFactory.getLogger(HttpSource.class);

  private final URI url;
  private final Optional<Digest> sha256;
  private final BlockingHttp http;

  /**
   * @param token bearer token for {@code url}'s host, if one is configured
   */
  public HttpSource(URI url, Optional<Digest> sha256, Optional<String> token, String userAgent) {
    this.url = url;
    this.sha256 = sha256;
    this.http = BlockingHttp.bearer(userAgent, token);
  }

  @Override
  public Listing list() throws IOException {
    try (BlockingHttp.Response head = http.open("HEAD", url, 0)) {
      long size = head.contentLength();
      String linkedSize = head.header("X-Linked-Size");
      if (size < 0 && linkedSize != null) {
        size = Long.parseLong(linkedSize.trim());
      }
      if (size < 0) {
        throw new IOException(url + " does not say its size (no Content-Length); jitdi needs it to write the layer");
      }
      String etag = Optional.ofNullable(head.header("X-Linked-Etag")).orElse(head.header("ETag"));
      String identity = sha256.map(d -> "sha256:" + d.hex()).orElse("http:" + url + "|" + etag + "|"
          + head.header("Last-Modified") + "|" + size);
      long length = size;
      SourceFile file = file(fileName(), size, in -> sha256.isPresent()
          ? new VerifyingInputStream(in, sha256.get(), length, url.toString()) : in);
      return new Listing(identity, List.of(file));
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
    private BlockingHttp.Response connection;

    ResumingStream(long size) throws IOException {
      this.size = size;
      connect();
    }

    private void connect() throws IOException {
      connection = http.open("GET", url, offset);
      in = connection.body();
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
        connection.close();
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
