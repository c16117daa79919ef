package io.jitdi.bench;

import static io.jitdi.bench.Rig.check;
import static io.jitdi.bench.Rig.log;

import io.jitdi.bench.harness.DockerRegistry;
import io.jitdi.bench.harness.Http;
import io.jitdi.bench.harness.Images;
import io.jitdi.bench.harness.Jitdi;
import io.jitdi.bench.harness.LoadClient;
import io.jitdi.bench.harness.Proc;
import io.vertx.core.http.HttpMethod;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Figure 4: HEADs of a cached manifest by tag, 64 connections for 10 s (2 s with --quick), from a closed-loop Vert.x
 * client (Debian's wrk cannot do HEAD); wrk's GET rate is given in the note for reference.
 */
final class Fig4ManifestHead {
  private static final int CONNECTIONS = 64;
  private static final String PATH = "/v2/library/busybox/manifests/latest";

  private final Rig rig;

  Fig4ManifestHead(Rig rig) {
    this.rig = rig;
  }

  void run() throws Exception {
    log("4. cached manifest HEAD by tag, " + CONNECTIONS + " connections, 10 s");
    Jitdi jitdi = rig.startJitdi("f4-jitdi", List.of());
    DockerRegistry dist = rig.startDistribution("f4-dist", rig.upstream().url());
    for (String base : List.of(jitdi.url(), dist.url())) {
      Http.head(base + PATH, Map.of("Accept", Images.OCI_MANIFEST));
    }
    Series rps = new Series();
    List<Double> jp99 = new ArrayList<>();
    List<Double> dp99 = new ArrayList<>();
    Duration duration = Duration.ofSeconds(rig.quick ? 2 : 10);
    for (int i = 0; i < Rig.RUNS; i++) {
      LoadClient.Result jr = LoadClient.run("127.0.0.1", jitdi.port(), CONNECTIONS, duration, HttpMethod.HEAD, PATH,
          Images.OCI_MANIFEST);
      LoadClient.Result dr = LoadClient.run("127.0.0.1", dist.port(), CONNECTIONS, duration, HttpMethod.HEAD, PATH,
          Images.OCI_MANIFEST);
      check(jr.ok() == jr.requests(), "jitdi HEADs: " + jr);
      check(dr.ok() == dr.requests(), "distribution HEADs: " + dr);
      rps.add(true, jr.rps());
      rps.add(false, dr.rps());
      jp99.add(jr.percentileMillis(99));
      dp99.add(dr.percentileMillis(99));
    }
    String wrkJ = wrkGet(jitdi.url() + PATH);
    String wrkD = wrkGet(dist.url() + PATH);
    rig.report.add(new Row("4", "cached manifest HEAD by tag, " + CONNECTIONS + " connections", "req/s", rps.jitdi,
        "distribution", rps.peer, "jitdi >= 5x distribution", Stats.ratio(rps.jitdi, rps.peer) >= 5,
        String.format(Locale.ROOT, "p99 %.1f ms vs %.1f ms. Debian's wrk 4.1 completes no HEAD request at all (it "
        + "waits for a body after Content-Length), so HEADs come from a Vert.x closed-loop client (%d connections); "
        + "wrk GET by tag for reference: jitdi %s, distribution %s.", Stats.median(jp99), Stats.median(dp99),
        CONNECTIONS, wrkJ, wrkD)));
    rig.stop(dist);
    rig.stop(jitdi);
  }

  /** wrk's GET rate of {@code url} with an OCI manifest Accept header, 2 threads, 64 connections. */
  private String wrkGet(String url) throws IOException {
    Path script = rig.work.resolve("accept.lua");
    Files.writeString(script, "wrk.headers[\"Accept\"] = \"" + Images.OCI_MANIFEST + "\"\n");
    String out = Proc.run(Duration.ofMinutes(1), List.of("wrk", "-t", "2", "-c", Integer.toString(CONNECTIONS), "-d",
        rig.quick ? "2s" : "10s", "-s", script.toString(), url));
    return out.lines().filter(l -> l.startsWith("Requests/sec")).map(l -> l.replaceAll("[^0-9.]", "") + " req/s")
        .findFirst().orElse("?");
  }
}
