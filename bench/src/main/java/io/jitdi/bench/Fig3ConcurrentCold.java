package io.jitdi.bench;

import static io.jitdi.bench.Rig.log;
import static io.jitdi.bench.Rig.mib;

import io.jitdi.bench.harness.CountingRelay;
import io.jitdi.bench.harness.Curl;
import io.jitdi.bench.harness.DockerRegistry;
import io.jitdi.bench.harness.Jitdi;
import java.util.List;

/**
 * Figures 3a and 3b: 16 concurrent cold GETs of one medium blob through a fresh proxy each run; how many times the
 * blob's size the proxy fetched (counted by a TCP relay in front of the upstream), and the wall time.
 */
final class Fig3ConcurrentCold {
  private static final int CLIENTS = 16;

  private final Rig rig;

  Fig3ConcurrentCold(Rig rig) {
    this.rig = rig;
  }

  void run() {
    log("3. " + CLIENTS + " concurrent cold GETs of one " + mib(rig.medium) + " MiB blob");
    Series multiple = new Series();
    Series wall = new Series();
    String path = rig.mediumImage().blobPath();
    for (int i = 0; i < Rig.RUNS; i++) {
      CountingRelay jr = rig.keep(CountingRelay.to(rig.upstream().port()));
      Jitdi jitdi = rig.startJitdi("f3-jitdi-" + i, Jitdi.config(jr.url()), rig.defaultJdk, List.of());
      wall.add(true, Curl.concurrent(jitdi.url() + path, CLIENTS));
      multiple.add(true, (double) jr.bytesRelayed() / rig.medium);
      rig.stop(jitdi);
      rig.stop(jr);
      CountingRelay dr = rig.keep(CountingRelay.to(rig.upstream().port()));
      DockerRegistry dist = rig.startDistribution("f3-dist-" + i, dr.url());
      wall.add(false, Curl.concurrent(dist.url() + path, CLIENTS));
      multiple.add(false, (double) dr.bytesRelayed() / rig.medium);
      rig.stop(dist);
      rig.stop(dr);
    }
    String name = CLIENTS + " concurrent cold GETs of one " + mib(rig.medium) + " MiB blob";
    rig.report.add(new Row("3a", name + ": upstream bytes / blob", "x blob", multiple.jitdi, "distribution",
        multiple.peer, "jitdi fetches exactly 1.0x", Math.abs(Stats.median(multiple.jitdi) - 1.0) < 0.01
        && Stats.max(multiple.jitdi) < 1.01, "counted by a TCP relay in front of the upstream (response headers "
        + "included)"));
    rig.report.add(new Row("3b", name + ": wall time", "s", wall.jitdi, "distribution", wall.peer, "(reported)", null,
        ""));
  }
}
