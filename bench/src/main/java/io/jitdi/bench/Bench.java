package io.jitdi.bench;

import io.jitdi.bench.harness.Proc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * jitdi side by side with CNCF distribution (Debian's docker-registry) in proxy mode, in front of the same upstream,
 * in one run; writes bench/RESULTS.md. Every process binds to 127.0.0.1 and is stopped by PID, even when a step fails
 * or the run is interrupted; the work directory is deleted at the end. Run it with {@code bench/run}, from the top of
 * the checkout: options {@code --quick} (smaller blobs), {@code --only 2,3} (figures to run), {@code --out FILE}.
 */
public final class Bench {
  private Bench() {}

  /** A figure's measurement, adding its rows to the rig's report. */
  @FunctionalInterface
  private interface Step {
    void run() throws Exception;
  }

  /** A figure measured once for each JDK. */
  @FunctionalInterface
  private interface JdkStep {
    void run(Jdk jdk) throws Exception;
  }

  public static void main(String[] args) throws Exception {
    boolean quick = List.of(args).contains("--quick");
    Set<String> only = new TreeSet<>();
    Path out = Path.of("bench/RESULTS.md");
    for (int i = 0; i < args.length - 1; i++) {
      if (args[i].equals("--only")) {
        only.addAll(List.of(args[i + 1].split(",")));
      } else if (args[i].equals("--out")) {
        out = Path.of(args[i + 1]);
      }
    }
    Path work = Files.createTempDirectory("jitdi-bench");
    Rig rig = new Rig(quick, work);
    Map<String, Step> figures = figures(rig);
    if (!figures.keySet().containsAll(only)) {
      Files.delete(work);
      throw new IllegalArgumentException("--only " + only + ": the figures are " + figures.keySet());
    }
    Thread cleanup = new Thread(() -> {
      rig.closeAll();
      Proc.exec(Duration.ofMinutes(1), List.of("rm", "-rf", work.toString()));
    }, "bench-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    long started = System.nanoTime();
    try {
      rig.setUp();
      for (Map.Entry<String, Step> figure : figures.entrySet()) {
        if (only.isEmpty() || only.contains(figure.getKey())) {
          figure.getValue().run();
        }
      }
    } finally {
      Runtime.getRuntime().removeShutdownHook(cleanup);
      cleanup.run();
    }
    Files.writeString(out, rig.report.render(String.join(" ", args), (System.nanoTime() - started) / 1e9, quick,
        rig.jdk25()));
    System.out.println("wrote " + out);
  }

  /** The figures by the number {@code --only} names them with, in the order they run. */
  private static Map<String, Step> figures(Rig rig) {
    Map<String, Step> figures = new LinkedHashMap<>();
    figures.put("1", new Fig1WarmBlob(rig)::run);
    figures.put("2", onEachJdk(rig, new Fig2ColdBlob(rig)::run));
    figures.put("3", new Fig3ConcurrentCold(rig)::run);
    figures.put("4", new Fig4ManifestHead(rig)::run);
    figures.put("5", onEachJdk(rig, new Fig5JitBuild(rig)::run));
    figures.put("6", new Fig6PeakRss(rig)::run);
    figures.put("7", new Fig7ContainerdPull(rig)::run);
    Step ollama = onEachJdk(rig, new Fig8OllamaImage(rig)::run);
    Step modelPack = onEachJdk(rig, new Fig8mModelPackImage(rig)::run);
    figures.put("8", () -> {
      ollama.run();
      modelPack.run();
    });
    return figures;
  }

  /** {@code step} on the default JDK, then on JDK 25 (which marks its rows not run when it was not found). */
  private static Step onEachJdk(Rig rig, JdkStep step) {
    return () -> {
      step.run(rig.defaultJdk);
      step.run(rig.jdk25());
    };
  }
}
