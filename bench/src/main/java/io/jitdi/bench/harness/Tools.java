package io.jitdi.bench.harness;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The programs the bench runs. {@link #require()} installs the missing Debian packages when running as root, and
 * otherwise fails with the exact install line.
 */
public final class Tools {
  /** command → the Debian package that provides it. */
  private static final Map<String, String> COMMANDS = Map.of("docker-registry", "docker-registry", "skopeo", "skopeo",
      "umoci", "umoci", "busybox", "busybox-static", "containerd", "containerd", "ctr", "containerd", "runc", "runc",
      "curl", "curl", "openssl", "openssl", "wrk", "wrk");

  private Tools() {}

  /** Makes sure every program the bench runs is on the PATH, installing the missing ones if this is root. */
  public static void require() {
    Set<String> missing = missing();
    if (missing.isEmpty()) {
      return;
    }
    String line = "apt-get install -y --no-install-recommends " + String.join(" ", missing);
    if (!"0".equals(Proc.run(Duration.ofSeconds(10), List.of("id", "-u")).trim())) {
      throw new IllegalStateException("the bench needs " + missing + "; install them with: sudo apt-get update && "
          + "sudo " + line);
    }
    Proc.run(Duration.ofMinutes(20), List.of("apt-get", "update", "-q"));
    Proc.run(Duration.ofMinutes(20), List.of("sh", "-c", "DEBIAN_FRONTEND=noninteractive " + line));
    if (!missing().isEmpty()) {
      throw new IllegalStateException("apt-get could not install " + missing() + "; run: " + line);
    }
  }

  private static Set<String> missing() {
    Set<String> missing = new LinkedHashSet<>();
    COMMANDS.forEach((command, debianPackage) -> {
      if (which(command) == null) {
        missing.add(debianPackage);
      }
    });
    return missing;
  }

  /** The absolute path of {@code command} on the PATH (or in the sbin and bin directories), or null. */
  public static Path which(String command) {
    List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
    dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
    for (String dir : dirs) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) {
        return Path.of(dir, command);
      }
    }
    return null;
  }
}
