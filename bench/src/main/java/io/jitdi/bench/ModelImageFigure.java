package io.jitdi.bench;

import static io.jitdi.bench.Rig.check;
import static io.jitdi.bench.Rig.log;

import io.jitdi.bench.harness.Curl;
import io.jitdi.bench.harness.DockerRegistry;
import io.jitdi.bench.harness.Http;
import io.jitdi.bench.harness.Images;
import io.jitdi.bench.harness.Jitdi;
import io.jitdi.oci.Digest;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The model-source path end to end (figures 8 and 8m): a JIT image from a model in the upstream registry, with a cold
 * cache, timed as the first manifest GET; the layer is built from the model's fill as it arrives, so the time is the
 * fetch overlapped with the layer build. Beside it, distribution's cold proxy pull of the same model blob (the fetch
 * alone). Each run starts a fresh process (warmed up by the warm-up pulls) and deletes its cache afterwards.
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

  ModelImageFigure(Rig rig, String figure, String repo, String image, String modelFile, long seed,
      String peerName, String note) {
    this.rig = rig;
    this.figure = figure;
    this.repo = repo;
    this.image = image;
    this.modelFile = rig.work.resolve(modelFile);
    this.seed = seed;
    this.peerName = peerName;
    this.note = note;
  }

  /** The row's name for jitdi on {@code jdk}. */
  abstract String name(Jdk jdk);

  /** Pushes the model's config and manifest (its blob {@code model} of the big size is pushed already). */
  abstract void pushManifest(Digest model);

  /** jitdi's config: the upstream, and the rule for {@link #image}. */
  abstract String yaml();

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
    rig.upstream().pushBlobFile(repo, modelFile, model);
    pushManifest(model);
    String yaml = yaml();
    Series time = new Series();
    for (int i = 0; i < Rig.RUNS; i++) {
      String dir = "f" + figure + "-jitdi-" + jdk.tag() + "-" + i;
      Jitdi jitdi = rig.startJitdi(dir, yaml, jdk, List.of());
      rig.warmUp(jitdi.url());
      rig.settlePageCache(rig.upstream().blobData(model));
      long started = System.nanoTime();
      Http.Response built = Http.get(jitdi.url() + "/v2/" + image + "/manifests/r" + i + "?ns=jit.local",
          Map.of("Accept", "application/vnd.oci.image.index.v1+json"));
      time.add(true, (System.nanoTime() - started) / 1e9);
      check(built.status() == 200, "figure " + figure + " JIT build: " + built.status() + " " + built.body());
      rig.stop(jitdi);
      rig.delete(dir); // each run's cache holds GiBs
      dir = "f" + figure + "-dist-" + jdk.tag() + "-" + i;
      DockerRegistry dist = rig.startDistribution(dir, rig.upstream().url());
      rig.warmUp(dist.url());
      rig.settlePageCache(rig.upstream().blobData(model));
      time.add(false, Curl.get(dist.url() + "/v2/" + repo + "/blobs/" + model).seconds());
      rig.stop(dist);
      rig.delete(dir);
    }
    rig.report.add(new Row(jdk.id(figure), name, "s", time.jitdi, peerName, time.peer, "<= 1.3x",
        Stats.ratio(time.jitdi, time.peer) <= 1.3, note));
  }

  /** {@link Jitdi#config} with one more upstream, {@code host}, at the same docker-registry, then {@code rest}. */
  String config(String host, String rest) {
    String url = rig.upstream().url();
    return Jitdi.config(url).replace("upstreams:", "upstreams:\n  " + host + ": {url: \"" + url + "\"}") + rest;
  }
}
