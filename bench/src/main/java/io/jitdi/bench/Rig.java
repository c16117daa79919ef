package io.jitdi.bench;

import io.jitdi.bench.harness.Curl;
import io.jitdi.bench.harness.DockerRegistry;
import io.jitdi.bench.harness.Images;
import io.jitdi.bench.harness.Jitdi;
import io.jitdi.bench.harness.Proc;
import io.jitdi.bench.harness.ProcFs;
import io.jitdi.bench.harness.ServerProcess;
import io.jitdi.bench.harness.Tools;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What every figure measures with and reports to: the sizes, the upstream docker-registry with the generated images,
 * the JDKs, the processes started so far, and the {@link #report}. Every process a figure starts is {@link #keep kept}
 * here, so that {@link #closeAll} stops each by PID even when a step fails; all files live under {@link #work}.
 */
final class Rig {
  /** Runs a figure takes the median of. */
  static final int RUNS = Integer.getInteger("bench.runs", 5);
  /** What {@link #settlePageCache} writes and deletes: more than any timed operation writes (fig. 8: 2 GiB). */
  static final long SETTLE_BYTES = 3L << 30;
  /** Most warm-up pulls {@link #warmUpUntilCompiled} adds to the standard ones. */
  static final int MORE_WARMUP = 6;
  /** JIT compiler CPU seconds in a pull under which a process counts as compiled. */
  static final double QUIET_COMPILER_SECONDS = 0.05;

  final boolean quick;
  final Path work;
  /** Size of the blob most figures pull or build: 1 GiB, 64 MiB with --quick. */
  final long big;
  /** Size of figure 3's blob. */
  final long medium;
  /** Size of each of the three small warm-up blobs. */
  final long warmup;
  final Jdk defaultJdk = Jdk.current();
  /** Where the figures add their rows. */
  final Report report = new Report();
  private Jdk jdk25;
  private DockerRegistry upstream;
  private Images.Pushed bigImage;
  private Images.Pushed mediumImage;
  /** Distinct blobs pulled through a fresh process before a cold figure, so that its serving path is compiled. */
  private final List<Images.Pushed> warmupImages = new ArrayList<>();
  /** Further distinct blobs the size of the measured one, for {@link #warmUpUntilCompiled}. */
  private final List<Images.Pushed> moreWarmupImages = new ArrayList<>();
  private final List<AutoCloseable> open = new ArrayList<>();

  Rig(boolean quick, Path work) {
    this.quick = quick;
    this.work = work;
    this.big = quick ? 64L << 20 : 1L << 30;
    this.medium = quick ? 32L << 20 : 512L << 20;
    this.warmup = quick ? 16L << 20 : 256L << 20;
  }

  /** Installs what is missing, finds JDK 25, and starts the upstream with every image the figures pull. */
  void setUp() {
    Tools.require();
    jdk25 = Jdk.find25();
    log(jdk25.absent() == null ? "JDK 25: " + jdk25.name() + " at " + jdk25.java()
        : "JDK 25: NOT FOUND (" + jdk25.absent() + "); its rows (2b, 2d-b, 2d-idle-b, 5b, 8b, 8m-b) say not run; "
        + "set " + Jdk.VARIABLE + " to a JDK 25's home");
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
    for (int i = 1; i <= MORE_WARMUP; i++) {
      moreWarmupImages.add(Images.pushRandomImage(upstream, work, "bench/warmup-more", "v" + i, big, 40 + i));
    }
    Images.pushBusybox(upstream, work, "library/busybox", "latest");
  }

  Jdk jdk25() {
    return jdk25;
  }

  DockerRegistry upstream() {
    return upstream;
  }

  /** The image with the {@link #big} blob. */
  Images.Pushed bigImage() {
    return bigImage;
  }

  /** The image with the {@link #medium} blob. */
  Images.Pushed mediumImage() {
    return mediumImage;
  }

  /** jitdi on the default JDK in front of the upstream, under {@code work/name}, kept. */
  Jitdi startJitdi(String name, List<String> jvmOptions) {
    return startJitdi(name, Jitdi.config(upstream.url()), defaultJdk, jvmOptions);
  }

  /** jitdi on {@code jdk} with config {@code yaml}, under {@code work/name}, kept. */
  Jitdi startJitdi(String name, String yaml, Jdk jdk, List<String> jvmOptions) {
    return keep(Jitdi.start(work.resolve(name), yaml, jdk.java(), jvmOptions));
  }

  /** distribution in proxy mode in front of {@code remoteUrl}, under {@code work/name}, kept. */
  DockerRegistry startDistribution(String name, String remoteUrl) {
    return keep(DockerRegistry.start(work.resolve(name), remoteUrl));
  }

  /** GETs of {@code image}'s layer in the upstream's access log that a proxy made (curl's own are left out). */
  long proxyGetsUpstream(Images.Pushed image) {
    String request = "\"GET " + image.blobPath() + " ";
    return upstream.log().lines().filter(l -> l.contains(request) && !l.contains("\"curl/")).count();
  }

  /**
   * The same page-cache state before every timed operation, whichever process ran before: dirty pages written back,
   * clean ones dropped (as root), {@code reread} (files the operation reads, e.g. the upstream's copy of a blob) read
   * back in, and then a scratch file of {@link #SETTLE_BYTES} written and deleted.
   *
   * <p>Why the scratch file: on this VM the first write into guest memory that was never touched (or that the guest
   * handed back to the host after it was freed, as dropping the cache does) costs about 2.5 s of system CPU per GiB,
   * ten times a write into pages the guest reuses (dd of 1 GiB: 2.50 against 0.22 s sys). A pull or a build that
   * writes a GiB then measures the VM more than the program, by up to a second and a half, depending on what ran
   * before. The scratch file leaves touched pages on the free lists for whatever writes next; it is done the same way
   * before each peer's operation.
   */
  void settlePageCache(Path... reread) {
    Proc.run(Duration.ofMinutes(5), List.of("sync"));
    if ("root".equals(System.getProperty("user.name"))) {
      Proc.run(Duration.ofMinutes(1), List.of("sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"));
    }
    for (Path file : reread) {
      Proc.run(Duration.ofMinutes(5), List.of("sh", "-c", "cat \"$0\" > /dev/null", file.toString()));
    }
    Path scratch = work.resolve("settle.scratch");
    Proc.run(Duration.ofMinutes(5), List.of("sh", "-c", "dd if=/dev/zero of=\"$0\" bs=1M count=$1 status=none && "
        + "rm -f \"$0\"", scratch.toString(), Long.toString(SETTLE_BYTES >> 20)));
  }

  /** Pulls each warm-up blob once through the proxy at {@code base}. */
  void warmUp(String base) {
    for (Images.Pushed image : warmupImages) {
      Curl.get(base + image.blobPath());
    }
  }

  /** How a process was warmed up: pulls in all, and its JIT compiler threads' CPU seconds during the last one. */
  record WarmUp(int pulls, double lastCompilerSeconds) {}

  /**
   * Warms {@code server} up until its serving path is compiled: the warm-up pulls of {@link #warmUp}, then further
   * distinct cold pulls the size of the measured one until one in which the process's JIT compiler threads used at
   * most {@link #QUIET_COMPILER_SECONDS} (at most {@link #MORE_WARMUP} more); then waits until the process is idle. A
   * process without compiler threads (distribution) stops after the standard pulls, as does a JVM whose last standard
   * pull was quiet. The same rule for both peers, as figure 1 warms distribution until its upstream goes quiet.
   */
  WarmUp warmUpUntilCompiled(ServerProcess server) {
    List<Images.Pushed> pulls = new ArrayList<>(warmupImages);
    pulls.addAll(moreWarmupImages);
    int done = 0;
    double compiling = 0;
    for (Images.Pushed image : pulls) {
      if (done >= warmupImages.size() && compiling <= QUIET_COMPILER_SECONDS) {
        break;
      }
      double before = ProcFs.compilerSeconds(server.pid());
      Curl.get(server.url() + image.blobPath());
      compiling = ProcFs.compilerSeconds(server.pid()) - before;
      done++;
    }
    ProcFs.cpuSecondsWhenIdle(server.pid());
    return new WarmUp(done, compiling);
  }

  /** Deletes {@code work/name} and everything under it. */
  void delete(String name) {
    Proc.run(Duration.ofMinutes(5), List.of("rm", "-rf", work.resolve(name).toString()));
  }

  synchronized <T extends AutoCloseable> T keep(T resource) {
    open.add(resource);
    return resource;
  }

  /** Stops a kept resource now; a failure to stop is logged, not thrown. */
  synchronized void stop(AutoCloseable resource) {
    open.remove(resource);
    try {
      resource.close();
    } catch (Exception e) {
      System.out.println("  (stopping " + resource + ": " + e + ")");
    }
  }

  /** Stops every kept resource, the last kept first. */
  synchronized void closeAll() {
    List<AutoCloseable> all = new ArrayList<>(open);
    Collections.reverse(all);
    all.forEach(this::stop);
  }

  static void log(String s) {
    System.out.println("[" + LocalTime.now().withNano(0) + "] " + s);
  }

  /** Fails the bench step {@code what} unless {@code ok}. */
  static void check(boolean ok, String what) {
    if (!ok) {
      throw new IllegalStateException("bench step failed: " + what);
    }
  }

  static long mib(long bytes) {
    return bytes >> 20;
  }
}
