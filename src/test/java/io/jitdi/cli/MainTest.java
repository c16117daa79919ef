package io.jitdi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
  @TempDir
  Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8)).status();
  }

  @Test
  void helpPrintsUsage() {
    assertEquals(0, run("--help"));
    assertTrue(out.toString(StandardCharsets.UTF_8).contains("--config FILE"));
  }

  @Test
  void anInvalidConfigPrintsFileAndLineAndExits2() throws Exception {
    Path config = dir.resolve("bad.yaml");
    Files.writeString(config, "cache:\n  dir: ./d\n  maxSize: huge\nupstreams: {docker.io: {url: https://x.io}}\n");
    assertEquals(2, run("--config", config.toString()));
    assertTrue(err.toString(StandardCharsets.UTF_8).contains(config + ":3: cache.maxSize"), err.toString());
  }

  @Test
  void unknownOptionsAndCommandsExit2() {
    assertEquals(2, run("--frobnicate"));
    assertEquals(2, run("launch"));
    assertEquals(2, run("--config"));
  }

  @Test
  void containerdConfigNeedsNoConfigAndExplainsBadArguments() throws Exception {
    assertEquals(0, run("containerd-config", "--registries", "docker.io", "--dir", dir.toString()));
    assertTrue(Files.exists(dir.resolve("docker.io/hosts.toml")));
    assertEquals(2, run("containerd-config", "--dir", dir.toString()));
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("--registries is required"));
    assertEquals(2, run("containerd-config", "--registries", "Docker.IO/x", "--dir", dir.toString()));
    assertEquals(2, run("containerd-config", "--registries", "docker.io", "--mirror", "localhost"));
  }

  @Test
  void containerdConfigRefusesToReplaceAForeignFileAndExits1() throws Exception {
    Files.createDirectories(dir.resolve("ghcr.io"));
    Files.writeString(dir.resolve("ghcr.io/hosts.toml"), "server = \"https://ghcr.io\"\n");
    assertEquals(1, run("containerd-config", "--registries", "ghcr.io", "--dir", dir.toString()));
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("--force"));
  }

  @Test
  void cacheNeedsImportOrExportWithTheirOperands() {
    assertEquals(2, run("cache"));
    assertEquals(2, run("cache", "import"));
    assertEquals(2, run("cache", "export", "docker.io/library/busybox:latest"));
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("cache export REGISTRY/NAME:TAG... -o DIR"));
  }
}
