package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** The byte budget holds under a workload three times its size, with readers in flight, and evicted images refetch. */
class EvictionIT {
  static final long MAX = 64L << 20;
  static final long LAYER = 12L << 20;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static Jitdi jitdi;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(upstream.url(), "64MiB"));
  }

  @AfterAll
  static void stop() {
    if (jitdi != null) {
      jitdi.close();
    }
    if (upstream != null) {
      upstream.close();
    }
  }

  @Test
  void aWorkloadOfThreeTimesTheBudgetNeverLeavesMoreThanTheBudgetOnDisk() throws Exception {
    List<Images.Pushed> images = new ArrayList<>();
    for (int i = 0; i < 16; i++) { // 16 x 12 MiB = 192 MiB = 3 x 64 MiB
      images.add(Images.pushRandomImage(upstream, dir, "models/m" + i, "v1", LAYER, 100 + i));
    }
    AtomicLong peak = new AtomicLong();
    AtomicBoolean sampling = new AtomicBoolean(true);
    AtomicReference<Throwable> samplerFailed = new AtomicReference<>();
    AtomicLong samples = new AtomicLong();
    Thread sampler = new Thread(() -> {
      try {
        while (sampling.get()) {
          peak.accumulateAndGet(jitdi.bytesUnder("blobs") + jitdi.bytesUnder("tmp"), Math::max);
          samples.incrementAndGet();
          Proc.sleep(5);
        }
      } catch (Throwable t) {
        samplerFailed.set(t);
      }
    });
    sampler.start();
    ExecutorService readers = Executors.newFixedThreadPool(3);
    try {
      for (int i = 0; i < images.size(); i++) {
        Images.Pushed image = images.get(i);
        // a reader of an older, cached blob runs while the new image is pulled
        Images.Pushed older = images.get(Math.max(0, i - 2));
        Future<Http.Streamed> concurrent = readers.submit(() -> Http.stream(blobUrl(older)));
        Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false",
            "docker://" + jitdi.hostPort() + "/" + image.repo() + ":v1", "dir:" + dir.resolve("pull-" + i)));
        Http.Streamed read = concurrent.get(2, TimeUnit.MINUTES);
        assertEquals(older.layer(), read.digest(), "a concurrent reader gets the right bytes, evicted or not");
        assertFalse(read.broken());
        assertTrue(jitdi.bytesUnder("blobs") <= MAX, "after pull " + i + ": " + jitdi.bytesUnder("blobs"));
      }
    } finally {
      sampling.set(false);
      sampler.join();
      readers.shutdown();
    }
    if (samplerFailed.get() != null) {
      throw new AssertionError("the disk sampler failed, so its peak means nothing", samplerFailed.get());
    }
    assertTrue(samples.get() > 0 && peak.get() > 0, "the sampler saw the workload: " + samples + " samples");
    assertTrue(peak.get() <= MAX, "peak of blobs/ + tmp/ was " + peak.get() + " > " + MAX);
    Metrics m = jitdi.metrics();
    assertTrue(m.value("jitdi_cache_evictions_total") >= 10, "evictions happened");
    assertTrue(m.value("jitdi_cache_size_bytes") <= MAX);
    assertEquals(MAX, m.value("jitdi_cache_max_bytes"), 0.0);

    Images.Pushed first = images.get(0);
    assertEquals(1, upstream.blobGets(first.repo(), first.layer()));
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false",
        "docker://" + jitdi.hostPort() + "/" + first.repo() + ":v1", "dir:" + dir.resolve("again")));
    assertEquals(2, upstream.blobGets(first.repo(), first.layer()), "the evicted layer was fetched again");
    assertEquals(first.layer(), io.jitdi.cache.FileDigests.sha256(dir.resolve("again/" + first.layer().hex())));
  }

  @Test
  void aBlobLargerThanTheWholeBudgetIsRelayedVerifiedAndNotCached() throws Exception {
    Images.Pushed huge = Images.pushRandomImage(upstream, dir, "models/huge", "v1", MAX + (8L << 20), 999);
    for (int i = 1; i <= 2; i++) {
      Http.Streamed body = Http.stream(blobUrl(huge));
      assertEquals(200, body.status());
      assertFalse(body.broken());
      assertEquals(huge.layer(), body.digest());
      assertEquals(i, upstream.blobGets(huge.repo(), huge.layer()), "streamed through each time");
    }
    assertTrue(jitdi.bytesUnder("blobs") <= MAX);
    assertFalse(java.nio.file.Files.exists(jitdi.cacheDir().resolve("blobs/sha256/" + huge.layer().hex()
        .substring(0, 2) + "/" + huge.layer().hex())));
  }

  private static String blobUrl(Images.Pushed image) {
    return jitdi.url() + "/v2/" + image.repo() + "/blobs/" + image.layer();
  }
}
