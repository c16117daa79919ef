package io.jitdi.registry;

import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.metrics.JitdiMetrics.Source;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.Tag;
import io.jitdi.upstream.UpstreamRouter;
import io.jitdi.upstream.UpstreamRouter.Route;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Pattern;

/** {@code GET /v2/<name>/tags/list}: passed through to the upstream with a validated {@code n} and {@code last}. */
final class TagsEndpoint {
  private static final Pattern PAGE_SIZE = Pattern.compile("\\d{1,6}");

  private final UpstreamRouter router;
  private final Counter servedFromUpstream;

  TagsEndpoint(UpstreamRouter router, JitdiMetrics metrics) {
    this.router = router;
    this.servedFromUpstream = metrics.servedBytesCounter(Source.upstream);
  }

  Future<Void> serve(Exchange exchange, ApiPath path) {
    Route route = router.route(exchange.ns(), path.name());
    StringBuilder query = new StringBuilder();
    String n = exchange.request().getParam("n");
    if (n != null) {
      if (!PAGE_SIZE.matcher(n).matches()) {
        throw new RegistryException(ErrorCode.UNSUPPORTED, 400, "n must be a number of tags",
            Map.of("n", n.length() > 100 ? n.substring(0, 100) + "..." : n), null, null);
      }
      query.append("n=").append(n);
    }
    String last = exchange.request().getParam("last");
    if (last != null) {
      Tag.parse(last);
      query.append(query.length() > 0 ? "&" : "").append("last=")
          .append(URLEncoder.encode(last, StandardCharsets.UTF_8));
    }
    return route.upstream().tags(route.name(), query.toString()).compose(list -> {
      exchange.cache("upstream");
      HttpServerResponse response = exchange.response();
      list.link().ifPresent(link -> response.putHeader("Link", link));
      servedFromUpstream.increment(list.json().length);
      return response.setStatusCode(200).putHeader("Content-Type", "application/json")
          .end(Buffer.buffer(list.json()));
    });
  }
}
