package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
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
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(upstream.url(), "1GiB"));
    containerd = Containerd.start(dir.resolve("ctrd"));
    // the fallback server is a closed port: the pull can only succeed through the mirror
    containerd.mirror("docker.io", jitdi.url(), "http://127.0.0.1:" + Ports.free());
  }

  @AfterAll
  static void stop() {
    if (containerd != null) {
      containerd.close();
    }
    if (jitdi != null) {
      jitdi.close();
    }
    if (upstream != null) {
      upstream.close();
    }
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
}
