package io.jitdi.registry;

import io.jitdi.cache.Manifests;
import io.jitdi.jit.JitImages;
import io.jitdi.jit.RuleSet;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.metrics.JitdiMetrics.CacheResult;
import io.jitdi.metrics.JitdiMetrics.Source;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.Reference;
import io.jitdi.oci.RegistryException;
import io.jitdi.upstream.UpstreamRouter;
import io.jitdi.upstream.UpstreamRouter.Route;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.util.Optional;

/**
 * {@code GET|HEAD /v2/<name>/manifests/<reference>}: a tag that matches a JIT rule is answered by the JIT images; a
 * JIT-only registry answers by digest from what it built; everything else goes through the manifest cache. The bytes
 * are sent exactly as stored, with their own media type and digest.
 */
final class ManifestEndpoint {
  private final UpstreamRouter router;
  private final Manifests manifests;
  private final JitImages jit;
  private final Counter servedFromCache;
  private final Counter servedFromUpstream;
  private final Counter servedFromJit;

  ManifestEndpoint(UpstreamRouter router, Manifests manifests, JitImages jit, JitdiMetrics metrics) {
    this.router = router;
    this.manifests = manifests;
    this.jit = jit;
    this.servedFromCache = metrics.servedBytesCounter(Source.cache);
    this.servedFromUpstream = metrics.servedBytesCounter(Source.upstream);
    this.servedFromJit = metrics.servedBytesCounter(Source.jit);
  }

  Future<Void> serve(Exchange exchange, ApiPath path) {
    Route route = router.route(exchange.ns(), path.name());
    Reference ref = manifestReference(path.reference());
    exchange.image(route.registry() + "/" + route.name());
    Optional<RuleSet.Match> match = ref.tag().flatMap(tag -> jit.match(route.registry(), route.name(), tag));
    if (match.isPresent()) {
      return jit.manifest(match.get(), route.registry(), route.name(), ref.tag().orElseThrow())
          .compose(outcome -> sendJit(exchange, outcome.manifest()));
    }
    if (route.jitOnly()) {
      if (ref.digest().isEmpty()) {
        throw new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "no rule for registry " + route.registry()
            + " matches " + route.name() + ":" + ref);
      }
      return manifests.stored(ref.digest().get()).compose(stored -> stored.map(m -> sendJit(exchange, m))
          .orElseGet(() -> Future.failedFuture(new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "manifest " + ref
              + " is not known to registry " + route.registry()))));
    }
    String accept = Accepts.normalize(exchange.request().headers().getAll("Accept"));
    return manifests.get(route.upstream(), route.name(), ref, accept, !exchange.head()).compose(answer -> {
      exchange.cache(answer.result().name());
      return send(exchange, answer, answer.result() == CacheResult.miss ? servedFromUpstream : servedFromCache);
    });
  }

  /**
   * The reference of a manifest request. Something that is not a valid tag names no manifest: 404
   * {@code MANIFEST_UNKNOWN}, as distribution answers and the OCI conformance suite expects, without asking the
   * upstream. A malformed digest stays 400 {@code DIGEST_INVALID}.
   */
  static Reference manifestReference(String text) {
    try {
      return Reference.parse(text);
    } catch (RegistryException e) {
      if (e.code() != ErrorCode.TAG_INVALID) {
        throw e;
      }
      throw new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "no manifest is known by " + e.getMessage()
          .replaceFirst("^invalid tag", "the invalid tag"));
    }
  }

  private Future<Void> sendJit(Exchange exchange, Manifest m) {
    exchange.cache("jit");
    return send(exchange, new Manifests.Answer(Optional.of(m), m.digest(), m.mediaType(), m.size(), CacheResult.hit),
        servedFromJit);
  }

  private static Future<Void> send(Exchange exchange, Manifests.Answer answer, Counter served) {
    HttpServerResponse response = exchange.response();
    response.setStatusCode(200)
        .putHeader("Content-Type", answer.mediaType().value())
        .putHeader("Content-Length", Long.toString(answer.size()))
        .putHeader("Docker-Content-Digest", answer.digest().toString())
        .putHeader("ETag", "\"" + answer.digest() + "\"");
    if (exchange.head()) {
      return response.end();
    }
    served.increment(answer.size());
    return response.end(Buffer.buffer(answer.manifest().orElseThrow().bytesUnsafe()));
  }
}
