package io.jitdi.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The real programs the integration tests drive. {@link #require()} installs the missing Debian packages when running
 * as root, and otherwise fails with the exact install line. It never lets a test skip.
 */
public final class Tools {
  /** command → the Debian package that provides it. */
  static final Map<String, String> COMMANDS = new LinkedHashMap<>();

  static {
    COMMANDS.put("docker-registry", "docker-registry");
    COMMANDS.put("skopeo", "skopeo");
    COMMANDS.put("umoci", "umoci");
    COMMANDS.put("busybox", "busybox-static");
    COMMANDS.put("containerd", "containerd");
    COMMANDS.put("ctr", "containerd");
    COMMANDS.put("runc", "runc");
    COMMANDS.put("prometheus", "prometheus");
    COMMANDS.put("promtool", "prometheus");
    COMMANDS.put("podman", "podman");
    COMMANDS.put("curl", "curl");
    COMMANDS.put("openssl", "openssl");
    COMMANDS.put("chromium", "chromium");
  }

  private static boolean checked;

  private Tools() {}

  /** Makes sure every tool is on the PATH, installing them if this is root. */
  public static synchronized void require() {
    if (checked) {
      return;
    }
    install(missingPackages(), Tools::missingPackages);
    checked = true;
  }

  /**
   * Makes sure one more command that no test runs is on the PATH (the benchmark's wrk): installs its Debian package
   * if this is root, and otherwise fails with the exact install line.
   */
  public static synchronized void requireCommand(String command, String debianPackage) {
    install(which(command) == null ? Set.of(debianPackage) : Set.of(),
        () -> which(command) == null ? Set.of(debianPackage) : Set.of());
  }

  private static void install(Set<String> missing, java.util.function.Supplier<Set<String>> stillMissing) {
    if (missing.isEmpty()) {
      return;
    }
    String line = "apt-get install -y --no-install-recommends " + String.join(" ", missing);
    if (!isRoot()) {
      throw new AssertionError("this needs " + missing + "; install them with: sudo apt-get update && sudo " + line);
    }
    run(List.of("apt-get", "update", "-q"));
    run(List.of("sh", "-c", "DEBIAN_FRONTEND=noninteractive " + line));
    Set<String> still = stillMissing.get();
    if (!still.isEmpty()) {
      throw new AssertionError("apt-get could not install " + still + "; run: " + line);
    }
  }

  private static Set<String> missingPackages() {
    Set<String> missing = new LinkedHashSet<>();
    for (Map.Entry<String, String> e : COMMANDS.entrySet()) {
      if (which(e.getKey()) == null) {
        missing.add(e.getValue());
      }
    }
    return missing;
  }

  /** The absolute path of {@code command} on the PATH, or null. */
  public static Path which(String command) {
    List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
    dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
    for (String dir : dirs) {
      if (dir.isEmpty()) {
        continue;
      }
      Path p = Path.of(dir, command);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  static boolean isRoot() {
    try {
      Process p = new ProcessBuilder("id", "-u").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes()).trim();
      p.waitFor(10, TimeUnit.SECONDS);
      return out.equals("0");
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void run(List<String> command) {
    try {
      Path log = Files.createTempFile("jitdi-apt", ".log");
      Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      if (!p.waitFor(20, TimeUnit.MINUTES) || p.exitValue() != 0) {
        throw new AssertionError(String.join(" ", command) + " failed:\n" + tail(Files.readString(log), 3000));
      }
      Files.delete(log);
    } catch (IOException e) {
      throw new AssertionError("cannot run " + command + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /**
   * A new directory under {@code parent} (the JVM's temp directory when null) that is removed with everything in it
   * when the test JVM exits: for what fixtures build once per JVM or must keep short paths for (podman's runroot).
   */
  public static Path scratchDir(Path parent, String prefix) {
    try {
      Path dir = parent == null ? Files.createTempDirectory(prefix) : Files.createTempDirectory(parent, prefix);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir)));
      return dir;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static void deleteTree(Path dir) {
    try (java.util.stream.Stream<Path> all = Files.walk(dir)) {
      all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | java.io.UncheckedIOException e) {
      // best effort at exit
    }
  }

  static String tail(String s, int n) {
    return s.length() <= n ? s : s.substring(s.length() - n);
  }

  /** Closes each of {@code resources} that is not null, in order, whatever the others do (for @AfterAll). */
  public static void closeAll(AutoCloseable... resources) {
    for (AutoCloseable c : resources) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        System.err.println("closing " + c + ": " + e);
      }
    }
  }
}
