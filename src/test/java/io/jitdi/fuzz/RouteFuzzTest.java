package io.jitdi.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jitdi.config.UpstreamConfig;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.jitdi.registry.ApiPath;
import io.jitdi.upstream.TokenCache;
import io.jitdi.upstream.UpstreamClient;
import io.jitdi.upstream.UpstreamRouter;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A request path and ns, as an attacker would write them: ApiPath never throws, and routing either names a
 * configured upstream and a valid repository name (no traversal, no empty component, nothing outside the name
 * alphabet) or fails with NAME_INVALID / NAME_UNKNOWN.
 */
class RouteFuzzTest {
  private static final JitdiMetrics METRICS = new JitdiMetrics();
  private static final UpstreamRouter ROUTER = new UpstreamRouter(Map.of(
      "docker.io", client("docker.io"), "ghcr.io", client("ghcr.io")), "docker.io");

  private static UpstreamClient client(String key) {
    return new UpstreamClient(new UpstreamConfig(key, URI.create("https://" + key), Optional.empty(),
        Optional.empty(), Duration.ofSeconds(1), Duration.ofSeconds(1), List.of(), false), null,
        new TokenCache(Clock.systemUTC()), METRICS);
  }

  @FuzzTest(maxExecutions = 100_000)
  void route(FuzzedDataProvider data) {
    String ns = data.consumeBoolean() ? null : data.consumeString(40);
    check("/v2/" + data.consumeRemainingAsString(), ns);
  }

  @Test
  void smoke() {
    Smoke.strings(3, s -> check("/v2/" + s + "/manifests/latest", null));
    Smoke.strings(4, s -> check("/v2/" + s, "docker.io"));
    Smoke.strings(5, s -> check("/v2/library/x/blobs/sha256:" + "a".repeat(64), s));
  }

  static void check(String path, String ns) {
    ApiPath parsed = ApiPath.parse(path);
    if (parsed.name() == null) {
      return;
    }
    try {
      UpstreamRouter.Route route = ROUTER.route(ns, parsed.name());
      String name = route.name().value();
      assertTrue(name.matches("[a-z0-9._/-]+"), name);
      assertFalse(name.contains("..") || name.contains("//") || name.startsWith("/") || name.endsWith("/"), name);
      assertTrue(name.length() <= 255 + "library/".length());
      assertTrue(List.of("docker.io", "ghcr.io").contains(route.upstream().key()));
    } catch (RegistryException e) {
      assertTrue(e.code() == ErrorCode.NAME_INVALID || e.code() == ErrorCode.NAME_UNKNOWN, e.code().name());
      assertEquals(e.code().defaultStatus(), e.status());
    }
  }
}
