package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import io.vertx.core.http.HttpMethod;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * 500 connections for 60 seconds with a Vert.x load client (Debian's wrk cannot do HEAD), mixing manifest HEAD and GET, blob hits, blob misses and unknown blobs:
 * no 5xx, no request left hanging, sampled blob bodies match their digests, every metrics scrape answered, file
 * descriptors back to their baseline, peak RSS bounded and no live heap left behind after a full GC. Runs in the load profile ({@code mvn -B verify
 * -Pload}), which .ci/run also runs. Throughput and latency are reported, not asserted.
 */
class LoadIT {
  static final int CONNECTIONS = 500;
  static final int SECONDS = 60;
  /** Peak resident set allowed with -Xmx256m; measured here: 245-310 MiB (see target/load-report.txt). */
  static final long RSS_LIMIT = 512L << 20;
  /**
   * Live heap (after a full GC) a minute of load may leave behind, caches and metrics series included; measured
   * here: 9 MiB before and after. 40 bytes kept per request would exceed it.
   */
  static final long LEAK_LIMIT = 16L << 20;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static Jitdi jitdi;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(upstream.url(), "2GiB"), List.of("-Xmx256m",
        "-Xlog:gc:file=" + dir.resolve("gc.log")));
  }

  @AfterAll
  static void stop() {
    jitdi.close();
    upstream.close();
  }

  @Test
  void fiveHundredConnectionsForAMinuteGiveNo5xxAndLeakNothing() throws Exception {
    Images.Pushed image = Images.pushRandomImage(upstream, dir, "load/app", "v1", 256 << 10, 1);
    List<String> hot = new ArrayList<>();
    List<String> cold = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      Digest d = upstream.pushBlob("load/blobs", Images.randomBytes(16 << 10, 100 + i));
      (i < 30 ? hot : cold).add("/v2/load/blobs/blobs/" + d);
    }
    for (String path : hot) {
      assertEquals(200, Http.stream(jitdi.url() + path).status());
    }
    assertEquals(200, Http.get(jitdi.url() + "/v2/load/app/manifests/v1",
        Map.of("Accept", "application/vnd.oci.image.manifest.v1+json")).status());
    String unknown = "/v2/load/blobs/blobs/sha256:" + "0".repeat(64);
    String accept = "application/vnd.oci.image.manifest.v1+json";
    SplittableRandom random = new SplittableRandom(7);
    // 40% manifest HEAD by tag, 20% manifest GET by digest, 25% cached blobs, 10% cold blobs, 5% unknown blobs
    Supplier<LoadClient.Request> next = () -> {
      int r;
      synchronized (random) {
        r = random.nextInt(100);
      }
      if (r < 40) {
        return new LoadClient.Request(HttpMethod.HEAD, "/v2/load/app/manifests/v1", accept);
      } else if (r < 60) {
        return new LoadClient.Request(HttpMethod.GET, "/v2/load/app/manifests/" + image.manifest(), accept);
      } else if (r < 95) {
        String path = pick(r < 85 ? hot : cold, random);
        // one blob body in four is hashed and compared with its digest
        return new LoadClient.Request(HttpMethod.GET, path, null, r % 4 == 0
            ? path.substring(path.lastIndexOf('/') + 1) : null);
      }
      return new LoadClient.Request(HttpMethod.GET, unknown, null);
    };

    long fdsBefore = openFds();
    long liveBefore = liveHeapAfterFullGc();
    AtomicLong peakRss = new AtomicLong();
    AtomicLong scrapes = new AtomicLong();
    List<String> scrapeErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
    AtomicBoolean sampling = new AtomicBoolean(true);
    Thread sampler = new Thread(() -> {
      while (sampling.get()) {
        peakRss.accumulateAndGet(statusKb("VmRSS") << 10, Math::max);
        try {
          if (jitdi.metrics().value("jvm_memory_used_bytes", "area", "heap") <= 0) {
            throw new AssertionError("no heap figure in /metrics");
          }
          scrapes.incrementAndGet();
        } catch (RuntimeException | AssertionError e) {
          scrapeErrors.add(e.toString());
        }
        Proc.sleep(1000);
      }
    });
    sampler.start();
    LoadClient.Result result;
    try {
      result = LoadClient.run("127.0.0.1", jitdi.port(), CONNECTIONS, Duration.ofSeconds(SECONDS), next);
    } finally {
      sampling.set(false);
      sampler.join();
    }
    long hwm = statusKb("VmHWM") << 10;
    long liveAfter = liveHeapAfterFullGc();
    long maxAfterGc = afterCollectionHeaps().stream().mapToLong(Long::longValue).max().orElse(-1);
    String report = result + "\nRSS: peak sampled " + peakRss.get() + " bytes, VmHWM " + hwm + " bytes (-Xmx256m)"
        + "\nheap after full GC: " + liveBefore + " bytes before the load, " + liveAfter + " after; largest heap after "
        + "any collection: " + maxAfterGc + "\nmetrics scrapes: " + scrapes.get() + " ok, errors " + scrapeErrors
        + "\nopen fds before: " + fdsBefore + "\n";
    Files.writeString(Path.of("target/load-report.txt"), report);
    System.out.println("LoadIT: " + report);

    assertEquals(0, result.serverErrors(), "no 5xx: " + result);
    assertEquals(0, result.failures(), "no failed connections: " + result);
    assertEquals(0, result.hung(), "no request left unanswered: " + result);
    assertEquals(0, result.other(), "only 200 and 404: " + result);
    assertTrue(result.requests() > CONNECTIONS * 10L, result.toString());
    assertTrue(result.notFound() > 0 && result.ok() > 0, result.toString());
    assertTrue(result.bodiesChecked() > 1000, "a sample of blob bodies was hashed: " + result);
    assertEquals(0, result.badBodies(), "every sampled blob body has its digest: " + result);
    assertTrue(jitdi.proc().alive());
    assertEquals(List.of(), scrapeErrors, "/metrics answered every scrape under load");
    assertTrue(scrapes.get() >= SECONDS / 4, "scraped through the run: " + scrapes.get());
    // what the process really holds: the heap plus direct buffers, metaspace, RocksDB and thread stacks
    assertTrue(hwm > 0 && hwm < RSS_LIMIT, "peak RSS (VmHWM) " + hwm + " under " + RSS_LIMIT);
    // what the heap really keeps: after a full collection, the load left no more than LEAK_LIMIT behind
    assertTrue(liveAfter - liveBefore < LEAK_LIMIT, "live heap after full GC grew by " + (liveAfter - liveBefore)
        + " bytes over the load (" + liveBefore + " -> " + liveAfter + ")");

    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    long fdsAfter;
    while ((fdsAfter = openFds()) > fdsBefore + 20) {
      assertTrue(System.nanoTime() < deadline, "open files " + fdsAfter + " did not return to about " + fdsBefore);
      Proc.sleep(200);
    }
    assertEquals(200, Http.get(jitdi.url() + "/v2/").status(), "still serving");
  }

  /** A {@code /proc/<pid>/status} figure of jitdi, in KiB. */
  private static long statusKb(String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(jitdi.proc().pid()), "status"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
        }
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    throw new AssertionError("no " + field + " in /proc/" + jitdi.proc().pid() + "/status");
  }

  /** Runs a full GC in jitdi (jcmd GC.run) and returns the heap left after it, from jitdi's GC log. */
  private static long liveHeapAfterFullGc() throws Exception {
    int fullsBefore = fullGcs().size();
    String java = System.getProperty("jitdi.java", Path.of(System.getProperty("java.home"), "bin", "java").toString());
    Proc.run(Duration.ofMinutes(1), List.of(Path.of(java).resolveSibling("jcmd").toString(),
        Long.toString(jitdi.proc().pid()), "GC.run"));
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    List<Long> fulls;
    while ((fulls = fullGcs()).size() <= fullsBefore) {
      assertTrue(System.nanoTime() < deadline, "no full GC in the GC log after jcmd GC.run");
      Proc.sleep(100);
    }
    return fulls.get(fulls.size() - 1);
  }

  private static final java.util.regex.Pattern AFTER_GC = java.util.regex.Pattern.compile(
      "(\\d+)([KMG])->(\\d+)([KMG])\\((\\d+)([KMG])\\)");

  /** The heap after each collection the GC log shows. */
  private static List<Long> afterCollectionHeaps() throws Exception {
    return gcLines().stream().map(AFTER_GC::matcher).filter(java.util.regex.Matcher::find)
        .map(m -> Long.parseLong(m.group(3)) << shift(m.group(4))).toList();
  }

  /** The heap after each full collection (jcmd GC.run logs {@code Pause Full (Diagnostic Command)}). */
  private static List<Long> fullGcs() throws Exception {
    return gcLines().stream().filter(l -> l.contains("Pause Full (")).map(AFTER_GC::matcher)
        .filter(java.util.regex.Matcher::find).map(m -> Long.parseLong(m.group(3)) << shift(m.group(4))).toList();
  }

  private static List<String> gcLines() throws Exception {
    Path log = dir.resolve("gc.log");
    return Files.exists(log) ? Files.readAllLines(log) : List.of();
  }

  private static int shift(String unit) {
    return switch (unit) {
      case "K" -> 10;
      case "M" -> 20;
      default -> 30;
    };
  }

  private static long openFds() throws Exception {
    try (var fds = Files.list(Path.of("/proc", Long.toString(jitdi.proc().pid()), "fd"))) {
      return fds.count();
    }
  }

  private static String pick(List<String> paths, SplittableRandom random) {
    synchronized (random) {
      return paths.get(random.nextInt(paths.size()));
    }
  }
}
