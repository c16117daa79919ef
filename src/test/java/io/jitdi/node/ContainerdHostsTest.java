package io.jitdi.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.node.ContainerdHosts.Outcome;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContainerdHostsTest {
  @TempDir
  Path dir;

  @Test
  void eachRegistryGetsTheMirrorFirstAndItselfAsFallback() throws IOException {
    ContainerdHosts hosts = new ContainerdHosts(dir, "http://127.0.0.1:8888/");
    hosts.apply(List.of("docker.io", "ghcr.io", "registry.local:5000", "_default"), false);
    assertEquals("""
        # written by jitdi containerd-config; remove with: jitdi containerd-config --remove
        server = "https://registry-1.docker.io"

        [host."http://127.0.0.1:8888"]
          capabilities = ["pull", "resolve"]
        """, Files.readString(dir.resolve("docker.io/hosts.toml")));
    assertTrue(Files.readString(dir.resolve("ghcr.io/hosts.toml")).contains("server = \"https://ghcr.io\""));
    assertTrue(Files.readString(dir.resolve("registry.local:5000/hosts.toml"))
        .contains("server = \"https://registry.local:5000\""));
    assertTrue(!Files.readString(dir.resolve("_default/hosts.toml")).contains("server ="),
        "the default entry has no server of its own");
  }

  @Test
  void applyingTwiceChangesNothingAndLeavesNoTempFiles() throws IOException {
    ContainerdHosts hosts = new ContainerdHosts(dir, "http://127.0.0.1:8888");
    assertEquals(Outcome.WRITTEN, hosts.apply(List.of("docker.io"), false).get(0).outcome());
    long modified = Files.getLastModifiedTime(dir.resolve("docker.io/hosts.toml")).toMillis();
    assertEquals(Outcome.UNCHANGED, hosts.apply(List.of("docker.io"), false).get(0).outcome());
    assertEquals(modified, Files.getLastModifiedTime(dir.resolve("docker.io/hosts.toml")).toMillis());
    try (var files = Files.list(dir.resolve("docker.io"))) {
      assertEquals(List.of(dir.resolve("docker.io/hosts.toml")), files.toList());
    }
  }

  @Test
  void aNewMirrorReplacesTheFileJitdiWrote() throws IOException {
    new ContainerdHosts(dir, "http://127.0.0.1:8888").apply(List.of("docker.io"), false);
    assertEquals(Outcome.WRITTEN,
        new ContainerdHosts(dir, "http://10.0.0.5:8888").apply(List.of("docker.io"), false).get(0).outcome());
    assertTrue(Files.readString(dir.resolve("docker.io/hosts.toml")).contains("[host.\"http://10.0.0.5:8888\"]"));
  }

  @Test
  void someoneElsesHostsFileIsNeverOverwrittenOrRemovedUnlessForced() throws IOException {
    Path theirs = Files.createDirectories(dir.resolve("docker.io")).resolve("hosts.toml");
    Files.writeString(theirs, "server = \"https://mirror.corp\"\n");
    ContainerdHosts hosts = new ContainerdHosts(dir, "http://127.0.0.1:8888");
    IOException refused = assertThrows(IOException.class, () -> hosts.apply(List.of("docker.io"), false));
    assertTrue(refused.getMessage().contains(theirs.toString()) && refused.getMessage().contains("--force"),
        refused.getMessage());
    assertEquals("server = \"https://mirror.corp\"\n", Files.readString(theirs));
    assertEquals(Outcome.UNCHANGED, hosts.remove(List.of("docker.io")).get(0).outcome());
    assertTrue(Files.exists(theirs));
    assertEquals(Outcome.WRITTEN, hosts.apply(List.of("docker.io"), true).get(0).outcome());
  }

  @Test
  void removeDeletesOnlyWhatItWroteAndEmptyDirectories() throws IOException {
    ContainerdHosts hosts = new ContainerdHosts(dir, "http://127.0.0.1:8888");
    hosts.apply(List.of("docker.io", "ghcr.io"), false);
    Files.writeString(dir.resolve("ghcr.io/ca.crt"), "a certificate someone placed here");
    List<ContainerdHosts.Change> removed = hosts.remove(List.of("docker.io", "ghcr.io", "quay.io"));
    assertEquals(List.of(Outcome.REMOVED, Outcome.REMOVED, Outcome.ABSENT),
        removed.stream().map(ContainerdHosts.Change::outcome).toList());
    assertTrue(Files.notExists(dir.resolve("docker.io")));
    assertTrue(Files.exists(dir.resolve("ghcr.io/ca.crt")), "a directory with other files stays");
  }

  @Test
  void badRegistriesAndMirrorsAreRejectedWithTheFix() {
    for (String bad : List.of("Docker.io", "../etc", "docker.io/library", "", "a..b", "host:port")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ContainerdHosts.checkRegistry(bad), bad);
      assertTrue(e.getMessage().contains("host[:port]"), e.getMessage());
    }
    for (String bad : List.of("127.0.0.1:8888", "ftp://h:1", "http://h:1/v2", "http://h:1?x=1")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new ContainerdHosts(dir, bad), bad);
      assertTrue(e.getMessage().contains("http://127.0.0.1:8888"), e.getMessage());
    }
  }
}
