package io.jitdi.bench;

import static io.jitdi.bench.Rig.log;
import static io.jitdi.bench.Rig.mib;

import io.jitdi.bench.harness.Containerd;
import io.jitdi.bench.harness.DockerRegistry;
import io.jitdi.bench.harness.Images;
import io.jitdi.bench.harness.Jitdi;
import io.jitdi.bench.harness.Ports;
import io.jitdi.cache.FileDigests;
import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Figures 7a and 7b: containerd pulls (ctr through hosts.toml mirrors, unpack included) of an image whose one layer
 * is a real tar of the big size, through fresh proxies each run: cold, then warm; containerd's own content store is
 * emptied before each pull, and the registries' own server is a dead end.
 */
final class Fig7ContainerdPull {
  private final Rig rig;

  Fig7ContainerdPull(Rig rig) {
    this.rig = rig;
  }

  void run() throws IOException {
    log("7. containerd pull (ctr via hosts.toml) of an image with a " + mib(rig.big) + " MiB layer, cold and warm");
    pushTarImage("bench/tarimg", "v1");
    Containerd ctrd = rig.keep(Containerd.start(rig.work.resolve("ctrd")));
    String closed = Ports.deadEnd();
    Series cold = new Series();
    Series warm = new Series();
    for (int i = 0; i < Rig.RUNS; i++) {
      Jitdi jitdi = rig.startJitdi("f7-jitdi-" + i, List.of());
      DockerRegistry dist = rig.startDistribution("f7-dist-" + i, rig.upstream().url());
      ctrd.mirror("docker.io", jitdi.url(), closed);
      ctrd.mirror("distribution.bench", dist.url(), closed);
      String jref = "docker.io/bench/tarimg:v1";
      String dref = "distribution.bench/bench/tarimg:v1";
      cold.add(true, timedPull(ctrd, jref));
      cold.add(false, timedPull(ctrd, dref));
      warm.add(true, timedPull(ctrd, jref));
      warm.add(false, timedPull(ctrd, dref));
      rig.stop(dist);
      rig.stop(jitdi);
    }
    String name = "containerd pull of an image with a " + mib(rig.big) + " MiB layer";
    rig.report.add(new Row("7a", name + ", cold proxy caches", "s", cold.jitdi, "distribution", cold.peer,
        "time ratio <= 1.0", Stats.ratio(cold.jitdi, cold.peer) <= 1.0, "includes containerd's unpack"));
    rig.report.add(new Row("7b", name + ", warm proxy caches", "s", warm.jitdi, "distribution", warm.peer,
        "time ratio <= 1.0", Stats.ratio(warm.jitdi, warm.peer) <= 1.0, "containerd's own content store is emptied "
        + "before each pull"));
  }

  private static double timedPull(Containerd ctrd, String ref) {
    ctrd.forgetAll(); // also the other proxy's pull of the same image: it shares the layer
    long started = System.nanoTime();
    ctrd.pull(ref);
    return (System.nanoTime() - started) / 1e9;
  }

  /** Pushes an image whose one layer is a real tar holding {@code data/blob.bin} of the big size, random bytes. */
  private void pushTarImage(String repo, String tag) throws IOException {
    Path blob = rig.work.resolve("tar-content.bin");
    Images.randomFile(blob, rig.big, 7);
    Path tar = rig.work.resolve("layer.tar");
    try (OutputStream out = Files.newOutputStream(tar); TarArchiveOutputStream t = new TarArchiveOutputStream(out);
        InputStream in = Files.newInputStream(blob)) {
      t.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      t.putArchiveEntry(new TarArchiveEntry("data/"));
      t.closeArchiveEntry();
      TarArchiveEntry e = new TarArchiveEntry("data/blob.bin");
      e.setSize(rig.big);
      t.putArchiveEntry(e);
      in.transferTo(t);
      t.closeArchiveEntry();
    }
    Files.delete(blob);
    Digest layer = FileDigests.sha256(tar);
    Images.pushImage(rig.upstream(), repo, tag, tar, layer);
    Files.delete(tar);
  }
}
