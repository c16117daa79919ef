package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** containerd pulls through jitdi as a node's hosts.toml mirror, and runs what it pulled. */
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
    Images.pushBusybox(upstream, "team/wired", "v1");
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(upstream.url(), "1GiB"));
    containerd = Containerd.start(dir.resolve("ctrd"));
    // the fallback server is a closed port: the pull can only succeed through the mirror
    containerd.mirror("docker.io", jitdi.url(), "http://127.0.0.1:" + Ports.free());
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(containerd, jitdi, upstream);
  }

  @Test
  void pullsDockerHubNamesThroughTheMirrorWithNsAndRunsThem() {
    containerd.pull("docker.io/library/busybox:latest");
    String out = containerd.run("docker.io/library/busybox:latest", "ctr-it-1", "/bin/echo", "hello from jitdi");
    assertTrue(out.contains("hello from jitdi"), out);

    String log = jitdi.log();
    assertTrue(log.contains("HEAD /v2/{name}/manifests/{reference} 200") && log.contains("ns=docker.io"),
        "containerd's HEAD with ?ns=docker.io was answered: " + Tools.tail(log, 2000));
    assertEquals(2, upstream.requests("GET", "/v2/library/busybox/blobs/"), "config and layer fetched once");

    containerd.remove("docker.io/library/busybox:latest");
    containerd.pull("docker.io/library/busybox:latest");
    assertEquals(2, upstream.requests("GET", "/v2/library/busybox/blobs/"), "a second node-local pull is all cache");
    Metrics m = jitdi.metrics();
    assertTrue(m.value("jitdi_cache_requests_total", "kind", "blob", "result", "hit") >= 2);
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
    containerd.check(containerd.exec("images", "pull", "--hosts-dir", certs.toString(), "docker.io/team/wired:v1"),
        "pull through the written hosts.toml");
    assertTrue(upstream.requests("GET", "/v2/team/wired/manifests/") >= 1,
        "the image came from the upstream only jitdi knows");

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
