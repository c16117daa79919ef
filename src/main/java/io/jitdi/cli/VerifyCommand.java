package io.jitdi.cli;

import io.jitdi.cache.CacheDirectory;
import io.jitdi.cache.Reconciler;
import io.jitdi.config.JitdiConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Clock;

/**
 * {@code jitdi verify [--fix]}: re-hashes every blob and manifest of the cache and reports what is bad; with
 * {@code --fix}, removes it. Runs against a stopped cache (the index allows one process at a time). Exit status: 0
 * when the cache is clean (or was fixed), 1 when problems remain, 2 when the cache is in use.
 */
final class VerifyCommand {
  private VerifyCommand() {}

  static ExitCode run(JitdiConfig config, boolean fix, PrintStream out, PrintStream err) {
    CacheDirectory cache;
    try {
      cache = CacheDirectory.open(config.cache().dir());
    } catch (IllegalStateException e) {
      err.println("jitdi verify: " + e.getMessage() + "; stop jitdi before verifying its cache");
      return ExitCode.USAGE;
    }
    long started = System.nanoTime();
    Reconciler.Report report;
    try (cache) {
      report = cache.verify(Clock.systemUTC(), fix);
    } catch (IOException e) {
      err.println("jitdi verify: cannot read the cache at " + cache.root() + ": " + e.getMessage());
      return ExitCode.FAILED;
    }
    for (Reconciler.Problem p : report.problems()) {
      out.println((fix ? "removed  " : "bad      ") + p);
    }
    out.printf("%s: %d blobs (%d bytes) and manifests verified, %d problems%s in %.1fs%n", cache.root(),
        report.blobs(), report.bytes(), report.problems().size(), fix && !report.problems().isEmpty() ? " fixed" : "",
        (System.nanoTime() - started) / 1e9);
    return report.problems().isEmpty() || fix ? ExitCode.OK : ExitCode.FAILED;
  }
}
