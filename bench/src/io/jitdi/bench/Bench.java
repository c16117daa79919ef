package io.jitdi.bench;

import io.jitdi.it.Containerd;
import io.jitdi.it.DockerRegistry;
import io.jitdi.it.FaultRelay;
import io.jitdi.it.Http;
import io.jitdi.it.Images;
import io.jitdi.it.Jitdi;
import io.jitdi.it.LoadClient;
import io.jitdi.it.Ports;
import io.jitdi.it.Proc;
import io.jitdi.it.Tools;
import io.jitdi.oci.Digest;
import io.vertx.core.http.HttpMethod;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * jitdi side by side with CNCF distribution (Debian's docker-registry) in proxy mode, in front of the same upstream,
 * in one run; writes bench/RESULTS.md. Every process binds to 127.0.0.1 and is stopped by PID, even when a step
 * fails. Run with {@code bench/run} (or {@code bench/run --quick}).
 */
public final class Bench {
  private static final String OCI = "application/vnd.oci.image.manifest.v1+json";
  /** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
  private static final long CLK_TCK = clockTicks();
  /** Warm GETs a proxy gets at most before figure 1 gives up waiting for its upstream to go quiet. */
  private static final int MAX_WARM_GETS = 20;

  /** One figure: samples for jitdi and for the peer, and how to read them; empty samples for an absent row. */
  record Figure(String id, String name, String unit, List<Double> jitdi, String peerName, List<Double> peer,
      boolean higherIsBetter, String target, Boolean met, String note) {
    static Figure absent(String id, String name, String why) {
      return new Figure(id, name, "", List.of(), "", List.of(), false, "", null, why);
    }

    boolean isAbsent() {
      return jitdi.isEmpty();
    }
  }

  /**
   * A JDK to run jitdi on: {@code java} is its launcher, null for the harness's own; {@code suffix} marks its figure
   * ids (2b, 2d-b, 5b); {@code absent} says why it could not be found, null when it was.
   */
  record Jdk(String name, String java, String suffix, String absent) {
    List<String> options() {
      return java == null ? List.of() : List.of("java=" + java);
    }

    String tag() {
      return name.replace(' ', '-');
    }

    String id(String figure) {
      return figure + (suffix.isEmpty() ? "" : figure.length() == 1 ? suffix : "-" + suffix);
    }
  }

  /** Paired samples of one quantity: jitdi's and the peer's. */
  static final class Series {
    final List<Double> jitdi = new ArrayList<>();
    final List<Double> peer = new ArrayList<>();

    void add(boolean isJitdi, double value) {
      (isJitdi ? jitdi : peer).add(value);
    }
  }

  /** A proxy under test as a process: where it answers, its PID, and its directory (deleted when it stops). */
  record Server(String url, long pid, Path dir, AutoCloseable handle) {}

  /**
   * One cold pull: the client's time, the proxy's CPU seconds right after it and once it went idle again, and how
   * many GETs of the blob the proxy sent the upstream by then.
   */
  record Pull(double seconds, double cpu, double cpuIdle, long upstreamGets) {}

  private final boolean quick;
  /** Figure numbers to run; empty for all. */
  private final Set<String> only;
  private final Path work;
  private final int runs;
  private final long big;
  private final long medium;
  /** Size of each blob pulled to warm a process up before a cold figure. */
  private final long warmup;
  private final List<Figure> figures = new ArrayList<>();
  /** How the figures were measured, where the table alone does not say; written in the report's header. */
  private final List<String> methods = new ArrayList<>();
  private final List<AutoCloseable> open = new ArrayList<>();
  private final Jdk defaultJdk = new Jdk("JDK " + Runtime.version().feature(), null, "", null);
  private Jdk jdk25;
  /** Figure 8's model and figure 8m's weights, made once for both JDKs. */
  private Digest ollamaModel;
  private Digest modelPackWeights;
  private DockerRegistry upstream;
  private Images.Pushed bigImage;
  private Images.Pushed mediumImage;
  /** Distinct blobs pulled through a fresh process before a cold figure, so that its serving path is compiled. */
  private final List<Images.Pushed> warmupImages = new ArrayList<>();

  Bench(boolean quick, Path work, Set<String> only) {
    this.quick = quick;
    this.only = only;
    this.work = work;
    this.runs = 5;
    this.big = quick ? 64L << 20 : 1L << 30;
    this.medium = quick ? 32L << 20 : 512L << 20;
    this.warmup = quick ? 16L << 20 : 256L << 20;
  }

  public static void main(String[] args) throws Exception {
    List<String> options = List.of(args);
    boolean quick = options.contains("--quick");
    Set<String> only = new TreeSet<>();
    Path out = Path.of("bench/RESULTS.md");
    for (int i = 0; i < args.length - 1; i++) {
      if (args[i].equals("--only")) {
        only.addAll(List.of(args[i + 1].split(",")));
      } else if (args[i].equals("--out")) {
        out = Path.of(args[i + 1]);
      }
    }
    // jitdi logs at INFO, as in production (the ITs run it at DEBUG)
    System.setProperty("jitdi.logLevel", "INFO");
    Path work = Files.createTempDirectory("jitdi-bench");
    Bench bench = new Bench(quick, work, only);
    Thread cleanup = new Thread(() -> {
      bench.closeAll();
      Proc.exec(Duration.ofMinutes(1), Map.of(), List.of("rm", "-rf", work.toString()));
    }, "bench-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    long started = System.nanoTime();
    try {
      bench.run();
    } finally {
      Runtime.getRuntime().removeShutdownHook(cleanup);
      cleanup.run();
    }
    Files.writeString(out, bench.report(String.join(" ", args), (System.nanoTime() - started) / 1e9));
    System.out.println("wrote " + out);
  }

  private synchronized <T extends AutoCloseable> T keep(T resource) {
    open.add(resource);
    return resource;
  }

  private synchronized void stop(AutoCloseable resource) {
    open.remove(resource);
    try {
      resource.close();
    } catch (Exception e) {
      System.out.println("  (stopping " + resource + ": " + e + ")");
    }
  }

  private synchronized void closeAll() {
    List<AutoCloseable> all = new ArrayList<>(open);
    Collections.reverse(all);
    all.forEach(this::stop);
  }

  void run() throws Exception {
    Tools.require();
    Tools.requireCommand("wrk", "wrk"); // figure 4's GET reference; no test runs wrk
    jdk25 = findJdk25();
    log(jdk25.absent() == null ? "JDK 25: " + jdk25.name() + " at " + jdk25.java()
        : "JDK 25: ABSENT (" + jdk25.absent() + "); its rows (2b, 2d-b, 2d-idle-b, 5b) are marked absent");
    log("upstream: docker-registry with generated images (" + mib(big) + " MiB and " + mib(medium) + " MiB blobs, "
        + "3 x " + mib(warmup) + " MiB and 2 x " + mib(big) + " MiB warm-up blobs)");
    upstream = keep(DockerRegistry.start(work.resolve("upstream")));
    bigImage = Images.pushRandomImage(upstream, work, "bench/big", "v1", big, 1);
    mediumImage = Images.pushRandomImage(upstream, work, "bench/medium", "v1", medium, 2);
    for (int i = 1; i <= 3; i++) {
      warmupImages.add(Images.pushRandomImage(upstream, work, "bench/warmup", "v" + i, warmup, 30 + i));
    }
    // then two pulls the size of the measured one: a JVM compiles some of the serving path only at that size
    for (int i = 4; i <= 5; i++) {
      warmupImages.add(Images.pushRandomImage(upstream, work, "bench/warmup", "v" + i, big, 30 + i));
    }
    Images.pushBusybox(upstream, "library/busybox", "latest");
    Files.writeString(work.resolve("warm"), "");
    if (wanted("1")) {
      warmBlob();
    }
    if (wanted("2")) {
      coldBlob(defaultJdk);
      coldBlob(jdk25);
    }
    if (wanted("3")) {
      concurrentCold();
    }
    if (wanted("4")) {
      manifestHeads();
    }
    if (wanted("5")) {
      jitBuild(defaultJdk);
      jitBuild(jdk25);
    }
    if (wanted("6")) {
      peakRss();
    }
    if (wanted("7")) {
      containerdPulls();
    }
    if (wanted("8")) {
      ollamaBuild(defaultJdk);
      ollamaBuild(jdk25);
      modelPackBuild(defaultJdk);
      modelPackBuild(jdk25);
    }
  }

  private boolean wanted(String figure) {
    return only.isEmpty() || only.contains(figure);
  }

  // ---- figure 1 ----------------------------------------------------------------------------------------------

  /**
   * Warm GETs of a cached blob. A proxy counts as warm once two GETs in a row added no GET of the blob to the
   * upstream's access log: right after its first GET, distribution still stores the blob in the background and
   * answers further GETs from its upstream again. The same curl straight from the upstream docker-registry, and from
   * busybox httpd (which sends the upstream's blob file with sendfile), give the client's side for reference.
   */
  private void warmBlob() throws Exception {
    log("1. warm blob GET of " + mib(big) + " MiB");
    Jitdi jitdi = keep(startJitdi("f1-jitdi", upstream.url(), List.of()));
    DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f1-dist"), upstream.url()));
    int[] httpdPort = new int[1];
    Proc httpd = keep(Ports.withFreePort(port -> {
      Proc started = sendfileServer(upstream.blobData(bigImage.layer()).getParent(), port);
      httpdPort[0] = port;
      return started;
    }));
    String path = blobPath(bigImage);
    String sendfileUrl = "http://127.0.0.1:" + httpdPort[0] + "/data";
    String jitdiWarm = warmUntilUpstreamQuiet("jitdi", jitdi.url() + path);
    String distWarm = warmUntilUpstreamQuiet("distribution", dist.url() + path);
    curl(upstream.url() + path);
    curl(sendfileUrl);
    Series vsDist = new Series();
    List<Double> direct = new ArrayList<>();
    List<Double> sendfile = new ArrayList<>();
    long before = proxyGetsUpstream(bigImage);
    for (int i = 0; i < runs; i++) {
      vsDist.add(true, gbps(curl(jitdi.url() + path)));
      vsDist.add(false, gbps(curl(dist.url() + path)));
      direct.add(gbps(curl(upstream.url() + path)));
      sendfile.add(gbps(curl(sendfileUrl)));
    }
    sleep(300);
    long leaked = proxyGetsUpstream(bigImage) - before;
    methods.add("figure 1 warming: each proxy was sent GETs of the blob until two in a row added no proxy GET of it "
        + "to the upstream's access log (at most " + MAX_WARM_GETS + "): jitdi " + jitdiWarm + ", distribution "
        + distWarm + "; the measured GETs then caused " + leaked + " upstream GETs");
    String name = "warm blob GET throughput, " + mib(big) + " MiB (curl to /dev/null)";
    figures.add(new Figure("1", name, "GB/s", vsDist.jitdi, "distribution", vsDist.peer, true,
        "jitdi >= 1.2x distribution", ratio(vsDist.jitdi, vsDist.peer) >= 1.2, "both warmed until their upstream "
        + "went quiet (see the header): after its first GET, distribution stores the blob in the background and "
        + "answers from its upstream meanwhile"));
    figures.add(new Figure("1-limit", name + ": jitdi against the upstream docker-registry itself", "GB/s",
        vsDist.jitdi, "upstream docker-registry, same curl", direct, true, "(reported)", null, "docker-registry "
        + "copies the file through user space (read + 32 KiB writes, seen with strace), it does not use sendfile; "
        + "distribution's proxy serves its cached blobs the same way"));
    figures.add(new Figure("1-sendfile", name + ": jitdi against a sendfile server", "GB/s", vsDist.jitdi,
        "busybox httpd (sendfile) of the upstream's blob file, same curl", sendfile, true, "(reported)", null,
        "the client's own limit: one sendfile call per response, no HTTP registry logic"));
    stop(httpd);
    stop(dist);
    stop(jitdi);
  }

  /** busybox httpd serving {@code dir} on {@code port} in the foreground; it answers with sendfile. */
  private Proc sendfileServer(Path dir, int port) {
    Proc httpd = Proc.start("busybox httpd", work.resolve("httpd.log"), Map.of(), List.of("busybox", "httpd", "-f",
        "-p", "127.0.0.1:" + port, "-h", dir.toString()));
    try {
      httpd.await("busybox httpd to answer", Duration.ofSeconds(10), () -> {
        try {
          return Http.get("http://127.0.0.1:" + port + "/").status() > 0;
        } catch (RuntimeException e) {
          return false;
        }
      });
    } catch (RuntimeException | AssertionError e) {
      httpd.close(); // Ports.withFreePort tries another port if this one was taken
      throw e;
    }
    return httpd;
  }

  /**
   * GETs {@code url} until two GETs in a row add no proxy GET of the big blob to the upstream's access log, at most
   * {@link #MAX_WARM_GETS} times; says how many GETs that took and how many upstream GETs they caused.
   */
  private String warmUntilUpstreamQuiet(String who, String url) {
    long start = proxyGetsUpstream(bigImage);
    long seen = start;
    int quiet = 0;
    int gets = 0;
    while (quiet < 2 && gets < MAX_WARM_GETS) {
      curl(url);
      gets++;
      // the upstream logs a GET when its response is done, a moment after the proxy's client may be
      sleep(300);
      long now = proxyGetsUpstream(bigImage);
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

  /** GETs of {@code image}'s layer in the upstream's access log that a proxy made (curl's own are left out). */
  private long proxyGetsUpstream(Images.Pushed image) {
    String request = "\"GET " + blobPath(image) + " ";
    return upstream.proc().log().lines().filter(l -> l.contains(request) && !l.contains("\"curl/")).count();
  }

  // ---- figure 2 ----------------------------------------------------------------------------------------------

  /**
   * Each run starts both proxies with empty caches and pulls the same blob through each (in alternating order).
   * Figures 2 and 2d first pull the distinct warm-up blobs through the fresh process, so that it is past its start-up
   * (JIT compilation of the serving path) and only the cache is cold: a node's proxy runs for days; figure 2d is the
   * proxy process's own CPU time for the cold pull. Figure 2c is the same pull as the very first request after the
   * process started.
   */
  private void coldBlob(Jdk jdk) throws Exception {
    String blob = "cold pull of a " + mib(big) + " MiB blob";
    String warmed = ", process warmed up by 5 other pulls (3 x " + mib(warmup) + " and 2 x " + mib(big)
        + " MiB; jitdi on " + jdk.name() + ")";
    String timeName = blob + ", fresh caches" + warmed;
    String cpuName = "proxy process CPU seconds (utime+stime) per GiB of a " + blob.substring(5) + warmed;
    String idleName = "the same CPU seconds, read once the proxy is idle again (blob stored; jitdi on " + jdk.name()
        + ")";
    if (jdk.absent() != null) {
      absent(jdk, "2", timeName);
      absent(jdk, "2d", cpuName);
      absent(jdk, "2d-idle", idleName);
      return;
    }
    log("2. cold GET of " + mib(big) + " MiB, fresh caches each run (jitdi on " + jdk.name() + ")");
    boolean withFirstRequest = jdk == defaultJdk;
    Series time = new Series();
    Series cpu = new Series();
    Series idle = new Series();
    Series fetches = new Series();
    Series firstTime = new Series();
    double gib = big / (double) (1L << 30);
    for (int i = 0; i < runs; i++) {
      for (boolean isJitdi : i % 2 == 0 ? List.of(true, false) : List.of(false, true)) {
        Pull pull = coldPull(startServer(isJitdi, "f2-" + jdk.tag() + "-" + i, jdk), true);
        time.add(isJitdi, pull.seconds());
        cpu.add(isJitdi, pull.cpu() / gib);
        idle.add(isJitdi, pull.cpuIdle() / gib);
        fetches.add(isJitdi, pull.upstreamGets());
        if (withFirstRequest) {
          firstTime.add(isJitdi, coldPull(startServer(isJitdi, "f2c-" + i, jdk), false).seconds());
        }
      }
    }
    figures.add(new Figure(jdk.id("2"), timeName, "s", time.jitdi, "distribution", time.peer, false,
        "time ratio <= 1.0", ratio(time.jitdi, time.peer) <= 1.0, ""));
    figures.add(new Figure(jdk.id("2d"), cpuName, "CPU-s/GiB", cpu.jitdi, "distribution", cpu.peer, false,
        "jitdi / distribution <= 1.0", ratio(cpu.jitdi, cpu.peer) <= 1.0, "read right before and right after each "
        + "cold pull. distribution fetches the blob a second time to store it, in the background (upstream GETs per "
        + "cold pull: jitdi " + stats(fetches.jitdi) + ", distribution " + stats(fetches.peer) + "), and part of "
        + "that work comes after its client is done: see " + jdk.id("2d-idle")));
    figures.add(new Figure(jdk.id("2d-idle"), idleName, "CPU-s/GiB", idle.jitdi,
        "distribution", idle.peer, false, "(reported)", null, "read once the process had used at most one tick in "
        + "0.5 s (at most 15 s after the pull): includes distribution's background store and any compiling the JVM "
        + "still does"));
    if (withFirstRequest) {
      figures.add(new Figure("2c", blob + " as the first request after start", "s", firstTime.jitdi,
          "distribution", firstTime.peer, false, "(reported)", null, "includes the JVM compiling the serving "
          + "path; distribution is a native binary"));
      methods.add("figure 2d: utime+stime of the proxy's process (the java or docker-registry PID) from "
          + "/proc/<pid>/stat, in ticks of " + CLK_TCK + "/s, read right before and right after each cold pull of "
          + "figure 2 (after the warm-up pulls, a `sync`, dropping the page cache and reading the upstream's copy of the blob back in), divided by the blob's size in GiB; 2d-idle reads the "
          + "second value once the process is idle again instead; the client, the upstream and the kernel's "
          + "writeback threads are not counted");
    }
  }

  /** Marks figure {@code figure} of {@code jdk} absent (JDK 25 not found), in the log and the report. */
  private void absent(Jdk jdk, String figure, String name) {
    log(jdk.id(figure) + ": " + jdk.name() + " absent (" + jdk.absent() + ")");
    figures.add(Figure.absent(jdk.id(figure), name, jdk.name() + " absent: " + jdk.absent()));
  }

  /** Starts jitdi (on {@code jdk}) or distribution with an empty cache under {@code name}. */
  private Server startServer(boolean isJitdi, String name, Jdk jdk) {
    Path dir = work.resolve((isJitdi ? "jitdi-" : "dist-") + name);
    if (isJitdi) {
      Jitdi jitdi = keep(startJitdi(dir.getFileName().toString(), upstream.url(), jdk.options()));
      return new Server(jitdi.url(), jitdi.proc().pid(), dir, jitdi);
    }
    DockerRegistry dist = keep(DockerRegistry.start(dir, upstream.url()));
    return new Server(dist.url(), dist.proc().pid(), dir, dist);
  }

  /**
   * Pulls the big blob through {@code server} (after the warm-up pulls when {@code warm}), measuring the client's time
   * and the server's CPU; then stops the server and deletes its cache.
   */
  private Pull coldPull(Server server, boolean warm) {
    try {
      if (warm) {
        warmUp(server.url());
      }
      settlePageCache(bigImage);
      long gets = proxyGetsUpstream(bigImage);
      double before = cpuSeconds(server.pid());
      double seconds = seconds(curl(server.url() + blobPath(bigImage)));
      double after = cpuSeconds(server.pid());
      double idle = cpuSecondsWhenIdle(server.pid());
      Pull pull = new Pull(seconds, after - before, idle - before, proxyGetsUpstream(bigImage) - gets);
      log(String.format(Locale.ROOT, "  %s: %.3f s, CPU %.2f s (%.2f s when idle), %d upstream GETs",
          server.dir().getFileName(), pull.seconds(), pull.cpu(), pull.cpuIdle(), pull.upstreamGets()));
      return pull;
    } finally {
      stop(server.handle());
      Proc.run(Duration.ofMinutes(5), List.of("rm", "-rf", server.dir().toString()));
    }
  }

  /**
   * The same page-cache state before every cold pull, whichever proxy ran before: dirty pages written back, clean ones
   * dropped (as root), and the upstream's copy of {@code image}'s layer read back in, so that the upstream serves it
   * from memory to both peers. Without this, a pull's time and CPU depend on how much of the machine's memory earlier
   * runs filled with dirty pages.
   */
  private void settlePageCache(Images.Pushed image) {
    Proc.run(Duration.ofMinutes(5), List.of("sync"));
    if ("root".equals(System.getProperty("user.name"))) {
      Proc.run(Duration.ofMinutes(1), List.of("sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"));
    }
    Proc.run(Duration.ofMinutes(5), List.of("sh", "-c", "cat \"$0\" > /dev/null",
        upstream.blobData(image.layer()).toString()));
  }

  /** Pulls each warm-up blob once through the proxy at {@code base}. */
  private void warmUp(String base) {
    for (Images.Pushed image : warmupImages) {
      curl(base + blobPath(image));
    }
  }

  // ---- figure 3 ----------------------------------------------------------------------------------------------

  private void concurrentCold() throws Exception {
    log("3. 16 concurrent cold GETs of one " + mib(medium) + " MiB blob");
    List<Double> jitdiMultiple = new ArrayList<>();
    List<Double> distMultiple = new ArrayList<>();
    List<Double> jitdiWall = new ArrayList<>();
    List<Double> distWall = new ArrayList<>();
    String path = blobPath(mediumImage);
    for (int i = 0; i < runs; i++) {
      FaultRelay jr = keep(FaultRelay.to(upstream.port()));
      Jitdi jitdi = keep(startJitdi("f3-jitdi-" + i, jr.url(), List.of()));
      jitdiWall.add(concurrentCurls(jitdi.url() + path, 16));
      jitdiMultiple.add((double) jr.bytesRelayed() / medium);
      stop(jitdi);
      stop(jr);
      FaultRelay dr = keep(FaultRelay.to(upstream.port()));
      DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f3-dist-" + i), dr.url()));
      distWall.add(concurrentCurls(dist.url() + path, 16));
      distMultiple.add((double) dr.bytesRelayed() / medium);
      stop(dist);
      stop(dr);
    }
    figures.add(new Figure("3a", "16 concurrent cold GETs of one " + mib(medium) + " MiB blob: upstream bytes / blob",
        "x blob", jitdiMultiple, "distribution", distMultiple, false, "jitdi fetches exactly 1.0x",
        Math.abs(median(jitdiMultiple) - 1.0) < 0.01 && max(jitdiMultiple) < 1.01, "counted by a TCP relay in front "
        + "of the upstream (response headers included)"));
    figures.add(new Figure("3b", "16 concurrent cold GETs of one " + mib(medium) + " MiB blob: wall time", "s",
        jitdiWall, "distribution", distWall, false, "(reported)", null, ""));
  }

  // ---- figure 4 ----------------------------------------------------------------------------------------------

  private void manifestHeads() throws Exception {
    log("4. cached manifest HEAD by tag, 64 connections, 10 s");
    Jitdi jitdi = keep(startJitdi("f4-jitdi", upstream.url(), List.of()));
    DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f4-dist"), upstream.url()));
    String path = "/v2/library/busybox/manifests/latest";
    for (String base : List.of(jitdi.url(), dist.url())) {
      Http.head(base + path, Map.of("Accept", OCI));
    }
    List<Double> j = new ArrayList<>();
    List<Double> d = new ArrayList<>();
    List<Double> jp99 = new ArrayList<>();
    List<Double> dp99 = new ArrayList<>();
    Supplier<LoadClient.Request> head = () -> new LoadClient.Request(HttpMethod.HEAD, path, OCI);
    for (int i = 0; i < runs; i++) {
      LoadClient.Result jr = LoadClient.run("127.0.0.1", jitdi.port(), 64, Duration.ofSeconds(quick ? 2 : 10), head);
      LoadClient.Result dr = LoadClient.run("127.0.0.1", dist.port(), 64, Duration.ofSeconds(quick ? 2 : 10), head);
      check(jr.ok() == jr.requests(), "jitdi HEADs: " + jr);
      check(dr.ok() == dr.requests(), "distribution HEADs: " + dr);
      j.add(jr.rps());
      d.add(dr.rps());
      jp99.add(jr.percentileMillis(99));
      dp99.add(dr.percentileMillis(99));
    }
    String wrkJ = wrkGet(jitdi.url() + path);
    String wrkD = wrkGet(dist.url() + path);
    figures.add(new Figure("4", "cached manifest HEAD by tag, 64 connections", "req/s", j, "distribution", d, true,
        "jitdi >= 5x distribution", ratio(j, d) >= 5, String.format(Locale.ROOT, "p99 %.1f ms vs %.1f ms. Debian's "
        + "wrk 4.1 completes no HEAD request at all (it waits for a body after Content-Length), so HEADs come "
        + "from a Vert.x closed-loop client (64 connections); wrk GET by tag for reference: jitdi %s, "
        + "distribution %s.", median(jp99), median(dp99), wrkJ, wrkD)));
    stop(dist);
    stop(jitdi);
  }

  private String wrkGet(String url) throws IOException {
    Path script = work.resolve("accept.lua");
    Files.writeString(script, "wrk.headers[\"Accept\"] = \"" + OCI + "\"\n");
    String out = Proc.run(Duration.ofMinutes(1), List.of("wrk", "-t", "2", "-c", "64", "-d", quick ? "2s" : "10s",
        "-s", script.toString(), url));
    return out.lines().filter(l -> l.startsWith("Requests/sec")).map(l -> l.replaceAll("[^0-9.]", "") + " req/s")
        .findFirst().orElse("?");
  }

  // ---- figure 5 ----------------------------------------------------------------------------------------------

  private void jitBuild(Jdk jdk) throws Exception {
    String name = "JIT build of a " + mib(big) + " MiB local file, compression none: first manifest GET of a fresh "
        + "name (jitdi on " + jdk.name() + ")";
    if (jdk.absent() != null) {
      absent(jdk, "5", name);
      return;
    }
    log("5. JIT build of a " + mib(big) + " MiB local file into a layer (jitdi on " + jdk.name() + ")");
    Path models = work.resolve("models");
    Files.createDirectories(models);
    Path file = models.resolve("model.bin");
    if (!Files.exists(file)) {
      Images.randomFile(file, big, 5);
    }
    Proc.run(Duration.ofMinutes(1), List.of("sh", "-c", "cat " + file + " > /dev/null"));
    String yaml = Jitdi.config(upstream.url(), "64GiB") + """
        jit: {fileRoots: [%1$s], waitBudget: 10m}
        images:
          - {match: "bench/model:{run}", registry: jit.local, platforms: [linux/amd64], compression: none,
             files: [{source: "%1$s/model.bin", destination: /models/}]}
        """.formatted(models);
    Jitdi jitdi = keep(startJitdiYaml("f5-jitdi-" + jdk.tag(), yaml, jdk.options()));
    List<Double> j = new ArrayList<>();
    List<Double> o = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      String url = jitdi.url() + "/v2/bench/model/manifests/r" + i + "-" + jdk.tag() + "?ns=jit.local";
      long started = System.nanoTime();
      Http.Text built = Http.get(url, Map.of("Accept", "application/vnd.oci.image.index.v1+json"));
      j.add((System.nanoTime() - started) / 1e9);
      check(built.status() == 200, "JIT build: " + built.status() + " " + built.body());
      started = System.nanoTime();
      Proc.run(Duration.ofMinutes(2), List.of("openssl", "dgst", "-sha256", file.toString()));
      o.add((System.nanoTime() - started) / 1e9);
    }
    figures.add(new Figure(jdk.id("5"), name, "s", j, "openssl dgst -sha256", o, false,
        "<= 1.3x openssl", ratio(j, o) <= 1.3, "the file is in the page cache for both"));
    stop(jitdi);
  }

  // ---- figure 8 ----------------------------------------------------------------------------------------------

  /**
   * The model-source path end to end: a JIT image from an Ollama model in the upstream registry, with a cold cache:
   * the layer is built from the model's fill as it arrives, so the time is the fetch overlapped with the layer build;
   * beside it distribution's cold proxy pull of the same blob (the fetch alone).
   */
  private void ollamaBuild(Jdk jdk) throws Exception {
    String name = "JIT image from a " + mib(big) + " MiB Ollama model in the upstream, cold cache: first manifest "
        + "GET (the layer built while the model downloads; jitdi on " + jdk.name() + ")";
    if (jdk.absent() != null) {
      absent(jdk, "8", name);
      return;
    }
    log("8. JIT image from a " + mib(big) + " MiB Ollama model, cold cache (fetch + build, jitdi on " + jdk.name()
        + ")");
    String repo = "library/benchmodel";
    Path model = work.resolve("ollama-model.gguf");
    if (ollamaModel == null) {
      ollamaModel = Images.randomFile(model, big, 8);
    }
    Digest modelDigest = ollamaModel;
    upstream.pushBlobFile(repo, model, modelDigest);
    byte[] params = "{\"temperature\":0.7}".getBytes(StandardCharsets.UTF_8);
    byte[] config = "{\"model_format\":\"gguf\",\"os\":\"linux\",\"architecture\":\"amd64\"}".getBytes(
        StandardCharsets.UTF_8);
    Digest paramsDigest = upstream.pushBlob(repo, params);
    Digest configDigest = upstream.pushBlob(repo, config);
    String manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
        + "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"%s\",\"size\":%d},"
        + "\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"%s\",\"size\":%d},"
        + "{\"mediaType\":\"application/vnd.ollama.image.params\",\"digest\":\"%s\",\"size\":%d}]}").formatted(
        configDigest, config.length, modelDigest, big, paramsDigest, params.length);
    upstream.pushManifest(repo, "latest", manifest.getBytes(StandardCharsets.UTF_8),
        "application/vnd.docker.distribution.manifest.v2+json");
    String yaml = Jitdi.config(upstream.url(), "64GiB").replace("upstreams:", "upstreams:\n  registry.ollama.ai: {url: \""
        + upstream.url() + "\"}") + """
        jit: {waitBudget: 10m}
        images:
          - {match: "bench/ollama:{run}", registry: jit.local, platforms: [linux/amd64], compression: none,
             files: [{ollama: "registry.ollama.ai/library/benchmodel:latest", layout: files, destination: /models/}]}
        """;
    List<Double> j = new ArrayList<>();
    List<Double> d = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      Jitdi jitdi = keep(startJitdiYaml("f8-jitdi-" + jdk.tag() + "-" + i, yaml, jdk.options()));
      warmUp(jitdi.url());
      long started = System.nanoTime();
      Http.Text built = Http.get(jitdi.url() + "/v2/bench/ollama/manifests/r" + i + "?ns=jit.local",
          Map.of("Accept", "application/vnd.oci.image.index.v1+json"));
      j.add((System.nanoTime() - started) / 1e9);
      check(built.status() == 200, "Ollama JIT build: " + built.status() + " " + built.body());
      stop(jitdi);
      deleteTree(work.resolve("f8-jitdi-" + jdk.tag() + "-" + i)); // each run's cache holds GiBs
      DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f8-dist-" + jdk.tag() + "-" + i),
          upstream.url()));
      warmUp(dist.url());
      d.add(seconds(curl(dist.url() + "/v2/" + repo + "/blobs/" + modelDigest)));
      stop(dist);
      deleteTree(work.resolve("f8-dist-" + jdk.tag() + "-" + i));
    }
    figures.add(new Figure(jdk.id("8"), name, "s", j,
        "distribution cold pull of the model blob", d, false, "<= 1.3x", ratio(j, d) <= 1.3,
        "the layer is written from the fill's file as it grows; the model is then kept once, in the layer"));
  }

  /**
   * Figure 8m (the "8b"; b marks Temurin 25 rows here): the same as figure 8 for a CNCF ModelPack artifact
   * whose weight is one raw layer, against distribution's cold pull of that layer.
   */
  private void modelPackBuild(Jdk jdk) throws Exception {
    String name = "JIT image from a " + mib(big) + " MiB ModelPack artifact (one raw weight layer) in the upstream, "
        + "cold cache: first manifest GET (jitdi on " + jdk.name() + ")";
    if (jdk.absent() != null) {
      absent(jdk, "8m", name);
      return;
    }
    log("8m. JIT image from a " + mib(big) + " MiB ModelPack artifact, cold cache (jitdi on " + jdk.name() + ")");
    String repo = "models/benchpack";
    Path weights = work.resolve("modelpack-weights.safetensors");
    if (modelPackWeights == null) {
      modelPackWeights = Images.randomFile(weights, big, 9);
    }
    Digest weightDigest = modelPackWeights;
    upstream.pushBlobFile(repo, weights, weightDigest);
    byte[] config = "{\"descriptor\":{\"name\":\"benchpack\"},\"config\":{\"format\":\"safetensors\"}}"
        .getBytes(StandardCharsets.UTF_8);
    Digest configDigest = upstream.pushBlob(repo, config);
    String manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        + "\"artifactType\":\"application/vnd.cncf.model.manifest.v1+json\","
        + "\"config\":{\"mediaType\":\"application/vnd.cncf.model.config.v1+json\",\"digest\":\"%s\",\"size\":%d},"
        + "\"layers\":[{\"mediaType\":\"application/vnd.cncf.model.weight.v1.raw\",\"digest\":\"%s\",\"size\":%d,"
        + "\"annotations\":{\"org.cncf.model.filepath\":\"model.safetensors\"}}]}").formatted(configDigest,
        config.length, weightDigest, big);
    upstream.pushManifest(repo, "v1", manifest.getBytes(StandardCharsets.UTF_8),
        "application/vnd.oci.image.manifest.v1+json");
    String yaml = Jitdi.config(upstream.url(), "64GiB").replace("upstreams:", "upstreams:\n  models.example.com: "
        + "{url: \"" + upstream.url() + "\"}") + """
        jit: {waitBudget: 10m}
        images:
          - {match: "bench/pack:{run}", registry: jit.local, platforms: [linux/amd64], compression: none,
             files: [{oci: "models.example.com/models/benchpack:v1", destination: /models/}]}
        """;
    List<Double> j = new ArrayList<>();
    List<Double> d = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      Jitdi jitdi = keep(startJitdiYaml("f8m-jitdi-" + jdk.tag() + "-" + i, yaml, jdk.options()));
      warmUp(jitdi.url());
      long started = System.nanoTime();
      Http.Text built = Http.get(jitdi.url() + "/v2/bench/pack/manifests/r" + i + "?ns=jit.local",
          Map.of("Accept", "application/vnd.oci.image.index.v1+json"));
      j.add((System.nanoTime() - started) / 1e9);
      check(built.status() == 200, "ModelPack JIT build: " + built.status() + " " + built.body());
      stop(jitdi);
      deleteTree(work.resolve("f8m-jitdi-" + jdk.tag() + "-" + i));
      DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f8m-dist-" + jdk.tag() + "-" + i),
          upstream.url()));
      warmUp(dist.url());
      d.add(seconds(curl(dist.url() + "/v2/" + repo + "/blobs/" + weightDigest)));
      stop(dist);
      deleteTree(work.resolve("f8m-dist-" + jdk.tag() + "-" + i));
    }
    figures.add(new Figure(jdk.id("8m"), name, "s", j, "distribution cold pull of the weight layer", d, false,
        "<= 1.3x", ratio(j, d) <= 1.3, "the layer is written from the weight layer's fill as it grows"));
  }

  // ---- figure 6 ----------------------------------------------------------------------------------------------

  private void peakRss() throws Exception {
    log("6. peak RSS while serving 8 concurrent " + mib(big) + " MiB GETs, jitdi on -Xmx256m");
    Jitdi jitdi = keep(startJitdi("f6-jitdi", upstream.url(), List.of("-Xmx256m")));
    DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f6-dist"), upstream.url()));
    String path = blobPath(bigImage);
    curl(jitdi.url() + path);
    curl(dist.url() + path);
    List<Double> j = new ArrayList<>();
    List<Double> d = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      j.add(peakRssDuring(jitdi.proc().pid(), () -> concurrentCurls(jitdi.url() + path, 8)));
      d.add(peakRssDuring(dist.proc().pid(), () -> concurrentCurls(dist.url() + path, 8)));
    }
    figures.add(new Figure("6", "peak RSS serving 8 concurrent " + mib(big) + " MiB GETs (jitdi -Xmx256m)", "MB", j,
        "distribution", d, false, "<= 600 MB, no errors", max(j) <= 600, "sampled from /proc/<pid>/status every "
        + "20 ms; every transfer was checked for its full size"));
    stop(dist);
    stop(jitdi);
  }

  private double peakRssDuring(long pid, ThrowingRunnable work) throws Exception {
    long[] peak = {0};
    boolean[] done = {false};
    Thread sampler = new Thread(() -> {
      while (!done[0]) {
        try {
          for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
              peak[0] = Math.max(peak[0], Long.parseLong(line.replaceAll("[^0-9]", "")));
            }
          }
          Thread.sleep(20);
        } catch (IOException | InterruptedException e) {
          return;
        }
      }
    });
    sampler.start();
    try {
      work.run();
    } finally {
      done[0] = true;
      sampler.join();
    }
    return peak[0] / 1024.0;
  }

  // ---- figure 7 ----------------------------------------------------------------------------------------------

  private void containerdPulls() throws Exception {
    log("7. containerd pull (ctr via hosts.toml) of an image with a " + mib(big) + " MiB layer, cold and warm");
    pushTarImage("bench/tarimg", "v1", big);
    Containerd ctrd = keep(Containerd.start(work.resolve("ctrd")));
    String closed = Ports.deadEnd();
    List<Double> jc = new ArrayList<>();
    List<Double> dc = new ArrayList<>();
    List<Double> jw = new ArrayList<>();
    List<Double> dw = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      Jitdi jitdi = keep(startJitdi("f7-jitdi-" + i, upstream.url(), List.of()));
      DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f7-dist-" + i), upstream.url()));
      ctrd.mirror("docker.io", jitdi.url(), closed);
      ctrd.mirror("distribution.bench", dist.url(), closed);
      String jref = "docker.io/bench/tarimg:v1";
      String dref = "distribution.bench/bench/tarimg:v1";
      jc.add(timedPull(ctrd, jref));
      dc.add(timedPull(ctrd, dref));
      jw.add(timedPull(ctrd, jref));
      dw.add(timedPull(ctrd, dref));
      stop(dist);
      stop(jitdi);
    }
    figures.add(new Figure("7a", "containerd pull of an image with a " + mib(big) + " MiB layer, cold proxy caches",
        "s", jc, "distribution", dc, false, "time ratio <= 1.0", ratio(jc, dc) <= 1.0, "includes containerd's unpack"));
    figures.add(new Figure("7b", "containerd pull of an image with a " + mib(big) + " MiB layer, warm proxy caches",
        "s", jw, "distribution", dw, false, "time ratio <= 1.0", ratio(jw, dw) <= 1.0, "containerd's own content "
        + "store is emptied before each pull"));
  }

  private double timedPull(Containerd ctrd, String ref) {
    ctrd.remove(ref);
    long started = System.nanoTime();
    ctrd.pull(ref);
    return (System.nanoTime() - started) / 1e9;
  }

  /** Pushes an image whose one layer is a real tar holding {@code data/blob.bin} of {@code size} random bytes. */
  private void pushTarImage(String repo, String tag, long size) throws IOException {
    Path blob = work.resolve("tar-content.bin");
    Images.randomFile(blob, size, 7);
    Path tar = work.resolve("layer.tar");
    try (OutputStream out = Files.newOutputStream(tar); TarArchiveOutputStream t = new TarArchiveOutputStream(out);
        InputStream in = Files.newInputStream(blob)) {
      t.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      TarArchiveEntry dir = new TarArchiveEntry("data/");
      t.putArchiveEntry(dir);
      t.closeArchiveEntry();
      TarArchiveEntry e = new TarArchiveEntry("data/blob.bin");
      e.setSize(size);
      t.putArchiveEntry(e);
      in.transferTo(t);
      t.closeArchiveEntry();
    }
    Files.delete(blob);
    Digest layer = io.jitdi.cache.FileDigests.sha256(tar);
    long layerSize = Files.size(tar);
    upstream.pushBlobFile(repo, tar, layer);
    Files.delete(tar);
    byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\""
        + layer + "\"]},\"config\":{}}").getBytes(StandardCharsets.UTF_8);
    Digest configDigest = upstream.pushBlob(repo, config);
    byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + OCI + "\",\"config\":{\"mediaType\":"
        + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest + "\",\"size\":" + config.length
        + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" + layer
        + "\",\"size\":" + layerSize + "}]}").getBytes(StandardCharsets.UTF_8);
    upstream.pushManifest(repo, tag, manifest, OCI);
  }

  // ---- helpers -----------------------------------------------------------------------------------------------

  private Jitdi startJitdi(String name, String upstreamUrl, List<String> options) {
    return startJitdiYaml(name, Jitdi.config(upstreamUrl, "64GiB"), options);
  }

  private Jitdi startJitdiYaml(String name, String yaml, List<String> options) {
    List<String> jvm = new ArrayList<>();
    String java = null;
    for (String o : options) {
      if (o.startsWith("java=")) {
        java = o.substring(5);
      } else {
        jvm.add(o);
      }
    }
    String previous = System.getProperty("jitdi.java");
    if (java != null) {
      System.setProperty("jitdi.java", java);
    }
    try {
      return Jitdi.start(work.resolve(name), yaml.replace("idleTimeout: 10s", "idleTimeout: 60s"), jvm);
    } finally {
      if (previous == null) {
        System.clearProperty("jitdi.java");
      } else {
        System.setProperty("jitdi.java", previous);
      }
    }
  }

  /** Deletes {@code dir} and everything under it. */
  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** curl to /dev/null: [status, bytes, seconds]; checks the status and the size. */
  private double[] curl(String url) {
    String out = Proc.run(Duration.ofMinutes(10), List.of("curl", "-s", "-o", "/dev/null", "-w",
        "%{http_code} %{size_download} %{time_total}", url)).trim();
    String[] parts = out.split(" ");
    double[] r = {Double.parseDouble(parts[0]), Double.parseDouble(parts[1]), Double.parseDouble(parts[2])};
    check(r[0] == 200, "GET " + url + " answered " + out);
    return r;
  }

  private static String blobPath(Images.Pushed image) {
    return "/v2/" + image.repo() + "/blobs/" + image.layer();
  }

  /** utime + stime of process {@code pid} so far (all its threads), in seconds, from /proc/<pid>/stat. */
  static double cpuSeconds(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      // after "pid (comm) ": field 3 (state) is [0], so field 14 (utime) is [11] and field 15 (stime) is [12]
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / (double) CLK_TCK;
    } catch (IOException e) {
      throw new UncheckedIOException("CPU time of process " + pid, e);
    }
  }

  /** Waits (at most 15 s) until process {@code pid} used at most one tick in 0.5 s; returns its CPU seconds then. */
  static double cpuSecondsWhenIdle(long pid) {
    double last = cpuSeconds(pid);
    for (int i = 0; i < 30; i++) {
      sleep(500);
      double now = cpuSeconds(pid);
      if (now - last <= 1.0 / CLK_TCK) {
        return now;
      }
      last = now;
    }
    return last;
  }

  private static long clockTicks() {
    try {
      return Long.parseLong(Proc.run(Duration.ofSeconds(10), List.of("getconf", "CLK_TCK")).trim());
    } catch (RuntimeException | AssertionError e) {
      return 100;
    }
  }

  /**
   * A JDK 25 to run jitdi on: {@code TEMURIN25_HOME} or {@code JAVA25_HOME} when set, else the first JDK under
   * /usr/lib/jvm whose {@code java -version} says 25; an absent one says where it was looked for.
   */
  static Jdk findJdk25() {
    List<String> looked = new ArrayList<>();
    for (String variable : List.of("TEMURIN25_HOME", "JAVA25_HOME")) {
      String home = System.getenv(variable);
      if (home != null && !home.isBlank()) {
        Jdk jdk = jdk25At(Path.of(home));
        if (jdk != null) {
          return jdk;
        }
        looked.add(variable + "=" + home + " (no JDK 25 there)");
      } else {
        looked.add(variable + " unset");
      }
    }
    Path jvms = Path.of("/usr/lib/jvm");
    if (Files.isDirectory(jvms)) {
      try (var homes = Files.list(jvms)) {
        for (Path home : homes.sorted().toList()) {
          Jdk jdk = jdk25At(home);
          if (jdk != null) {
            return jdk;
          }
        }
      } catch (IOException e) {
        looked.add("/usr/lib/jvm unreadable: " + e.getMessage());
      }
    }
    looked.add("no JDK 25 under /usr/lib/jvm");
    return new Jdk("JDK 25", null, "b", String.join(", ", looked));
  }

  /** The JDK at {@code home} when its {@code bin/java -version} says 25, else null. */
  private static Jdk jdk25At(Path home) {
    Path java = home.resolve("bin/java");
    if (!Files.isExecutable(java)) {
      return null;
    }
    Proc.Result version = Proc.exec(Duration.ofSeconds(30), Map.of(), List.of(java.toString(), "-version"));
    if (version.exit() != 0 || !version.output().matches("(?s).*version \"25[.\"].*")) {
      return null;
    }
    return new Jdk(version.output().contains("Temurin") ? "Temurin 25" : "JDK 25", java.toString(), "b", null);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private static double gbps(double[] curl) {
    return curl[1] / curl[2] / 1e9;
  }

  private static double seconds(double[] curl) {
    return curl[2];
  }

  /** Starts {@code n} curls at once; returns the wall time until the last is done, checking every transfer. */
  private double concurrentCurls(String url, int n) throws Exception {
    List<Process> all = new ArrayList<>();
    long started = System.nanoTime();
    for (int i = 0; i < n; i++) {
      all.add(new ProcessBuilder("curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url)
          .redirectErrorStream(true).start());
    }
    for (Process p : all) {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      p.waitFor();
      check(p.exitValue() == 0 && out.startsWith("200 "), "concurrent GET: exit " + p.exitValue() + ", " + out);
    }
    return (System.nanoTime() - started) / 1e9;
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new IllegalStateException("bench step failed: " + what);
    }
  }

  private static long mib(long bytes) {
    return bytes >> 20;
  }

  static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }

  static double min(List<Double> xs) {
    return Collections.min(xs);
  }

  static double max(List<Double> xs) {
    return Collections.max(xs);
  }

  static double ratio(List<Double> a, List<Double> b) {
    return median(a) / median(b);
  }

  private static void log(String s) {
    System.out.println("[" + java.time.LocalTime.now().withNano(0) + "] " + s);
  }

  @FunctionalInterface
  interface ThrowingRunnable {
    void run() throws Exception;
  }

  private String report(String args, double seconds) {
    StringBuilder md = new StringBuilder("# jitdi benchmark results\n\n");
    String cpu = Proc.exec(Duration.ofSeconds(10), Map.of(), List.of("sh", "-c",
        "lscpu | sed -n 's/^Model name: *//p'; nproc")).output().trim().replace("\n", ", ") + " cores";
    md.append("- date: ").append(ZonedDateTime.now().withNano(0)).append('\n');
    md.append("- CPU: ").append(cpu).append(", ").append(Runtime.getRuntime().maxMemory() >> 20)
        .append(" MiB heap for the harness\n");
    md.append("- command: `bench/run").append(args.isEmpty() ? "" : " " + args).append("` (").append(quick
        ? "quick: smaller blobs" : "full").append(", ").append(String.format(Locale.ROOT, "%.0f s", seconds))
        .append(")\n");
    md.append("- peer: CNCF distribution ").append(Proc.exec(Duration.ofSeconds(10), Map.of(), List.of(
        "docker-registry", "--version")).output().trim().replaceAll(".* ", "")).append(" (Debian's docker-registry) "
        + "in proxy mode; both proxies in front of the same docker-registry upstream on loopback, each with a fresh "
        + "cache where the figure says so\n");
    md.append("- jitdi on ").append(System.getProperty("java.vm.name")).append(' ')
        .append(System.getProperty("java.version")).append(" unless a row says ").append(jdk25.name()).append(" (")
        .append(jdk25.absent() == null ? jdk25.java() : "ABSENT: " + jdk25.absent()).append(")\n");
    md.append("- each figure is the median of ").append(runs).append(" runs, with min-max\n");
    methods.forEach(m -> md.append("- ").append(m).append('\n'));
    md.append("\n| # | figure | jitdi | peer | jitdi / peer | target | met |\n|---|---|---|---|---|---|---|\n");
    for (Figure f : figures) {
      if (f.isAbsent()) {
        md.append(String.format(Locale.ROOT, "| %s | %s | absent | absent | - | - | absent |%n", f.id(), f.name()));
        continue;
      }
      md.append(String.format(Locale.ROOT, "| %s | %s | %s %s | %s: %s %s | %.2f | %s | %s |%n", f.id(), f.name(),
          stats(f.jitdi()), f.unit(), f.peerName(), stats(f.peer()), f.unit(), ratio(f.jitdi(), f.peer()),
          f.target(), f.met() == null ? "-" : f.met() ? "yes" : "**no**"));
    }
    md.append("\nNotes:\n\n");
    for (Figure f : figures) {
      if (!f.note().isEmpty()) {
        md.append("- ").append(f.id()).append(": ").append(f.note()).append('\n');
      }
    }
    // the profiling notes are written by hand; they are kept with every regenerated result
    Path limits = Path.of("bench/limits.md");
    if (Files.exists(limits)) {
      try {
        md.append('\n').append(Files.readString(limits));
      } catch (IOException e) {
        md.append("\n(bench/limits.md unreadable: ").append(e).append(")\n");
      }
    }
    return md.toString();
  }

  private static String stats(List<Double> xs) {
    return String.format(Locale.ROOT, "%s (%s-%s)", fmt(median(xs)), fmt(min(xs)), fmt(max(xs)));
  }

  private static String fmt(double v) {
    return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : v >= 10 ? String.format(Locale.ROOT, "%.1f", v)
        : String.format(Locale.ROOT, "%.3f", v);
  }
}
