package io.jitdi.registry;

import io.jitdi.cache.Blobs;
import io.jitdi.oci.Digest;
import io.jitdi.upstream.UpstreamRouter;
import io.jitdi.upstream.UpstreamRouter.Route;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;

/**
 * {@code GET|HEAD /v2/<name>/blobs/<digest>}: the blob service answers, the {@link BlobResponder} sends. A HEAD gives
 * the size without fetching the blob. With a shared bucket in redirect mode, a GET of a blob the bucket holds is a
 * {@code 307} to a presigned URL, so its bytes flow from the object store.
 */
final class BlobEndpoint {
  private final UpstreamRouter router;
  private final Blobs blobs;
  private final BlobResponder responder;

  BlobEndpoint(UpstreamRouter router, Blobs blobs, BlobResponder responder) {
    this.router = router;
    this.blobs = blobs;
    this.responder = responder;
  }

  Future<Void> serve(Exchange exchange, ApiPath path) {
    Digest digest = Digest.parse(path.reference());
    Route route = router.route(exchange.ns(), path.name());
    exchange.image(route.registry() + "/" + route.name());
    if (exchange.head()) {
      return blobs.size(route.upstream(), route.name(), digest).compose(size -> {
        HttpServerResponse response = exchange.response();
        BlobResponder.blobHeaders(response, digest);
        size.ifPresent(n -> response.putHeader("Content-Length", Long.toString(n)));
        return response.setStatusCode(200).end();
      });
    }
    return blobs.redirect(digest).compose(redirect -> {
      if (redirect.isPresent()) {
        // not cacheable: the presigned URL expires, unlike the blob
        return exchange.response().setStatusCode(307).putHeader("Location", redirect.get().toString())
            .putHeader("Docker-Content-Digest", digest.toString()).putHeader("Cache-Control", "no-store")
            .putHeader("Content-Length", "0").end();
      }
      return blobs.get(route.upstream(), route.name(), digest).map(body -> {
        responder.send(exchange, body);
        return null;
      });
    });
  }
}
