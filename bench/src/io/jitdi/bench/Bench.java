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
  private static final String TEMURIN_25 = "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java";

  /** One figure: samples for jitdi and for the peer, and how to read them. */
  record Figure(String id, String name, String unit, List<Double> jitdi, String peerName, List<Double> peer,
      boolean higherIsBetter, String target, Boolean met, String note) {}

  private final boolean quick;
  /** Figure numbers to run; empty for all. */
  private final Set<String> only;
  private final Path work;
  private final int runs;
  private final long big;
  private final long medium;
  private final List<Figure> figures = new ArrayList<>();
  private final List<AutoCloseable> open = new ArrayList<>();
  private DockerRegistry upstream;
  private Images.Pushed bigImage;
  private Images.Pushed mediumImage;
  private Images.Pushed warmupImage;
  /** Size of the blob pulled to warm a process up before a cold figure. */
  private final long warmup;

  Bench(boolean quick, Path work, Set<String> only) {
    this.quick = quick;
    this.only = only;
    this.work = work;
    this.runs = 5;
    this.big = quick ? 64L << 20 : 1L << 30;
    this.medium = quick ? 32L << 20 : 512L << 20;
    this.warmup = quick ? 16L << 20 : 64L << 20;
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
    log("upstream: docker-registry with generated images (" + mib(big) + " MiB and " + mib(medium) + " MiB blobs)");
    upstream = keep(DockerRegistry.start(work.resolve("upstream")));
    bigImage = Images.pushRandomImage(upstream, work, "bench/big", "v1", big, 1);
    mediumImage = Images.pushRandomImage(upstream, work, "bench/medium", "v1", medium, 2);
    warmupImage = Images.pushRandomImage(upstream, work, "bench/warmup", "v1", warmup, 3);
    Images.pushBusybox(upstream, "library/busybox", "latest");
    Files.writeString(work.resolve("warm"), "");
    boolean temurin = Files.isExecutable(Path.of(TEMURIN_25));
    if (wanted("1")) {
      warmBlob();
    }
    if (wanted("2")) {
      coldBlob(null);
      if (temurin) {
        coldBlob(TEMURIN_25);
      }
    }
    if (wanted("3")) {
      concurrentCold();
    }
    if (wanted("4")) {
      manifestHeads();
    }
    if (wanted("5")) {
      jitBuild(null);
      if (temurin) {
        jitBuild(TEMURIN_25);
      }
    }
    if (wanted("6")) {
      peakRss();
    }
    if (wanted("7")) {
      containerdPulls();
    }
    if (wanted("8")) {
      ollamaBuild();
    }
  }

  private boolean wanted(String figure) {
    return only.isEmpty() || only.contains(figure);
  }

  // ---- figure 1 ----------------------------------------------------------------------------------------------

  private void warmBlob() throws Exception {
    log("1. warm blob GET of " + mib(big) + " MiB");
    Jitdi jitdi = keep(startJitdi("f1-jitdi", upstream.url(), List.of()));
    DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f1-dist"), upstream.url()));
    String path = "/v2/" + bigImage.repo() + "/blobs/" + bigImage.layer();
    for (String base : List.of(jitdi.url(), dist.url())) {
      curl(base + path);
      curl(base + path);
    }
    List<Double> j = new ArrayList<>();
    List<Double> d = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      j.add(gbps(curl(jitdi.url() + path)));
      d.add(gbps(curl(dist.url() + path)));
    }
    figures.add(new Figure("1", "warm blob GET throughput, " + mib(big) + " MiB (curl to /dev/null)", "GB/s", j,
        "distribution", d, true, "jitdi >= 1.2x distribution", ratio(j, d) >= 1.2, ""));
    stop(dist);
    stop(jitdi);
  }

  // ---- figure 2 ----------------------------------------------------------------------------------------------

  /**
   * Each run starts both proxies with empty caches. Figure 2 first pulls a different, smaller blob through each, so
   * that the process is past its start-up (JIT compilation of the serving path) and only the cache is cold: a node's
   * proxy runs for days. Figure 2c is the same pull as the very first request after the process started.
   */
  private void coldBlob(String java) throws Exception {
    String jdk = java == null ? "JDK 17" : "Temurin 25";
    String tag = jdk.replace(' ', '-');
    log("2. cold GET of " + mib(big) + " MiB, fresh caches each run (jitdi on " + jdk + ")");
    String path = "/v2/" + bigImage.repo() + "/blobs/" + bigImage.layer();
    String warmup = "/v2/" + warmupImage.repo() + "/blobs/" + warmupImage.layer();
    List<String> options = java == null ? List.of() : List.of("java=" + java);
    List<Double> j = new ArrayList<>();
    List<Double> d = new ArrayList<>();
    List<Double> jFirst = new ArrayList<>();
    List<Double> dFirst = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      Jitdi jitdi = keep(startJitdi("f2-jitdi-" + tag + i, upstream.url(), options));
      curl(jitdi.url() + warmup);
      j.add(seconds(curl(jitdi.url() + path)));
      stop(jitdi);
      DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f2-dist-" + tag + i), upstream.url()));
      curl(dist.url() + warmup);
      d.add(seconds(curl(dist.url() + path)));
      stop(dist);
      if (java == null) {
        jitdi = keep(startJitdi("f2c-jitdi-" + i, upstream.url(), options));
        jFirst.add(seconds(curl(jitdi.url() + path)));
        stop(jitdi);
        dist = keep(DockerRegistry.start(work.resolve("f2c-dist-" + i), upstream.url()));
        dFirst.add(seconds(curl(dist.url() + path)));
        stop(dist);
      }
    }
    figures.add(new Figure(java == null ? "2" : "2b", "cold pull of a " + mib(big) + " MiB blob, fresh caches, "
        + "process warmed up by one other pull (jitdi on " + jdk + ")", "s", j, "distribution", d, false,
        "time ratio <= 1.0", ratio(j, d) <= 1.0, ""));
    if (java == null) {
      figures.add(new Figure("2c", "cold pull of a " + mib(big) + " MiB blob as the first request after start",
          "s", jFirst, "distribution", dFirst, false, "(reported)", null, "includes the JVM compiling the serving "
          + "path; distribution is a native binary"));
    }
  }

  // ---- figure 3 ----------------------------------------------------------------------------------------------

  private void concurrentCold() throws Exception {
    log("3. 16 concurrent cold GETs of one " + mib(medium) + " MiB blob");
    List<Double> jitdiMultiple = new ArrayList<>();
    List<Double> distMultiple = new ArrayList<>();
    List<Double> jitdiWall = new ArrayList<>();
    List<Double> distWall = new ArrayList<>();
    String path = "/v2/" + mediumImage.repo() + "/blobs/" + mediumImage.layer();
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

  private void jitBuild(String java) throws Exception {
    String jdk = java == null ? "JDK 17" : "Temurin 25";
    log("5. JIT build of a " + mib(big) + " MiB local file into a layer (jitdi on " + jdk + ")");
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
    Jitdi jitdi = keep(startJitdiYaml("f5-jitdi-" + jdk.replace(' ', '-'), yaml, java == null ? List.of()
        : List.of("java=" + java)));
    List<Double> j = new ArrayList<>();
    List<Double> o = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      String url = jitdi.url() + "/v2/bench/model/manifests/r" + i + "-" + jdk.replace(' ', '-') + "?ns=jit.local";
      long started = System.nanoTime();
      Http.Text built = Http.get(url, Map.of("Accept", "application/vnd.oci.image.index.v1+json"));
      j.add((System.nanoTime() - started) / 1e9);
      check(built.status() == 200, "JIT build: " + built.status() + " " + built.body());
      started = System.nanoTime();
      Proc.run(Duration.ofMinutes(2), List.of("openssl", "dgst", "-sha256", file.toString()));
      o.add((System.nanoTime() - started) / 1e9);
    }
    figures.add(new Figure(java == null ? "5" : "5b", "JIT build of a " + mib(big) + " MiB local file, compression "
        + "none: first manifest GET of a fresh name (jitdi on " + jdk + ")", "s", j, "openssl dgst -sha256", o, false,
        "<= 1.3x openssl", ratio(j, o) <= 1.3, "the file is in the page cache for both"));
    stop(jitdi);
  }

  // ---- figure 8 ----------------------------------------------------------------------------------------------

  /**
   * The model-source path end to end: a JIT image from an Ollama model in the upstream registry, with a cold cache,
   * so the time is the model's fetch into the blob store plus the layer build; beside it distribution's cold proxy
   * pull of the same blob (the fetch alone).
   */
  private void ollamaBuild() throws Exception {
    log("8. JIT image from a " + mib(big) + " MiB Ollama model, cold cache (fetch + build)");
    String repo = "library/benchmodel";
    Path model = work.resolve("ollama-model.gguf");
    Digest modelDigest = Images.randomFile(model, big, 8);
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
    String warmup = "/v2/" + warmupImage.repo() + "/blobs/" + warmupImage.layer();
    List<Double> j = new ArrayList<>();
    List<Double> d = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      Jitdi jitdi = keep(startJitdiYaml("f8-jitdi-" + i, yaml, List.of()));
      curl(jitdi.url() + warmup);
      long started = System.nanoTime();
      Http.Text built = Http.get(jitdi.url() + "/v2/bench/ollama/manifests/r" + i + "?ns=jit.local",
          Map.of("Accept", "application/vnd.oci.image.index.v1+json"));
      j.add((System.nanoTime() - started) / 1e9);
      check(built.status() == 200, "Ollama JIT build: " + built.status() + " " + built.body());
      stop(jitdi);
      DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f8-dist-" + i), upstream.url()));
      curl(dist.url() + warmup);
      d.add(seconds(curl(dist.url() + "/v2/" + repo + "/blobs/" + modelDigest)));
      stop(dist);
    }
    figures.add(new Figure("8", "JIT image from a " + mib(big) + " MiB Ollama model in the upstream, cold cache: "
        + "first manifest GET (model fetched into the store, then the layer built)", "s", j,
        "distribution cold pull of the model blob", d, false, "(reported)", null, "the build reads the model "
        + "again from the store, so this is about fetch + figure 5"));
  }

  // ---- figure 6 ----------------------------------------------------------------------------------------------

  private void peakRss() throws Exception {
    log("6. peak RSS while serving 8 concurrent " + mib(big) + " MiB GETs, jitdi on -Xmx256m");
    Jitdi jitdi = keep(startJitdi("f6-jitdi", upstream.url(), List.of("-Xmx256m")));
    DockerRegistry dist = keep(DockerRegistry.start(work.resolve("f6-dist"), upstream.url()));
    String path = "/v2/" + bigImage.repo() + "/blobs/" + bigImage.layer();
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
    String closed = "http://127.0.0.1:" + Ports.free();
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

  /** curl to /dev/null: [status, bytes, seconds]; checks the status and the size. */
  private double[] curl(String url) {
    String out = Proc.run(Duration.ofMinutes(10), List.of("curl", "-s", "-o", "/dev/null", "-w",
        "%{http_code} %{size_download} %{time_total}", url)).trim();
    String[] parts = out.split(" ");
    double[] r = {Double.parseDouble(parts[0]), Double.parseDouble(parts[1]), Double.parseDouble(parts[2])};
    check(r[0] == 200, "GET " + url + " answered " + out);
    return r;
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
        .append(System.getProperty("java.version")).append(" unless a row says Temurin 25\n");
    md.append("- each figure is the median of ").append(runs).append(" runs, with min-max\n\n");
    md.append("| # | figure | jitdi | peer | jitdi / peer | target | met |\n|---|---|---|---|---|---|---|\n");
    for (Figure f : figures) {
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
