package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * containerd pulls through jitdi as a node's hosts.toml mirror, and runs what it pulled. The tests share one jitdi and
 * one containerd but no image content, and each counts only its own evidence (its repository, deltas around its own
 * pulls, jitdi's log from an offset taken at its start), so they pass in any order.
 */
class ContainerdIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static Jitdi jitdi;
  static Containerd containerd;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    Images.pushBusybox(upstream, "library/busybox", "latest");
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(upstream.url(), "1GiB"));
    containerd = Containerd.start(dir.resolve("ctrd"));
    // the fallback server resets every connection: the pull can only succeed through the mirror
    containerd.mirror("docker.io", jitdi.url(), Ports.deadEnd());
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(containerd, jitdi, upstream);
  }

  @Test
  void pullsDockerHubNamesThroughTheMirrorWithNsAndRunsThem() {
    String ref = "docker.io/library/busybox:latest";
    String blobs = "/v2/library/busybox/blobs/";
    int logMark = jitdi.log().length();
    long getsBefore = upstream.requests("GET", blobs);
    containerd.pull(ref);
    String out = containerd.run(ref, "ctr-it-1", "/bin/echo", "hello from jitdi");
    assertTrue(out.contains("hello from jitdi"), out);

    String log = jitdi.log().substring(logMark);
    assertTrue(log.lines().anyMatch(l -> l.contains("HEAD /v2/{name}/manifests/{reference} 200")),
        "containerd's HEAD was answered: " + Tools.tail(log, 2000));
    assertTrue(log.contains("ns=docker.io"), "with ?ns=docker.io: " + Tools.tail(log, 2000));
    assertEquals(2, upstream.requests("GET", blobs) - getsBefore, "config and layer fetched once");

    containerd.remove(ref);
    AssertionError gone = assertThrows(AssertionError.class, () -> containerd.remove(ref), "removing it twice fails");
    assertTrue(gone.getMessage().contains("not found"), gone.getMessage());
    Metrics before = jitdi.metrics();
    containerd.pull(ref);
    Metrics after = jitdi.metrics();
    assertEquals(2, upstream.requests("GET", blobs) - getsBefore, "a second node-local pull is all cache");
    assertEquals(2, after.value("jitdi_cache_requests_total", "kind", "blob", "result", "hit")
        - before.value("jitdi_cache_requests_total", "kind", "blob", "result", "hit"), 0.0,
        "the removed config and layer came from jitdi's cache");
  }

  /**
   * Pushes a one-layer image of its own (an uncompressed tar holding one file), so that no other test shares its
   * config or layer; returns the number of its blobs.
   */
  private static int pushOwnImage(String repo, String tag, String text) throws Exception {
    Path root = Files.createDirectories(dir.resolve("rootfs-" + repo.replace('/', '_')));
    Files.writeString(root.resolve("hello.txt"), text);
    Path tar = dir.resolve("layer-" + repo.replace('/', '_') + ".tar");
    Proc.run(Duration.ofMinutes(1), List.of("tar", "-C", root.toString(), "-cf", tar.toString(), "hello.txt"));
    byte[] layer = Files.readAllBytes(tar);
    Digest layerDigest = upstream.pushBlob(repo, layer);
    byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\""
        + layerDigest + "\"]},\"config\":{}}").getBytes(StandardCharsets.UTF_8);
    Digest configDigest = upstream.pushBlob(repo, config);
    byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest
        + "\",\"size\":" + config.length + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
        + "\"digest\":\"" + layerDigest + "\",\"size\":" + layer.length + "}]}").getBytes(StandardCharsets.UTF_8);
    upstream.pushManifest(repo, tag, manifest, "application/vnd.oci.image.manifest.v1+json");
    return 2;
  }

  private static Proc.Result containerdConfig(String... args) {
    List<String> all = new java.util.ArrayList<>(List.of("containerd-config"));
    all.addAll(List.of(args));
    return Jitdi.runJar(all.toArray(String[]::new));
  }

  @Test
  void hostsFilesWrittenByContainerdConfigMakeContainerdPullThroughJitdi() throws Exception {
    Path certs = dir.resolve("certs-by-jitdi");
    Proc.Result written = containerdConfig("--registries", "docker.io,ghcr.io", "--mirror", jitdi.url(), "--dir",
        certs.toString());
    assertEquals(0, written.exit(), written.output());
    assertTrue(Files.readString(certs.resolve("docker.io/hosts.toml")).contains("server = \"https://registry-1.docker.io\""),
        "docker.io falls back to Docker Hub itself");

    // the fallback (Docker Hub) is unreachable from here: the pull can only succeed through jitdi
    int blobCount = pushOwnImage("team/wired", "v1", "pulled through hosts.toml written by jitdi\n");
    long manifestGets = upstream.requests("GET", "/v2/team/wired/manifests/");
    long blobGets = upstream.requests("GET", "/v2/team/wired/blobs/");
    containerd.check(containerd.exec("images", "pull", "--hosts-dir", certs.toString(), "docker.io/team/wired:v1"),
        "pull through the written hosts.toml");
    assertTrue(upstream.requests("GET", "/v2/team/wired/manifests/") - manifestGets >= 1,
        "the manifest came from the upstream only jitdi knows");
    assertEquals(blobCount, upstream.requests("GET", "/v2/team/wired/blobs/") - blobGets,
        "and so did its config and layer");

    Proc.Result again = containerdConfig("--registries", "docker.io,ghcr.io", "--mirror", jitdi.url(), "--dir",
        certs.toString());
    assertEquals(0, again.exit(), again.output());
    assertTrue(again.output().contains("unchanged " + certs.resolve("docker.io/hosts.toml")), again.output());

    Proc.Result removed = containerdConfig("--registries", "docker.io,ghcr.io", "--dir", certs.toString(), "--remove");
    assertEquals(0, removed.exit(), removed.output());
    assertTrue(Files.notExists(certs.resolve("docker.io")) && Files.notExists(certs.resolve("ghcr.io")),
        "uninstall leaves nothing behind");
  }
}
