package io.jitdi.bench;

import static io.jitdi.bench.Rig.log;
import static io.jitdi.bench.Rig.mib;

import io.jitdi.bench.harness.Curl;
import io.jitdi.bench.harness.DockerRegistry;
import io.jitdi.bench.harness.Http;
import io.jitdi.bench.harness.Jitdi;
import io.jitdi.bench.harness.Ports;
import io.jitdi.bench.harness.Proc;
import io.jitdi.bench.harness.ServerProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Figures 1, 1-limit and 1-sendfile: warm GETs of a cached blob. A proxy counts as warm once two GETs in a row added
 * no GET of the blob to the upstream's access log: right after its first GET, distribution still stores the blob in
 * the background and answers further GETs from its upstream again. The same curl straight from the upstream
 * docker-registry, and from busybox httpd (which sends the upstream's blob file with sendfile), give the client's side
 * for reference.
 */
final class Fig1WarmBlob {
  /** Warm GETs a proxy gets at most before figure 1 gives up waiting for its upstream to go quiet. */
  private static final int MAX_WARM_GETS = 20;

  private final Rig rig;

  Fig1WarmBlob(Rig rig) {
    this.rig = rig;
  }

  void run() {
    log("1. warm blob GET of " + mib(rig.big) + " MiB");
    Jitdi jitdi = rig.startJitdi("f1-jitdi", List.of());
    DockerRegistry dist = rig.startDistribution("f1-dist", rig.upstream().url());
    String path = rig.bigImage().blobPath();
    Path blobDir = rig.upstream().blobData(rig.bigImage().layer()).getParent();
    ServerProcess httpd = rig.keep(Ports.withFreePort(port -> sendfileServer(blobDir, port)));
    String sendfileUrl = httpd.url() + "/data";
    String jitdiWarm = warmUntilUpstreamQuiet("jitdi", jitdi.url() + path);
    String distWarm = warmUntilUpstreamQuiet("distribution", dist.url() + path);
    Curl.get(rig.upstream().url() + path);
    Curl.get(sendfileUrl);
    Series vsDist = new Series();
    List<Double> direct = new ArrayList<>();
    List<Double> sendfile = new ArrayList<>();
    long before = rig.proxyGetsUpstream(rig.bigImage());
    for (int i = 0; i < Rig.RUNS; i++) {
      vsDist.add(true, Curl.get(jitdi.url() + path).gbps());
      vsDist.add(false, Curl.get(dist.url() + path).gbps());
      direct.add(Curl.get(rig.upstream().url() + path).gbps());
      sendfile.add(Curl.get(sendfileUrl).gbps());
    }
    Proc.sleep(300);
    long leaked = rig.proxyGetsUpstream(rig.bigImage()) - before;
    rig.report.method("figure 1 warming: each proxy was sent GETs of the blob until two in a row added no proxy GET of "
        + "it to the upstream's access log (at most " + MAX_WARM_GETS + "): jitdi " + jitdiWarm + ", distribution "
        + distWarm + "; the measured GETs then caused " + leaked + " upstream GETs");
    String name = "warm blob GET throughput, " + mib(rig.big) + " MiB (curl to /dev/null)";
    rig.report.add(new Row("1", name, "GB/s", vsDist.jitdi, "distribution", vsDist.peer, "jitdi >= 1.2x distribution",
        Stats.ratio(vsDist.jitdi, vsDist.peer) >= 1.2, "both warmed until their upstream went quiet (see the "
        + "header): after its first GET, distribution stores the blob in the background and answers from its "
        + "upstream meanwhile"));
    rig.report.add(new Row("1-limit", name + ": jitdi against the upstream docker-registry itself", "GB/s",
        vsDist.jitdi, "upstream docker-registry, same curl", direct, "(reported)", null, "docker-registry copies the "
        + "file through user space (read + 32 KiB writes, seen with strace), it does not use sendfile; "
        + "distribution's proxy serves its cached blobs the same way"));
    rig.report.add(new Row("1-sendfile", name + ": jitdi against a sendfile server", "GB/s", vsDist.jitdi,
        "busybox httpd (sendfile) of the upstream's blob file, same curl", sendfile, "(reported)", null,
        "the client's own limit: one sendfile call per response, no HTTP registry logic"));
    rig.stop(httpd);
    rig.stop(dist);
    rig.stop(jitdi);
  }

  /** busybox httpd in the foreground, serving {@code dir} on {@code port}; it answers with sendfile. */
  private ServerProcess sendfileServer(Path dir, int port) {
    return new ServerProcess(Proc.start("busybox httpd", rig.work.resolve("httpd.log"), Map.of(), List.of("busybox",
        "httpd", "-f", "-p", "127.0.0.1:" + port, "-h", dir.toString()), "busybox httpd to answer",
        Duration.ofSeconds(10), () -> Http.status(Ports.url(port) + "/") > 0), port);
  }

  /**
   * GETs {@code url} until two GETs in a row add no proxy GET of the big blob to the upstream's access log, at most
   * {@link #MAX_WARM_GETS} times; says how many GETs that took and how many upstream GETs they caused.
   */
  private String warmUntilUpstreamQuiet(String who, String url) {
    long start = rig.proxyGetsUpstream(rig.bigImage());
    long seen = start;
    int quiet = 0;
    int gets = 0;
    while (quiet < 2 && gets < MAX_WARM_GETS) {
      Curl.get(url);
      gets++;
      // the upstream logs a GET when its response is done, a moment after the proxy's client may be
      Proc.sleep(300);
      long now = rig.proxyGetsUpstream(rig.bigImage());
      quiet = now == seen ? quiet + 1 : 0;
      seen = now;
    }
    String how = gets + " GETs (" + (seen - start) + " upstream GETs)";
    if (quiet < 2) {
      how += ", NOT QUIET after " + MAX_WARM_GETS + " GETs: the figure includes upstream fetches";
    }
    log("  " + who + " warm after " + how);
    return how;
  }
}
