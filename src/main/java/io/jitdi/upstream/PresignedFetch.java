package io.jitdi.upstream;

import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Blob bodies from URLs that carry their own authorization (presigned object-store URLs): no credentials, no
 * redirects, the same Netty body path and body idle timeout as upstream blob fetches. The caller verifies the bytes.
 */
public final class PresignedFetch {
  private final HttpClient http;
  private final Duration connectTimeout;
  private final Duration idleTimeout;

  PresignedFetch(HttpClient http, Duration connectTimeout, Duration idleTimeout) {
    this.http = http;
    this.connectTimeout = connectTimeout;
    this.idleTimeout = idleTimeout;
  }

  /**
   * GETs {@code url} from {@code offset} on; the answer must be 200 (offset 0) or a 206 starting there. Fails with
   * 503 when the store cannot be reached or answers anything else.
   */
  public Future<UpstreamBody> blob(URI url, Digest digest, long offset) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(url.toString())
        .setConnectTimeout(connectTimeout.toMillis()).setIdleTimeout(idleTimeout.toMillis()).setFollowRedirects(false);
    options.putHeader(HttpHeaders.USER_AGENT, UpstreamClient.USER_AGENT);
    if (offset > 0) {
      options.putHeader("Range", "bytes=" + offset + "-");
    }
    AtomicReference<UpstreamBody> tapped = new AtomicReference<>();
    return http.request(options)
        .compose(request -> {
          tapped.set(UpstreamBody.Tap.arm(request, idleTimeout.toMillis()));
          return request.send();
        })
        .recover(e -> Future.failedFuture(unavailable(url, "cannot be reached: " + UpstreamErrors.describe(e), e)))
        .compose(response -> UpstreamClient.blobBody(response, tapped.get(), offset, "the object store " + host(url),
            digest, idleTimeout.toMillis()).recover(e -> {
              if (!(e instanceof UpstreamClient.NotABlobAnswer)) {
                return Future.failedFuture(e);
              }
              int status = response.statusCode();
              return Bodies.discard(response).transform(ignored -> Future.failedFuture(unavailable(url,
                  "answered " + status + " to a GET of " + digest, null)));
            }));
  }

  private static RegistryException unavailable(URI url, String what, Throwable cause) {
    return new RegistryException(ErrorCode.UNAVAILABLE, 503, "the object store " + host(url) + " " + what,
        java.util.Map.of(), Duration.ofSeconds(10), cause);
  }

  private static String host(URI url) {
    return url.getScheme() + "://" + url.getRawAuthority();
  }
}
