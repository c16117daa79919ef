package io.jitdi.bench;

import static io.jitdi.bench.Rig.log;
import static io.jitdi.bench.Rig.mib;

import io.jitdi.bench.harness.Curl;
import io.jitdi.bench.harness.Jitdi;
import io.jitdi.bench.harness.Proc;
import io.jitdi.bench.harness.ProcFs;
import io.jitdi.bench.harness.ServerProcess;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * Figures 2, 2d, 2d-idle and 2c (2b, 2d-b and 2d-idle-b on JDK 25): a cold pull of the big blob. Each run starts both
 * proxies with empty caches and pulls the same blob through each (in alternating order). Figures 2 and 2d first pull
 * distinct warm-up blobs through the fresh process until its JIT compiler goes quiet ({@link Rig#warmUpUntilCompiled}),
 * so that it is past its start-up (JIT compilation of the serving path) and only the cache is cold: a node's proxy
 * runs for days; figure 2d is the proxy process's own CPU time for the cold pull. Figure 2c (default JDK only) is the
 * same pull as the very first request after the process started.
 */
final class Fig2ColdBlob {
  private final Rig rig;

  Fig2ColdBlob(Rig rig) {
    this.rig = rig;
  }

  /**
   * One cold pull: the client's time, the proxy's CPU seconds right after it and once it went idle again, and how many
   * GETs of the blob the proxy sent the upstream by then.
   */
  private record Pull(double seconds, double cpu, double cpuIdle, long upstreamGets, int warmupPulls,
      double compilerSeconds, double stolenSeconds) {}

  void run(Jdk jdk) {
    String blob = "cold pull of a " + mib(rig.big) + " MiB blob";
    String warmed = ", process warmed up until compiled (see notes; jitdi on " + jdk.name() + ")";
    String timeName = blob + ", fresh caches" + warmed;
    String cpuName = "proxy process CPU seconds (utime+stime) per GiB of a " + blob.substring(5) + warmed;
    String idleName = "the same CPU seconds, read once the proxy is idle again (blob stored; jitdi on " + jdk.name()
        + ")";
    if (jdk.absent() != null) {
      rig.report.notRun(jdk, "2", timeName);
      rig.report.notRun(jdk, "2d", cpuName);
      rig.report.notRun(jdk, "2d-idle", idleName);
      return;
    }
    log("2. cold GET of " + mib(rig.big) + " MiB, fresh caches each run (jitdi on " + jdk.name() + ")");
    boolean withFirstRequest = jdk == rig.defaultJdk;
    Series time = new Series();
    Series cpu = new Series();
    Series idle = new Series();
    Series fetches = new Series();
    Series warmups = new Series();
    Series compiling = new Series();
    Series stolen = new Series();
    Series firstTime = new Series();
    double gib = rig.big / (double) (1L << 30);
    for (int i = 0; i < Rig.RUNS; i++) {
      for (boolean isJitdi : i % 2 == 0 ? List.of(true, false) : List.of(false, true)) {
        Pull pull = coldPull(isJitdi, "f2-" + jdk.tag() + "-" + i, jdk, true);
        time.add(isJitdi, pull.seconds());
        cpu.add(isJitdi, pull.cpu() / gib);
        idle.add(isJitdi, pull.cpuIdle() / gib);
        fetches.add(isJitdi, pull.upstreamGets());
        warmups.add(isJitdi, pull.warmupPulls());
        compiling.add(isJitdi, pull.compilerSeconds());
        stolen.add(isJitdi, pull.stolenSeconds());
        if (withFirstRequest) {
          firstTime.add(isJitdi, coldPull(isJitdi, "f2c-" + i, jdk, false).seconds());
        }
      }
    }
    rig.report.add(new Row(jdk.id("2"), timeName, "s", time.jitdi, "distribution", time.peer, "time ratio <= 1.0",
        Stats.ratio(time.jitdi, time.peer) <= 1.0, "warm-up pulls before the measured one: jitdi "
        + Stats.summary(warmups.jitdi) + ", distribution " + Stats.summary(warmups.peer) + "; JIT compiler CPU "
        + "seconds during the measured pull: jitdi " + Stats.summary(compiling.jitdi) + "; CPU seconds the "
        + "hypervisor took from this VM during the measured pull (steal, both cores): jitdi "
        + Stats.summary(stolen.jitdi) + ", distribution " + Stats.summary(stolen.peer)));
    rig.report.add(new Row(jdk.id("2d"), cpuName, "CPU-s/GiB", cpu.jitdi, "distribution", cpu.peer,
        "jitdi / distribution <= 1.0", Stats.ratio(cpu.jitdi, cpu.peer) <= 1.0, "read right before and right after "
        + "each cold pull. distribution fetches the blob a second time to store it, in the background (upstream GETs "
        + "per cold pull: jitdi " + Stats.summary(fetches.jitdi) + ", distribution " + Stats.summary(fetches.peer)
        + "), and part of that work comes after its client is done: see " + jdk.id("2d-idle")));
    rig.report.add(new Row(jdk.id("2d-idle"), idleName, "CPU-s/GiB", idle.jitdi, "distribution", idle.peer,
        "(reported)", null, "read once the process had used at most one tick in 0.5 s (at most 15 s after the "
        + "pull): includes distribution's background store and any compiling the JVM still does"));
    if (withFirstRequest) {
      rig.report.add(new Row("2c", blob + " as the first request after start", "s", firstTime.jitdi, "distribution",
          firstTime.peer, "(reported)", null, "includes the JVM compiling the serving path; distribution is a "
          + "native binary"));
      rig.report.method("figure 2d: utime+stime of the proxy's process (the java or docker-registry PID) from "
          + "/proc/<pid>/stat, in ticks of " + ProcFs.CLK_TCK + "/s, read right before and right after each cold "
          + "pull of figure 2 (after the warm-up pulls, a `sync`, dropping the page cache and reading the upstream's "
          + "copy of the blob back in), divided by the blob's size in GiB; 2d-idle reads the second value once the "
          + "process is idle again instead; the client, the upstream and the kernel's writeback threads are not "
          + "counted");
      rig.report.method("figures 2 and 2d, warm-up: each fresh process first pulls 5 distinct blobs (3 x "
          + mib(rig.warmup) + " and 2 x " + mib(rig.big) + " MiB), then further distinct " + mib(rig.big) + " MiB "
          + "blobs until one pull in which its JIT compiler threads (HotSpot's C1/C2 CompilerThreads, from "
          + "/proc/<pid>/task) used at most " + Rig.QUIET_COMPILER_SECONDS + " CPU-s, at most " + Rig.MORE_WARMUP
          + " more (distribution, a native binary, has none and stops after the 5), then waits until the process is "
          + "idle; a JVM keeps compiling the serving path for about 4 GiB of cold pulls, and a node's proxy runs for "
          + "days; 2c is the other end: the pull as the first request after start");
    }
  }

  /**
   * Starts jitdi (on {@code jdk}) or distribution with an empty cache under {@code name} and pulls the big blob
   * through it (after the warm-up pulls when {@code warm}), measuring the client's time and the server's CPU; then
   * stops the server and deletes its directory.
   */
  private Pull coldPull(boolean isJitdi, String name, Jdk jdk, boolean warm) {
    String dir = (isJitdi ? "jitdi-" : "dist-") + name;
    ServerProcess server = isJitdi ? rig.startJitdi(dir, Jitdi.config(rig.upstream().url()), jdk, List.of())
        : rig.startDistribution(dir, rig.upstream().url());
    try {
      Rig.WarmUp warmUp = warm ? rig.warmUpUntilCompiled(server) : new Rig.WarmUp(0, 0);
      rig.settlePageCache(rig.upstream().blobData(rig.bigImage().layer()));
      long gets = rig.proxyGetsUpstream(rig.bigImage());
      var threadsBefore = ProcFs.threadCpuSeconds(server.pid());
      double systemBefore = ProcFs.systemSeconds(server.pid());
      double stolenBefore = ProcFs.stolenSeconds();
      double before = ProcFs.cpuSeconds(server.pid());
      double seconds = Curl.get(server.url() + rig.bigImage().blobPath()).seconds();
      double after = ProcFs.cpuSeconds(server.pid());
      double stolen = ProcFs.stolenSeconds() - stolenBefore;
      double system = ProcFs.systemSeconds(server.pid()) - systemBefore;
      var threadsAfter = ProcFs.threadCpuSeconds(server.pid());
      double compiler = ProcFs.compilerSeconds(threadsAfter) - ProcFs.compilerSeconds(threadsBefore);
      double idle = ProcFs.cpuSecondsWhenIdle(server.pid());
      Pull pull = new Pull(seconds, after - before, idle - before, rig.proxyGetsUpstream(rig.bigImage()) - gets,
          warmUp.pulls(), compiler, stolen);
      log(String.format(Locale.ROOT, "  %s: %.3f s, CPU %.2f s (%.2f s when idle; JIT compiler %.2f s), %d upstream "
          + "GETs; after %d warm-up pulls (JIT compiler %.2f s in the last)", dir, pull.seconds(), pull.cpu(),
          pull.cpuIdle(), compiler, pull.upstreamGets(), warmUp.pulls(), warmUp.lastCompilerSeconds()));
      log(String.format(Locale.ROOT, "    of which in the kernel %.2f s; threads: %s; steal (VM) %.2f s", system,
          ProcFs.threadCpuDelta(threadsBefore, threadsAfter), stolen));
      if (isJitdi) {
        server.log().lines().filter(l -> l.contains(" WARN ") || l.contains(" ERROR ")).limit(5)
            .forEach(l -> log("    jitdi: " + l));
      }
      return pull;
    } finally {
      rig.stop(server);
      rig.delete(dir);
    }
  }
}
