package io.jitdi.bench;

import io.jitdi.bench.harness.Proc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The results as markdown (bench/RESULTS.md): a header (machine, command, peer, JDKs, and how figures were measured
 * where the table alone does not say), the table of rows in the order they were added, their notes, and then
 * bench/limits.md (written by hand) as it is.
 */
final class Report {
  static final Path LIMITS = Path.of("bench/limits.md");

  private final List<Row> rows = new ArrayList<>();
  private final List<String> methods = new ArrayList<>();

  void add(Row row) {
    rows.add(row);
  }

  /** A line of the header on how a figure was measured. */
  void method(String text) {
    methods.add(text);
  }

  /** Adds the row of {@code figure} for {@code jdk}, which was not found, as not run, and says so in the log. */
  void notRun(Jdk jdk, String figure, String name) {
    Rig.log(jdk.id(figure) + ": not run, " + jdk.notRun());
    add(Row.notRun(jdk.id(figure), name, jdk.notRun(), "looked for " + jdk.name() + ": " + jdk.absent()));
  }

  /**
   * The markdown for a run of {@code bench/run args} ({@code quick} with --quick) that took {@code seconds}, the rows
   * of which on a JDK 25 ran on {@code jdk25} (or not, when it was not found).
   */
  String render(String args, double seconds, boolean quick, Jdk jdk25) {
    StringBuilder md = new StringBuilder("# jitdi benchmark results\n\n");
    String cpu = Proc.exec(Duration.ofSeconds(10), List.of("sh", "-c",
        "lscpu | sed -n 's/^Model name: *//p'; nproc")).output().trim().replace("\n", ", ") + " cores";
    md.append("- date: ").append(ZonedDateTime.now().withNano(0)).append('\n');
    md.append("- CPU: ").append(cpu).append(", ").append(Runtime.getRuntime().maxMemory() >> 20)
        .append(" MiB heap for the harness\n");
    md.append("- command: `bench/run").append(args.isEmpty() ? "" : " " + args).append("` (").append(quick
        ? "quick: smaller blobs" : "full").append(", ").append(String.format(Locale.ROOT, "%.0f s", seconds))
        .append(")\n");
    md.append("- peer: CNCF distribution ").append(Proc.exec(Duration.ofSeconds(10), List.of("docker-registry",
        "--version")).output().trim().replaceAll(".* ", "")).append(" (Debian's docker-registry) in proxy mode; both "
        + "proxies in front of the same docker-registry upstream on loopback, each with a fresh cache where the "
        + "figure says so\n");
    md.append("- jitdi on ").append(System.getProperty("java.vm.name")).append(' ')
        .append(System.getProperty("java.version")).append(" unless a row says ").append(jdk25.name()).append(" (")
        .append(jdk25.absent() == null ? jdk25.java() : "not found: " + jdk25.absent())
        .append(")\n");
    md.append("- each figure is the median of ").append(Rig.RUNS).append(" runs, with min-max\n");
    methods.forEach(m -> md.append("- ").append(m).append('\n'));
    md.append("\n| # | figure | jitdi | peer | jitdi / peer | target | met |\n|---|---|---|---|---|---|---|\n");
    for (Row r : rows) {
      if (r.notRun() != null) {
        md.append(String.format(Locale.ROOT, "| %s | %s | not run: %s | - | - | - | - |%n", r.id(), r.name(),
            r.notRun()));
        continue;
      }
      md.append(String.format(Locale.ROOT, "| %s | %s | %s %s | %s: %s %s | %.2f | %s | %s |%n", r.id(), r.name(),
          Stats.summary(r.jitdi()), r.unit(), r.peerName(), Stats.summary(r.peer()), r.unit(),
          Stats.ratio(r.jitdi(), r.peer()), r.target(), r.met() == null ? "-" : r.met() ? "yes" : "**no**"));
    }
    md.append("\nNotes:\n\n");
    for (Row r : rows) {
      if (!r.note().isEmpty()) {
        md.append("- ").append(r.id()).append(": ").append(r.note()).append('\n');
      }
    }
    // the profiling notes are written by hand; they are kept with every regenerated result
    if (Files.exists(LIMITS)) {
      try {
        md.append('\n').append(Files.readString(LIMITS));
      } catch (IOException e) {
        md.append("\n(bench/limits.md unreadable: ").append(e).append(")\n");
      }
    }
    return md.toString();
  }
}
