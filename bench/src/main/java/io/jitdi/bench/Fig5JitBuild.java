package io.jitdi.bench;

import static io.jitdi.bench.Rig.check;
import static io.jitdi.bench.Rig.log;
import static io.jitdi.bench.Rig.mib;

import io.jitdi.bench.harness.Http;
import io.jitdi.bench.harness.Images;
import io.jitdi.bench.harness.Jitdi;
import io.jitdi.bench.harness.Proc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Figure 5 (5b on JDK 25): a JIT build of a local file of the big size into an uncompressed layer, timed as the first
 * manifest GET of a fresh name and a new mtime of the file (so each run builds), one jitdi process for all runs;
 * against {@code openssl dgst -sha256} of the same file.
 * The file is in the page cache for both.
 */
final class Fig5JitBuild {
  private final Rig rig;

  Fig5JitBuild(Rig rig) {
    this.rig = rig;
  }

  void run(Jdk jdk) throws IOException {
    String name = "JIT build of a " + mib(rig.big) + " MiB local file, compression none: first manifest GET of a "
        + "fresh name (jitdi on " + jdk.name() + ")";
    if (jdk.absent() != null) {
      rig.report.notRun(jdk, "5", name);
      return;
    }
    log("5. JIT build of a " + mib(rig.big) + " MiB local file into a layer (jitdi on " + jdk.name() + ")");
    Path models = rig.work.resolve("models");
    Files.createDirectories(models);
    Path file = models.resolve("model.bin");
    if (!Files.exists(file)) {
      Images.randomFile(file, rig.big, 5);
    }
    String yaml = Jitdi.config(rig.upstream().url()) + """
        jit: {fileRoots: [%1$s], waitBudget: 10m}
        images:
          - {match: "bench/model:{run}", registry: jit.local, platforms: [linux/amd64], compression: none,
             files: [{source: "%1$s/model.bin", destination: /models/}]}
        """.formatted(models);
    Jitdi jitdi = rig.startJitdi("f5-jitdi-" + jdk.tag(), yaml, jdk, List.of());
    Series time = new Series();
    for (int i = 0; i < Rig.RUNS; i++) {
      String url = jitdi.url() + "/v2/bench/model/manifests/r" + i + "-" + jdk.tag() + "?ns=jit.local";
      // a new mtime is a new source identity: without it, a fresh name would reuse the layer the first run built
      // (another image of the same files) and time no build at all
      Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + i));
      rig.settlePageCache(file);
      long started = System.nanoTime();
      Http.Response built = Http.get(url, Map.of("Accept", "application/vnd.oci.image.index.v1+json"));
      time.add(true, (System.nanoTime() - started) / 1e9);
      check(built.status() == 200, "JIT build: " + built.status() + " " + built.body());
      rig.settlePageCache(file);
      started = System.nanoTime();
      Proc.run(Duration.ofMinutes(2), List.of("openssl", "dgst", "-sha256", file.toString()));
      time.add(false, (System.nanoTime() - started) / 1e9);
    }
    rig.report.add(new Row(jdk.id("5"), name, "s", time.jitdi, "openssl dgst -sha256", time.peer, "<= 1.3x openssl",
        Stats.ratio(time.jitdi, time.peer) <= 1.3, "the file is in the page cache for both"));
    rig.stop(jitdi);
  }
}
