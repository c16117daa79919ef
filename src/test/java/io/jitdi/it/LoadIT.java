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
 * no 5xx, file descriptors back to their baseline, heap bounded. Runs in the load profile ({@code mvn -B verify
 * -Pload}), which .ci/run also runs. Throughput and latency are reported, not asserted.
 */
class LoadIT {
  static final int CONNECTIONS = 500;
  static final int SECONDS = 60;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static Jitdi jitdi;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(upstream.url(), "2GiB"), List.of("-Xmx256m"));
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
      } else if (r < 85) {
        return new LoadClient.Request(HttpMethod.GET, pick(hot, random), null);
      } else if (r < 95) {
        return new LoadClient.Request(HttpMethod.GET, pick(cold, random), null);
      }
      return new LoadClient.Request(HttpMethod.GET, unknown, null);
    };

    long fdsBefore = openFds();
    AtomicLong peakHeap = new AtomicLong();
    AtomicBoolean sampling = new AtomicBoolean(true);
    Thread sampler = new Thread(() -> {
      while (sampling.get()) {
        try {
          peakHeap.accumulateAndGet((long) jitdi.metrics().value("jvm_memory_used_bytes", "area", "heap"), Math::max);
        } catch (RuntimeException ignored) {
          // a scrape can lose to the load; the next one counts
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
    String report = result + "\npeak heap used: " + peakHeap.get() + " bytes (-Xmx256m)\nopen fds before: " + fdsBefore
        + "\n";
    Files.writeString(Path.of("target/load-report.txt"), report);
    System.out.println("LoadIT: " + report);

    assertEquals(0, result.serverErrors(), "no 5xx: " + result);
    assertEquals(0, result.failures(), "no failed connections: " + result);
    assertEquals(0, result.other(), "only 200 and 404: " + result);
    assertTrue(result.requests() > CONNECTIONS * 10L, result.toString());
    assertTrue(result.notFound() > 0 && result.ok() > 0, result.toString());
    assertTrue(jitdi.proc().alive());
    assertTrue(peakHeap.get() < 256L << 20, "heap bounded: " + peakHeap.get());

    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    long fdsAfter;
    while ((fdsAfter = openFds()) > fdsBefore + 20) {
      assertTrue(System.nanoTime() < deadline, "open files " + fdsAfter + " did not return to about " + fdsBefore);
      Proc.sleep(200);
    }
    assertEquals(200, Http.get(jitdi.url() + "/v2/").status(), "still serving");
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
