package io.jitdi.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.config.UpstreamConfig;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class UpstreamRouterTest {
  static UpstreamClient client(String key, String url, List<String> realms) {
    return new UpstreamClient(new UpstreamConfig(key, URI.create(url), Optional.empty(), Optional.empty(),
        Duration.ofSeconds(1), Duration.ofSeconds(1), realms, false), null, new TokenCache(Clock.systemUTC()),
        new JitdiMetrics());
  }

  private final UpstreamClient hub = client("docker.io", "https://registry-1.docker.io", List.of());
  private final UpstreamClient ghcr = client("ghcr.io", "https://ghcr.io", List.of());
  private final UpstreamRouter router;

  UpstreamRouterTest() {
    Map<String, UpstreamClient> upstreams = new LinkedHashMap<>();
    upstreams.put("docker.io", hub);
    upstreams.put("ghcr.io", ghcr);
    router = new UpstreamRouter(upstreams, "docker.io");
  }

  @Test
  void nsSelectsTheUpstream() {
    UpstreamRouter.Route route = router.route("ghcr.io", "org/img");
    assertSame(ghcr, route.upstream());
    assertEquals("org/img", route.name().value());
    assertSame(ghcr, router.route("GHCR.IO", "org/img").upstream());
  }

  @Test
  void aFirstSegmentNamingAnUpstreamSelectsIt() {
    UpstreamRouter.Route route = router.route(null, "ghcr.io/org/img");
    assertSame(ghcr, route.upstream());
    assertEquals("org/img", route.name().value());
  }

  @Test
  void otherwiseTheDefaultWithLibraryForDockerHub() {
    assertEquals("library/busybox", router.route(null, "busybox").name().value());
    assertEquals("library/busybox", router.route("docker.io", "busybox").name().value());
    assertEquals("me/img", router.route(null, "me/img").name().value());
    assertEquals("solo", router.route("ghcr.io", "solo").name().value());
  }

  @Test
  void unconfiguredRegistriesAreRefusedByName() {
    RegistryException e = assertThrows(RegistryException.class, () -> router.route("quay.io", "a/b"));
    assertEquals(ErrorCode.NAME_UNKNOWN, e.code());
    assertEquals(404, e.status());
    assertTrue(e.getMessage().contains("quay.io"));
    assertEquals(ErrorCode.NAME_UNKNOWN, assertThrows(RegistryException.class,
        () -> router.route(null, "quay.io/a/b")).code());
    assertEquals(ErrorCode.NAME_UNKNOWN, assertThrows(RegistryException.class,
        () -> router.route(null, "localhost/a")).code());
  }

  @Test
  void dotsThatAreNotAHostNameAreLeftToNameValidation() {
    assertEquals(ErrorCode.NAME_INVALID, assertThrows(RegistryException.class,
        () -> router.route(null, "../../etc/passwd")).code());
    assertEquals(ErrorCode.NAME_INVALID, assertThrows(RegistryException.class,
        () -> router.route(null, "./a")).code());
    assertEquals(ErrorCode.NAME_UNKNOWN, assertThrows(RegistryException.class,
        () -> router.route(null, "registry.local:5000/a")).code());
  }

  @Test
  void namesAreValidatedAfterRouting() {
    assertEquals(ErrorCode.NAME_INVALID, assertThrows(RegistryException.class,
        () -> router.route("ghcr.io", "../etc/passwd")).code());
    assertEquals(ErrorCode.NAME_INVALID, assertThrows(RegistryException.class,
        () -> router.route(null, "ghcr.io/%2e%2e/x")).code());
  }

  @Test
  void tokenRealmsMustBeOnTheUpstreamsDomainOrListed() {
    assertTrue(hub.auth().refuseRealm(URI.create("https://auth.docker.io/token")).isEmpty());
    assertTrue(ghcr.auth().refuseRealm(URI.create("https://ghcr.io/token")).isEmpty());
    assertTrue(hub.auth().refuseRealm(URI.create("https://evil.example/token")).isPresent());
    assertTrue(hub.auth().refuseRealm(URI.create("http://auth.docker.io/token")).isPresent(), "plain http for https");
    assertTrue(hub.auth().refuseRealm(URI.create("file:///etc/passwd")).isPresent());
    UpstreamClient ngc = client("nvcr.io", "https://nvcr.io", List.of("authn.nvidia.com"));
    assertTrue(ngc.auth().refuseRealm(URI.create("https://authn.nvidia.com/token")).isEmpty());
    UpstreamClient local = client("local", "http://127.0.0.1:5000", List.of());
    assertTrue(local.auth().refuseRealm(URI.create("http://127.0.0.1:5001/token")).isEmpty());
    assertTrue(local.auth().refuseRealm(URI.create("http://127.0.0.2/token")).isPresent());
    // any replica's host (or domain) is the upstream's own
    UpstreamClient replicas = new UpstreamClient(new UpstreamConfig("jit.local", List.of(
        URI.create("https://central-0.one.example"), URI.create("https://central-1.two.example")), Optional.empty(),
        Optional.empty(), Duration.ofSeconds(1), Duration.ofSeconds(1), List.of(), true), null,
        new TokenCache(Clock.systemUTC()), new JitdiMetrics());
    assertTrue(replicas.auth().refuseRealm(URI.create("https://auth.two.example/token")).isEmpty());
    assertTrue(replicas.auth().refuseRealm(URI.create("https://auth.one.example/token")).isEmpty());
    assertTrue(replicas.auth().refuseRealm(URI.create("https://auth.three.example/token")).isPresent());
  }

  @Test
  void authorizationStaysWithTheUpstreamsOrigin() {
    assertTrue(io.jitdi.http.HttpOrigin.same(URI.create("https://ghcr.io/v2/x"), URI.create("https://ghcr.io")));
    assertTrue(!io.jitdi.http.HttpOrigin.same(URI.create("https://cdn.ghcr.io/x"), URI.create("https://ghcr.io")));
    assertTrue(!io.jitdi.http.HttpOrigin.same(URI.create("http://ghcr.io/x"), URI.create("https://ghcr.io")));
    assertTrue(!io.jitdi.http.HttpOrigin.same(URI.create("https://ghcr.io:8443/x"), URI.create("https://ghcr.io")));
  }
}
