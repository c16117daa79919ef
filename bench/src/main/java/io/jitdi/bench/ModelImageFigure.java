package io.jitdi.bench;

import static io.jitdi.bench.Rig.check;
import static io.jitdi.bench.Rig.log;

import io.jitdi.bench.harness.Curl;
import io.jitdi.bench.harness.DockerRegistry;
import io.jitdi.bench.harness.Http;
import io.jitdi.bench.harness.Images;
import io.jitdi.bench.harness.Jitdi;
import io.jitdi.bench.harness.ProcFs;
import io.jitdi.oci.Digest;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The model-source path end to end (figures 8 and 8m): a JIT image from a model in the upstream registry, with a cold
 * cache, timed as the first manifest GET; the layer is built from the model's fill as it arrives, so the time is the
 * fetch overlapped with the layer build. Beside it, distribution's cold proxy pull of the same model blob (the fetch
 * alone). Each run starts a fresh process, warmed up by the warm-up pulls and by one JIT image of another, small model
 * (so the JIT path is compiled, as the pull path is by the pulls: a node's proxy runs for days), and deletes its cache
 * afterwards. The same without that build (the JIT path compiled during the measured build) is reported beside it.
 */
abstract class ModelImageFigure {
  final Rig rig;
  /** The figure's id: 8, 8m. */
  private final String figure;
  /** The model's repository in the upstream. */
  final String repo;
  /** The JIT image's repository, matched by the rule of {@link #yaml}. */
  private final String image;
  private final Path modelFile;
  private final long seed;
  /** What the peer does, in the table. */
  private final String peerName;
  private final String note;
  /** The model blob's digest, once its file was made (one file for both JDKs). */
  private Digest model;
  /** The smaller model of the warm-up build (a quarter of the big one, as the 256 MiB warm-up pulls), its digest. */
  private final Path warmFile;
  private Digest warmModel;

  ModelImageFigure(Rig rig, String figure, String repo, String image, String modelFile, long seed,
      String peerName, String note) {
    this.rig = rig;
    this.figure = figure;
    this.repo = repo;
    this.image = image;
    this.modelFile = rig.work.resolve(modelFile);
    this.warmFile = rig.work.resolve("warm-" + modelFile);
    this.seed = seed;
    this.peerName = peerName;
    this.note = note;
  }

  /** The row's name for jitdi on {@code jdk}. */
  abstract String name(Jdk jdk);

  /** Pushes the config and manifest of the model in {@code repo} (its blob {@code model} is pushed already). */
  abstract void pushManifest(String repo, Digest model, long size);

  /** The upstream registry's host name in the rules. */
  abstract String upstreamHost();

  /** The source of a rule's file entry (YAML flow keys) for the model in {@code repo}. */
  abstract String source(String repo);

  /** A rule (a YAML list item) that makes JIT image {@code image} from the model in {@code repo}. */
  private String rule(String image, String repo) {
    return """
          - {match: "%s:{run}", registry: jit.local, platforms: [linux/amd64], compression: none,
             files: [{%s, destination: /models/}]}
        """.formatted(image, source(repo));
  }

  /** jitdi's config: the upstream, and the rules of {@link #image} and of its warm-up image. */
  private String yaml() {
    return config(upstreamHost(), "jit: {waitBudget: 10m}\nimages:\n" + rule(image, repo)
        + rule(image + "-warm", repo + "-warm"));
  }

  void run(Jdk jdk) {
    String name = name(jdk);
    if (jdk.absent() != null) {
      rig.report.notRun(jdk, figure, name);
      return;
    }
    log(figure + ". " + name);
    if (model == null) {
      model = Images.randomFile(modelFile, rig.big, seed);
    }
    if (warmModel == null) {
      warmModel = Images.randomFile(warmFile, warmBytes(), seed + 100);
    }
    rig.upstream().pushBlobFile(repo, modelFile, model);
    pushManifest(repo, model, rig.big);
    rig.upstream().pushBlobFile(repo + "-warm", warmFile, warmModel);
    pushManifest(repo + "-warm", warmModel, warmBytes());
    Series time = new Series();
    Series coldJit = new Series();
    for (int i = 0; i < Rig.RUNS; i++) {
      time.add(true, jitdiBuild(jdk, i, true));
      coldJit.add(true, jitdiBuild(jdk, i, false));
      String dir = "f" + figure + "-dist-" + jdk.tag() + "-" + i;
      DockerRegistry dist = rig.startDistribution(dir, rig.upstream().url());
      rig.warmUp(dist.url());
      rig.settlePageCache(rig.upstream().blobData(model));
      double distBefore = ProcFs.cpuSeconds(dist.pid());
      double upstreamBefore = ProcFs.cpuSeconds(rig.upstream().pid());
      double distSeconds = Curl.get(dist.url() + "/v2/" + repo + "/blobs/" + model).seconds();
      time.add(false, distSeconds);
      coldJit.add(false, distSeconds);
      log(String.format(Locale.ROOT, "  %s: %.3f s, distribution CPU %.2f s, upstream CPU %.2f s", dir, distSeconds,
          ProcFs.cpuSeconds(dist.pid()) - distBefore, ProcFs.cpuSeconds(rig.upstream().pid()) - upstreamBefore));
      rig.stop(dist);
      rig.delete(dir);
    }
    rig.report.add(new Row(jdk.id(figure), name, "s", time.jitdi, peerName, time.peer, "<= 1.3x",
        Stats.ratio(time.jitdi, time.peer) <= 1.3, note + "; jitdi warmed up by the pulls and one JIT image of a "
        + (warmBytes() >> 20) + " MiB model"));
    rig.report.add(new Row(jdk.id(figure + "c"), name + ", its JIT path not yet compiled (warmed up by the pulls "
        + "only)", "s", coldJit.jitdi, peerName, coldJit.peer, "(reported)", null, "the same runs' distribution "
        + "pulls; jitdi's C2 compiling the JIT path (about 0.3-0.7 CPU-s) falls in the build"));
  }

  /**
   * One timed JIT build of the big model by a fresh jitdi on {@code jdk}, warmed up by the pulls and, when
   * {@code warmBuild}, one JIT image of the small model; its seconds.
   */
  private double jitdiBuild(Jdk jdk, int i, boolean warmBuild) {
    String dir = "f" + figure + (warmBuild ? "-jitdi-" : "-jitdi-cold-") + jdk.tag() + "-" + i;
    Jitdi jitdi = rig.startJitdi(dir, yaml(), jdk, List.of());
    rig.warmUp(jitdi.url());
    if (warmBuild) {
      Curl.get(jitdi.url() + "/v2/" + image + "-warm/manifests/w" + i + "?ns=jit.local",
          List.of("Accept: application/vnd.oci.image.index.v1+json"));
    }
    rig.settlePageCache(rig.upstream().blobData(model));
    double cpuBefore = ProcFs.cpuSeconds(jitdi.pid());
    double upstreamBefore = ProcFs.cpuSeconds(rig.upstream().pid());
    Map<String, Double> threadsBefore = ProcFs.threadCpuSeconds(jitdi.pid());
    // timed by curl, as distribution's pull is (one process, a new HTTP/1.1 connection); it fails unless 200
    double seconds = Curl.get(jitdi.url() + "/v2/" + image + "/manifests/r" + i + "?ns=jit.local",
        List.of("Accept: application/vnd.oci.image.index.v1+json")).seconds();
    log(String.format(Locale.ROOT, "  %s: %.3f s, jitdi CPU %.2f s, upstream CPU %.2f s; threads: %s", dir, seconds,
        ProcFs.cpuSeconds(jitdi.pid()) - cpuBefore, ProcFs.cpuSeconds(rig.upstream().pid()) - upstreamBefore,
        ProcFs.threadCpuDelta(threadsBefore, ProcFs.threadCpuSeconds(jitdi.pid()))));
    rig.stop(jitdi);
    try {
      // the measured build's steps, from jitdi's own log (its lines after the warm-up build's)
      List<String> lines = java.nio.file.Files.readAllLines(rig.work.resolve(dir).resolve("jitdi.log"));
      lines.stream().skip(Math.max(0, lines.size() - 40)).filter(l -> l.contains(":r" + i + " ")
          || l.contains("committed") || l.contains("made in the fetch") || l.contains("manifests"))
          .forEach(l -> log("    " + l));
    } catch (java.io.IOException e) {
      log("    (no jitdi log: " + e + ")");
    }
    rig.delete(dir); // each run's cache holds GiBs
    return seconds;
  }

  private long warmBytes() {
    return rig.big / 4;
  }

  /** {@link Jitdi#config} with one more upstream, {@code host}, at the same docker-registry, then {@code rest}. */
  String config(String host, String rest) {
    String url = rig.upstream().url();
    return Jitdi.config(url).replace("upstreams:", "upstreams:\n  " + host + ": {url: \"" + url + "\"}") + rest;
  }
}
