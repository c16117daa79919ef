package io.jitdi.bench;

import static io.jitdi.bench.Rig.log;
import static io.jitdi.bench.Rig.mib;

import io.jitdi.bench.harness.Curl;
import io.jitdi.bench.harness.DockerRegistry;
import io.jitdi.bench.harness.Jitdi;
import io.jitdi.bench.harness.ProcFs;
import java.util.List;

/**
 * Figure 6: each proxy's peak resident memory while it serves 8 concurrent GETs of the cached big blob, jitdi with a
 * 256 MiB heap; every transfer is checked for its full size.
 */
final class Fig6PeakRss {
  private static final int CLIENTS = 8;

  private final Rig rig;

  Fig6PeakRss(Rig rig) {
    this.rig = rig;
  }

  void run() throws Exception {
    log("6. peak RSS while serving " + CLIENTS + " concurrent " + mib(rig.big) + " MiB GETs, jitdi on -Xmx256m");
    Jitdi jitdi = rig.startJitdi("f6-jitdi", List.of("-Xmx256m"));
    DockerRegistry dist = rig.startDistribution("f6-dist", rig.upstream().url());
    String path = rig.bigImage().blobPath();
    Curl.get(jitdi.url() + path);
    Curl.get(dist.url() + path);
    Series rss = new Series();
    for (int i = 0; i < Rig.RUNS; i++) {
      rss.add(true, ProcFs.peakRssDuring(jitdi.pid(), () -> Curl.concurrent(jitdi.url() + path, CLIENTS)));
      rss.add(false, ProcFs.peakRssDuring(dist.pid(), () -> Curl.concurrent(dist.url() + path, CLIENTS)));
    }
    rig.report.add(new Row("6", "peak RSS serving " + CLIENTS + " concurrent " + mib(rig.big) + " MiB GETs (jitdi "
        + "-Xmx256m)", "MB", rss.jitdi, "distribution", rss.peer, "<= 600 MB, no errors", Stats.max(rss.jitdi) <= 600,
        "sampled from /proc/<pid>/status every 20 ms; every transfer was checked for its full size"));
    rig.stop(dist);
    rig.stop(jitdi);
  }
}
