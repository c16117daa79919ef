package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nodes without a network: images copied by skopeo into an OCI layout (and an oci-archive) on a connected machine
 * are loaded with {@code jitdi cache import} into a node whose upstream cannot be reached, which then serves them;
 * {@code jitdi cache export} writes them out again, and that layout imports into another node. Bad layouts are
 * refused before anything is written.
 */
class AirGapIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static String unreachable;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    Images.pushBusybox(upstream, "library/busybox", "latest");
    Images.pushRandomImage(upstream, dir, "team/app", "v1", 8L << 20, 21);
    // the nodes' docker.io upstream: a port nothing listens on
    unreachable = Ports.deadEnd();
  }

  @AfterAll
  static void stop() {
    if (upstream != null) {
      upstream.close();
    }
  }

  private static void skopeo(String from, String to) {
    for (String ref : List.of(from, to)) {
      if (ref.startsWith("oci:") || ref.startsWith("oci-archive:")) {
        String path = ref.substring(ref.indexOf(':') + 1);
        try {
          Files.createDirectories(Path.of(path.substring(0, path.indexOf(':'))).getParent());
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    }
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
        from, to));
  }

  private static String digestOf(String ref) {
    return Proc.run(Duration.ofMinutes(1), List.of("skopeo", "inspect", "--no-tags", "--tls-verify=false", "--format",
        "{{.Digest}}", ref)).trim();
  }

  /** Runs {@code jitdi cache ...} as its own process against the node's config. */
  private static Proc.Result cache(Path node, String... args) throws Exception {
    Path config = node.resolve("offline.yaml");
    if (!Files.exists(config)) {
      Files.createDirectories(node);
      Files.writeString(config, Jitdi.config(unreachable, "1GiB").replace("CACHE_DIR", node.resolve("cache")
          .toString()).replace("PORT", "8888"));
    }
    List<String> all = new ArrayList<>(List.of("cache"));
    all.addAll(List.of(args));
    all.addAll(List.of("--config", config.toString()));
    return Jitdi.runJar(all.toArray(String[]::new));
  }

  private static long cachedBlobs(Path node) throws Exception {
    Path blobs = node.resolve("cache/blobs");
    if (!Files.exists(blobs)) {
      return 0;
    }
    try (Stream<Path> files = Files.walk(blobs)) {
      return files.filter(Files::isRegularFile).count();
    }
  }

  @Test
  void importedImagesAreServedWithoutAnUpstreamAndExportRoundTrips() throws Exception {
    Path layout = dir.resolve("usb/images");
    String busybox = "docker://127.0.0.1:" + upstream.port() + "/library/busybox:latest";
    String app = "docker://127.0.0.1:" + upstream.port() + "/team/app:v1";
    skopeo(busybox, "oci:" + layout + ":docker.io/library/busybox:latest");
    Path archive = dir.resolve("usb/app.tar");
    skopeo(app, "oci-archive:" + archive + ":docker.io/team/app:v1");

    Path node = dir.resolve("node");
    Proc.Result imported = cache(node, "import", layout.toString());
    assertEquals(0, imported.exit(), imported.output());
    assertTrue(imported.output().contains("imported docker.io/library/busybox:latest"), imported.output());
    Proc.Result fromTar = cache(node, "import", archive.toString());
    assertEquals(0, fromTar.exit(), fromTar.output());
    try (Stream<Path> tmp = Files.list(node.resolve("cache/tmp"))) {
      assertEquals(0, tmp.count(), "the unpacked archive is gone");
    }

    try (Jitdi jitdi = Jitdi.start(node, Jitdi.config(unreachable, "1GiB"))) {
      skopeo("docker://" + jitdi.hostPort() + "/library/busybox:latest", "oci:" + dir.resolve("pulled") + ":b");
      skopeo("docker://" + jitdi.hostPort() + "/team/app:v1", "oci:" + dir.resolve("pulled") + ":a");
      assertEquals(digestOf("oci:" + layout + ":docker.io/library/busybox:latest"),
          digestOf("docker://" + jitdi.hostPort() + "/library/busybox:latest"), "served as imported");
      assertEquals(digestOf("oci-archive:" + archive + ":docker.io/team/app:v1"),
          digestOf("docker://" + jitdi.hostPort() + "/team/app:v1"));
    }

    Path exported = dir.resolve("exported");
    Proc.Result export = cache(node, "export", "docker.io/library/busybox:latest", "docker.io/team/app:v1", "-o",
        exported.toString());
    assertEquals(0, export.exit(), export.output());
    assertEquals(digestOf("oci:" + layout + ":docker.io/library/busybox:latest"),
        digestOf("oci:" + exported + ":docker.io/library/busybox:latest"));

    Path second = dir.resolve("second-node");
    Proc.Result again = cache(second, "import", exported.toString());
    assertEquals(0, again.exit(), again.output());
    try (Jitdi jitdi = Jitdi.start(second, Jitdi.config(unreachable, "1GiB"))) {
      skopeo("docker://" + jitdi.hostPort() + "/team/app:v1", "oci:" + dir.resolve("pulled-second") + ":a");
    }
  }

  @Test
  void aLayoutWithAMissingBlobOrAnIncompleteNameIsRefusedAndNothingIsWritten() throws Exception {
    Path layout = dir.resolve("broken/images");
    skopeo("docker://127.0.0.1:" + upstream.port() + "/team/app:v1", "oci:" + layout + ":docker.io/team/app:v1");
    Path biggest;
    try (Stream<Path> blobs = Files.list(layout.resolve("blobs/sha256"))) {
      biggest = blobs.max((a, b) -> Long.compare(a.toFile().length(), b.toFile().length())).orElseThrow();
    }
    Files.delete(biggest);
    Path node = dir.resolve("broken-node");
    Proc.Result refused = cache(node, "import", layout.toString());
    assertEquals(1, refused.exit(), refused.output());
    assertTrue(refused.output().contains(biggest.getFileName().toString()) && refused.output().contains("missing"),
        refused.output());
    assertEquals(0, cachedBlobs(node), "nothing was imported");

    Path unnamed = dir.resolve("unnamed/images");
    skopeo("docker://127.0.0.1:" + upstream.port() + "/team/app:v1", "oci:" + unnamed + ":v1");
    Proc.Result noName = cache(node, "import", unnamed.toString());
    assertEquals(1, noName.exit(), noName.output());
    assertTrue(noName.output().contains("full reference"), noName.output());
    assertEquals(0, cachedBlobs(node));
  }
}
