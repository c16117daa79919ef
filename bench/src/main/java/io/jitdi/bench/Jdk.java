package io.jitdi.bench;

import io.jitdi.bench.harness.Proc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A JDK to run jitdi on: {@code java} is its launcher; {@code suffix} marks its rows' ids (2b, 2d-b, 5b); a JDK that
 * was not found has {@code java} null and {@code absent} saying where it was looked for.
 */
record Jdk(String name, String java, String suffix, String absent) {
  /** The environment variable that names the JDK 25 to use: its home, or its {@code java}. */
  static final String VARIABLE = "JITDI_BENCH_JDK25";

  /** The JDK that runs the bench (the default {@code java}). */
  static Jdk current() {
    return new Jdk("JDK " + Runtime.version().feature(), Path.of(System.getProperty("java.home"), "bin", "java")
        .toString(), "", null);
  }

  /**
   * The JDK 25 (Temurin's on this machine) to run jitdi on beside the default one: the one {@value #VARIABLE} names
   * when it is set, else the first {@code java} whose {@code -version} says 25 among
   * {@code update-alternatives --list java}, then {@code /usr/lib/jvm/<each>/bin/java}; an absent one (not found)
   * says where it was looked for.
   *
   * @throws IllegalStateException when {@value #VARIABLE} is set to something that is not a JDK 25
   */
  static Jdk find25() {
    String named = System.getenv(VARIABLE);
    if (named != null && !named.isBlank()) {
      Path path = Path.of(named);
      Jdk jdk = jdk25(Files.isRegularFile(path) ? path : path.resolve("bin/java"));
      if (jdk == null) {
        throw new IllegalStateException(VARIABLE + "=" + named + ": neither it nor its bin/java is a java whose "
            + "-version says 25");
      }
      return jdk;
    }
    Set<Path> candidates = new LinkedHashSet<>();
    try {
      Proc.Result alternatives = Proc.exec(Duration.ofSeconds(10), List.of("update-alternatives", "--list", "java"));
      if (alternatives.exit() == 0) {
        alternatives.output().lines().filter(l -> !l.isBlank()).map(Path::of).forEach(candidates::add);
      }
    } catch (RuntimeException e) {
      // no update-alternatives on this system
    }
    try (var homes = Files.list(Path.of("/usr/lib/jvm"))) {
      homes.sorted().map(home -> home.resolve("bin/java")).forEach(candidates::add);
    } catch (IOException e) {
      // no /usr/lib/jvm
    }
    for (Path java : candidates) {
      Jdk jdk = jdk25(java);
      if (jdk != null) {
        return jdk;
      }
    }
    return new Jdk("JDK 25", null, "b", VARIABLE + " unset, and no java in update-alternatives --list java or "
        + "/usr/lib/jvm/*/bin/java (" + candidates.size() + " looked at) says version 25");
  }

  /** The JDK of launcher {@code java} when its {@code -version} says 25, else null. */
  private static Jdk jdk25(Path java) {
    if (!Files.isExecutable(java)) {
      return null;
    }
    Proc.Result version = Proc.exec(Duration.ofSeconds(30), List.of(java.toString(), "-version"));
    if (version.exit() != 0 || !version.output().matches("(?s).*version \"25[.\"].*")) {
      return null;
    }
    return new Jdk(version.output().contains("Temurin") ? "Temurin 25" : "JDK 25", java.toString(), "b", null);
  }

  /** The reason shown in the rows of a JDK that was not found. */
  String notRun() {
    return "no " + name + " found (set " + VARIABLE + ")";
  }

  /** Its name as a file name part. */
  String tag() {
    return name.replace(' ', '-');
  }

  /** The id of its row of {@code figure}: 2 → 2b, 2d → 2d-b (the default JDK's are the figure's own). */
  String id(String figure) {
    return figure + (suffix.isEmpty() ? "" : figure.length() == 1 ? suffix : "-" + suffix);
  }
}
