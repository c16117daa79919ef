package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** Ordinary pulls through jitdi by real clients, against a real docker-registry upstream. */
class PullThroughIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  /** A second, separate upstream for ghcr.io, holding a different image under the same name as docker.io's. */
  static DockerRegistry ghcr;
  static Images.Pushed ghcrTools;
  static Jitdi jitdi;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    Images.pushBusybox(upstream, "library/busybox", "latest");
    Images.pushBusybox(upstream, "team/tools", "1.0");
    ghcr = DockerRegistry.start(dir.resolve("ghcr"));
    ghcrTools = Images.pushRandomImage(ghcr, dir, "team/tools", "1.0", 64 << 10, 42);
    jitdi = Jitdi.start(dir.resolve("jitdi"), """
        server:
          listen: 127.0.0.1:PORT
        cache:
          dir: CACHE_DIR
          maxSize: 1GiB
        upstreams:
          docker.io:
            url: %1$s
          ghcr.io:
            url: %2$s
        defaultUpstream: docker.io
        """.formatted(upstream.url(), ghcr.url()));
  }

  @AfterAll
  static void stop() {
    if (jitdi != null) {
      jitdi.close();
    }
    if (upstream != null) {
      upstream.close();
    }
    if (ghcr != null) {
      ghcr.close();
    }
  }

  /** Manifest requests (GET and HEAD) for {@code repo} in a registry's access log. */
  private static long manifestRequests(DockerRegistry registry, String repo) {
    return registry.requests("GET", "/v2/" + repo + "/manifests/") + registry.requests("HEAD",
        "/v2/" + repo + "/manifests/");
  }

  /** The manifest digest {@code registry} holds for {@code repo:tag}. */
  private static String digestAt(String registryUrl, String repo, String tag) {
    Http.Text head = Http.head(registryUrl + "/v2/" + repo + "/manifests/" + tag,
        Map.of("Accept", "application/vnd.oci.image.manifest.v1+json"));
    assertEquals(200, head.status(), registryUrl + " " + repo + ":" + tag);
    return head.header("Docker-Content-Digest");
  }

  private static String skopeo(String... args) {
    List<String> command = new java.util.ArrayList<>(List.of("skopeo"));
    command.addAll(List.of(args));
    return Proc.run(Duration.ofMinutes(3), command);
  }

  @Test
  void aSecondSkopeoCopyMakesNoUpstreamBlobRequest() throws Exception {
    Images.Pushed image = Images.pushRandomImage(upstream, dir, "copies/model", "v1", 8 << 20, 11);
    skopeo("copy", "--src-tls-verify=false", "docker://" + jitdi.hostPort() + "/copies/model:v1",
        "dir:" + dir.resolve("copy1"));
    assertEquals(1, upstream.blobGets("copies/model", image.layer()), "layer fetched once");
    assertEquals(1, upstream.blobGets("copies/model", image.config()), "config fetched once");

    skopeo("copy", "--src-tls-verify=false", "docker://" + jitdi.hostPort() + "/copies/model:v1",
        "dir:" + dir.resolve("copy2"));
    assertEquals(0, upstream.requests("GET", "/v2/copies/model/blobs/") - 2, "second copy: every blob from cache");
    Path layer = dir.resolve("copy2/" + image.layer().hex());
    assertEquals(image.layerSize(), Files.size(layer));
    assertEquals(image.layer(), io.jitdi.cache.FileDigests.sha256(layer), "the copied layer is byte-identical");
  }

  @Test
  void aCopiedImageUnpacksToARunnableRootfs() {
    skopeo("copy", "--src-tls-verify=false", "docker://" + jitdi.hostPort() + "/team/tools:1.0",
        "oci:" + dir.resolve("tools") + ":1.0");
    Proc.run(Duration.ofMinutes(1), List.of("umoci", "unpack", "--image", dir.resolve("tools") + ":1.0",
        dir.resolve("unpacked").toString()));
    assertTrue(Files.isExecutable(dir.resolve("unpacked/rootfs/bin/busybox")), "the layer unpacks to a runnable image");
  }

  @Test
  void skopeoInspectSeesTheImageAndItsSchema2Variant() {
    String oci = skopeo("inspect", "--tls-verify=false", "docker://" + jitdi.hostPort() + "/library/busybox:latest");
    assertTrue(oci.contains("\"Architecture\": \"amd64\""), oci);
    String raw = skopeo("inspect", "--raw", "--tls-verify=false",
        "docker://" + jitdi.hostPort() + "/library/busybox:latest-v2s2");
    assertTrue(raw.contains("application/vnd.docker.distribution.manifest.v2+json"), raw);
  }

  @Test
  void aManifestHeadCarriesTheRealLengthDigestAndType() {
    String accept = "application/vnd.docker.distribution.manifest.v2+json, "
        + "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, "
        + "application/vnd.oci.image.index.v1+json, */*";
    Http.Text head = Http.head(jitdi.url() + "/v2/library/busybox/manifests/latest?ns=docker.io",
        Map.of("Accept", accept));
    assertEquals(200, head.status());
    Http.Text get = Http.get(jitdi.url() + "/v2/library/busybox/manifests/latest?ns=docker.io",
        Map.of("Accept", accept));
    assertEquals(Integer.toString(get.body().length()), head.header("Content-Length"));
    assertTrue(Long.parseLong(head.header("Content-Length")) > 0);
    assertEquals("application/vnd.oci.image.manifest.v1+json", head.header("Content-Type"));
    assertEquals(io.jitdi.oci.Digest.sha256Of(get.body().getBytes()).toString(), head.header("Docker-Content-Digest"));
    assertEquals("registry/2.0", head.header("Docker-Distribution-API-Version"));
  }

  @Test
  void aManifestByDigestIsVerifiedAndServed() {
    Http.Text byTag = Http.get(jitdi.url() + "/v2/team/tools/manifests/1.0",
        Map.of("Accept", "application/vnd.oci.image.manifest.v1+json"));
    String digest = byTag.header("Docker-Content-Digest");
    Http.Text byDigest = Http.get(jitdi.url() + "/v2/team/tools/manifests/" + digest);
    assertEquals(200, byDigest.status());
    assertEquals(byTag.body(), byDigest.body());
  }

  @Test
  void aFirstPathSegmentNamingAnUpstreamRoutesThere() {
    String ghcrDigest = digestAt(ghcr.url(), "team/tools", "1.0");
    String hubDigest = digestAt(upstream.url(), "team/tools", "1.0");
    assertNotEquals(hubDigest, ghcrDigest, "the two upstreams hold different images under the same name");
    long hubBefore = manifestRequests(upstream, "team/tools");
    long ghcrBefore = manifestRequests(ghcr, "team/tools");

    String out = skopeo("inspect", "--tls-verify=false", "docker://" + jitdi.hostPort() + "/ghcr.io/team/tools:1.0");
    assertEquals(ghcrDigest, new io.vertx.core.json.JsonObject(out).getString("Digest"), "ghcr.io's image: " + out);
    assertTrue(manifestRequests(ghcr, "team/tools") > ghcrBefore, "ghcr.io's upstream was asked");
    assertEquals(hubBefore, manifestRequests(upstream, "team/tools"), "docker.io's upstream was not asked");

    Http.Text hub = Http.get(jitdi.url() + "/v2/team/tools/manifests/1.0",
        Map.of("Accept", "application/vnd.oci.image.manifest.v1+json"));
    assertEquals(hubDigest, hub.header("Docker-Content-Digest"), "without a prefix: the default upstream, docker.io");
    Http.Text prefixed = Http.get(jitdi.url() + "/v2/docker.io/team/tools/manifests/1.0",
        Map.of("Accept", "application/vnd.oci.image.manifest.v1+json"));
    assertEquals(hubDigest, prefixed.header("Docker-Content-Digest"), "a docker.io/ prefix: docker.io");
  }

  @Test
  void aOneComponentNameOnDockerHubGetsLibrary() {
    Http.Text r = Http.get(jitdi.url() + "/v2/busybox/manifests/latest",
        Map.of("Accept", "application/vnd.oci.image.manifest.v1+json"));
    assertEquals(200, r.status());
  }

  @Test
  void tagsListIsPassedThrough() {
    Http.Text r = Http.get(jitdi.url() + "/v2/library/busybox/tags/list");
    assertEquals(200, r.status());
    assertTrue(r.body().contains("\"latest\"") && r.body().contains("\"latest-v2s2\""), r.body());
    Http.Text paged = Http.get(jitdi.url() + "/v2/library/busybox/tags/list?n=1&last=a");
    assertEquals(200, paged.status());
    assertEquals(1, upstream.requests("GET", "/v2/library/busybox/tags/list?n=1&last=a"), "query forwarded as given");
    assertEquals(400, Http.get(jitdi.url() + "/v2/library/busybox/tags/list?n=lots").status());
  }

  @Test
  void cachedBlobsAreServedOverHttp1AndOverHttp2Cleartext() throws Exception {
    Images.Pushed image = Images.pushRandomImage(upstream, dir, "protocols/blob", "v1", 3 << 20, 5);
    String url = jitdi.url() + "/v2/protocols/blob/blobs/" + image.layer();
    assertEquals(image.layer(), Http.stream(url).digest(), "first GET fills the cache");
    for (java.net.http.HttpClient.Version version : java.net.http.HttpClient.Version.values()) {
      java.net.http.HttpClient client = java.net.http.HttpClient.newBuilder().version(version).build();
      var response = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url)).build(),
          java.net.http.HttpResponse.BodyHandlers.ofByteArray());
      assertEquals(200, response.statusCode(), version.toString());
      assertEquals(version, response.version(), "negotiated " + version);
      assertEquals(image.layer(), io.jitdi.oci.Digest.sha256Of(response.body()), version.toString());
      var range = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url))
          .header("Range", "bytes=5-9").build(), java.net.http.HttpResponse.BodyHandlers.ofByteArray());
      assertEquals(206, range.statusCode(), version.toString());
      assertEquals(5, range.body().length, version.toString());
    }
    assertEquals(1, upstream.blobGets("protocols/blob", image.layer()));
  }

  @Test
  void theBaseEndpointAndHealthAnswer() {
    Http.Text base = Http.get(jitdi.url() + "/v2/");
    assertEquals(200, base.status());
    assertEquals("{}", base.body());
    assertEquals("registry/2.0", base.header("Docker-Distribution-API-Version"));
    assertEquals(200, Http.get(jitdi.url() + "/healthz").status());
    assertEquals(200, Http.get(jitdi.url() + "/readyz").status());
  }

  @Test
  void podmanPullsDockerHubNamesThroughARegistriesConfMirror() throws Exception {
    // an image that only this test asks for: podman can get it from nowhere but jitdi, whose upstream has it
    Images.pushBusybox(upstream, "podman/tools", "1.0");
    String digest = digestAt(upstream.url(), "podman/tools", "1.0");
    // the registries.conf of the README: docker.io mirrored by jitdi, with the registry as first path segment
    Podman podman = Podman.mirroring(dir.resolve("podman"), jitdi.hostPort());
    long logStart = jitdi.log().length();
    long upstreamBefore = manifestRequests(upstream, "podman/tools");
    Proc.Result r = podman.run("pull", "docker.io/podman/tools:1.0");
    assertEquals(0, r.exit(), r.output());
    Proc.Result listed = podman.run("images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}");
    assertTrue(listed.output().contains("docker.io/podman/tools:1.0 " + digest), listed.output());

    // evidence from this pull only: jitdi's access log since the pull started, and the upstream behind jitdi
    String served = jitdi.log().substring((int) logStart);
    assertTrue(served.contains("GET /v2/{name}/manifests/{reference} 200"), "jitdi served the manifest:\n" + served);
    assertTrue(served.contains("GET /v2/{name}/blobs/{digest} 200"), "jitdi served the blobs:\n" + served);
    assertTrue(manifestRequests(upstream, "podman/tools") > upstreamBefore,
        "jitdi asked its upstream for podman/tools on podman's behalf");
  }
}
