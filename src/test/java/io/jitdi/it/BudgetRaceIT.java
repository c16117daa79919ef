package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The byte budget under races: fills that each fit but not together, started at the same moment; and eviction running
 * while fills commit and JIT layers are built and read. The bytes on disk ({@code blobs/} plus {@code tmp/}) are
 * sampled all along, as EvictionIT does; every answer must be the right bytes, complete.
 */
class BudgetRaceIT extends UpstreamPerClass {
  static final long MIB = 1L << 20;

  FaultRelay relay;
  Jitdi jitdi;

  @AfterEach
  void stopJitdi() {
    Tools.closeAll(jitdi, relay);
  }

  @Test
  void twoFillsThatFitAloneButNotTogetherKeepTheBudgetWhenStartedAtOnce() throws Exception {
    long max = 64 * MIB;
    relay = FaultRelay.to(upstream.port());
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(relay.url(), "64MiB"));
    Images.Pushed a = Images.pushRandomImage(upstream, dir, "budget/a", "v1", 40 * MIB, 71);
    Images.Pushed b = Images.pushRandomImage(upstream, dir, "budget/b", "v1", 40 * MIB, 72);
    relay.throttle(16 * MIB); // each fill takes about 2.5 s: long enough to overlap and to be sampled

    try (Sampler disk = new Sampler(jitdi)) {
      List<Http.Streamed> got = atOnce(List.of(() -> Http.stream(blobUrl(a)), () -> Http.stream(blobUrl(b))));
      for (int i = 0; i < 2; i++) {
        Images.Pushed image = i == 0 ? a : b;
        Http.Streamed r = got.get(i);
        assertEquals(200, r.status(), image.repo());
        assertFalse(r.broken(), image.repo() + " complete");
        assertEquals(image.layer(), r.digest(), image.repo() + " has the right bytes");
      }
      assertEquals(1, upstream.blobGets("budget/a", a.layer()));
      assertEquals(1, upstream.blobGets("budget/b", b.layer()));
      awaitNoFills(jitdi);
      disk.stop();
      assertTrue(disk.samples() > 10, "the sampler ran: " + disk.samples() + " samples");
      assertTrue(disk.peak() <= max, "blobs/ + tmp/ peaked at " + disk.peak() + " bytes, over the budget of " + max);
    }
    assertTrue(jitdi.bytesUnder("blobs") <= max, "after: " + jitdi.bytesUnder("blobs"));
    assertTrue(jitdi.metrics().value("jitdi_cache_size_bytes") <= max);
    assertTrue(Files.exists(cached(jitdi, a.layer())) || Files.exists(cached(jitdi, b.layer())),
        "one of them was cached");
  }

  @Test
  void evictionRacingCommitsAndJitBuildsGivesEveryReaderTheRightBytes() throws Exception {
    long max = 40 * MIB;
    int count = 6;
    Path models = dir.resolve("models");
    Files.createDirectories(models);
    List<Images.Pushed> pulled = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      Images.randomFile(models.resolve("m" + i + ".bin"), 8 * MIB, 300 + i);
      pulled.add(Images.pushRandomImage(upstream, dir, "race/u" + i, "v1", 8 * MIB, 400 + i));
    }
    // 6 x 8 MiB of JIT layers and 6 x 8 MiB of upstream blobs: 96 MiB through a budget of 40 MiB
    jitdi = Jitdi.start(dir.resolve("jitdi"), """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 40MiB}
        upstreams:
          docker.io: {url: "%1$s"}
        jit:
          fileRoots: [%2$s]
        images:
          - name: race
            match: "race/m{n}:{tag}"
            registry: jit.local
            platforms: [linux/amd64]
            files: [{source: "%2$s/m{n}.bin", destination: /models/}]
        """.formatted(upstream.url(), models));

    List<String> wrong = new CopyOnWriteArrayList<>();
    Map<String, Digest> jitLayers = new ConcurrentHashMap<>();
    AtomicLong answers = new AtomicLong();
    AtomicBoolean writersDone = new AtomicBoolean();
    try (Sampler disk = new Sampler(jitdi)) {
      Callable<Void> jitWriter = () -> {
        for (int i = 0; i < count; i++) {
          String image = "race/m" + i;
          Digest layer = jitLayer(image);
          check(wrong, answers, image + " layer", jitdi.url() + "/v2/" + image + "/blobs/" + layer + "?ns=jit.local",
              layer);
          jitLayers.put(image, layer);
        }
        return null;
      };
      Callable<Void> fillWriter = () -> {
        for (Images.Pushed p : pulled) {
          check(wrong, answers, p.repo() + " layer", blobUrl(p), p.layer());
        }
        return null;
      };
      // a reader of everything already read, round and round, while the writers push it out of the budget
      Callable<Void> reader = () -> {
        for (int round = 0; round < 200 && !writersDone.get(); round++) {
          for (Map.Entry<String, Digest> e : jitLayers.entrySet()) {
            check(wrong, answers, "re-read " + e.getKey(), jitdi.url() + "/v2/" + e.getKey() + "/blobs/" + e.getValue()
                + "?ns=jit.local", e.getValue());
          }
          for (Images.Pushed p : pulled.subList(0, 2)) {
            check(wrong, answers, "re-read " + p.repo(), blobUrl(p), p.layer());
          }
        }
        return null;
      };
      ExecutorService pool = Executors.newFixedThreadPool(3);
      try {
        Future<Void> j = pool.submit(jitWriter);
        Future<Void> f = pool.submit(fillWriter);
        Future<Void> r = pool.submit(reader);
        j.get(5, TimeUnit.MINUTES);
        f.get(5, TimeUnit.MINUTES);
        writersDone.set(true);
        r.get(5, TimeUnit.MINUTES);
      } finally {
        pool.shutdownNow();
      }
      awaitNoFills(jitdi);
      disk.stop();
      assertTrue(wrong.isEmpty(), wrong.size() + " of " + answers.get() + " answers were wrong or broken:\n"
          + String.join("\n", wrong));
      assertTrue(answers.get() >= 2 * count, "answers: " + answers.get());
      assertTrue(jitdi.metrics().value("jitdi_cache_evictions_total") >= 3, "eviction ran during the race");
      assertTrue(disk.peak() <= max, "blobs/ + tmp/ peaked at " + disk.peak() + " bytes, over " + max);
    }
    // afterwards: within the budget, and every evicted JIT layer is built again with its digest
    assertTrue(jitdi.bytesUnder("blobs") <= max, "after: " + jitdi.bytesUnder("blobs"));
    assertTrue(jitdi.metrics().value("jitdi_cache_size_bytes") <= max);
    for (Map.Entry<String, Digest> e : jitLayers.entrySet()) {
      Http.Streamed again = Http.stream(jitdi.url() + "/v2/" + e.getKey() + "/blobs/" + e.getValue() + "?ns=jit.local");
      assertEquals(e.getValue(), again.digest(), e.getKey());
      assertFalse(again.broken());
    }
    assertTrue(jitdi.log().contains("was evicted; building it again"), "some JIT layer was rebuilt after eviction");
    assertFalse(jitdi.log().contains(" ERROR "), "no errors logged:\n" + Tools.tail(jitdi.log(), 3000));
  }

  /** Streams {@code url} and records it in {@code wrong} unless it is a complete 200 of {@code expected}. */
  private static void check(List<String> wrong, AtomicLong answers, String what, String url, Digest expected) {
    Http.Streamed r = Http.stream(url);
    answers.incrementAndGet();
    if (r.status() != 200 || r.broken() || !expected.equals(r.digest())) {
      wrong.add(what + ": status " + r.status() + ", broken " + r.broken() + ", " + r.bytes() + " bytes, "
          + r.digest() + " (expected " + expected + ")");
    }
  }

  /** The digest of the JIT layer of {@code image}:v1 (asking for its manifest builds it). */
  private Digest jitLayer(String image) {
    String accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";
    Http.Text index = Http.get(jitdi.url() + "/v2/" + image + "/manifests/v1?ns=jit.local", Map.of("Accept", accept));
    assertEquals(200, index.status(), index.body());
    String manifestDigest = new JsonObject(index.body()).getJsonArray("manifests").getJsonObject(0).getString("digest");
    Http.Text manifest = Http.get(jitdi.url() + "/v2/" + image + "/manifests/" + manifestDigest + "?ns=jit.local",
        Map.of("Accept", accept));
    assertEquals(200, manifest.status(), manifest.body());
    JsonArray layers = new JsonObject(manifest.body()).getJsonArray("layers");
    return Digest.parse(layers.getJsonObject(layers.size() - 1).getString("digest"));
  }

  private String blobUrl(Images.Pushed image) {
    return jitdi.url() + "/v2/" + image.repo() + "/blobs/" + image.layer();
  }

  static Path cached(Jitdi jitdi, Digest digest) {
    return jitdi.cacheDir().resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex());
  }

  static void awaitNoFills(Jitdi jitdi) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (jitdi.metrics().value("jitdi_fills_inflight") > 0) {
      assertTrue(System.nanoTime() < deadline, "fills did not end");
      Proc.sleep(50);
    }
  }

  /** Runs the tasks released together by one latch, and returns their results in order. */
  static <T> List<T> atOnce(List<Callable<T>> tasks) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(tasks.size());
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<T>> futures = new ArrayList<>();
      for (Callable<T> task : tasks) {
        futures.add(pool.submit(() -> {
          go.await();
          return task.call();
        }));
      }
      go.countDown();
      List<T> results = new ArrayList<>();
      for (Future<T> f : futures) {
        results.add(f.get(5, TimeUnit.MINUTES));
      }
      return results;
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Samples the bytes of {@code blobs/} and {@code tmp/} of a jitdi's cache until stopped. {@code blobs/} is walked
   * before {@code tmp/}, so a file renamed from tmp/ to blobs/ between the two walks is missed once rather than
   * counted twice (no false alarm); a file gone while being measured counts 0.
   */
  static final class Sampler implements AutoCloseable {
    private final AtomicLong peak = new AtomicLong();
    private final AtomicLong samples = new AtomicLong();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread thread;

    Sampler(Jitdi jitdi) {
      Path blobs = jitdi.cacheDir().resolve("blobs");
      Path tmp = jitdi.cacheDir().resolve("tmp");
      thread = new Thread(() -> {
        while (running.get()) {
          long total = bytes(blobs) + bytes(tmp);
          peak.accumulateAndGet(total, Math::max);
          samples.incrementAndGet();
          Proc.sleep(5);
        }
      }, "budget-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    private static long bytes(Path root) {
      if (!Files.exists(root)) {
        return 0;
      }
      for (int attempt = 0; ; attempt++) {
        try (Stream<Path> walk = Files.walk(root)) {
          return walk.mapToLong(p -> {
            try {
              return Files.isRegularFile(p) ? Files.size(p) : 0;
            } catch (NoSuchFileException gone) {
              return 0;
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }).sum();
        } catch (IOException | UncheckedIOException e) {
          // a directory vanished under the walk (a blob's parent, a temp file); walk again
          if (attempt >= 20) {
            throw new AssertionError("cannot measure " + root, e);
          }
        }
      }
    }

    long peak() {
      return peak.get();
    }

    long samples() {
      return samples.get();
    }

    void stop() throws InterruptedException {
      running.set(false);
      thread.join(10_000);
    }

    @Override
    public void close() throws InterruptedException {
      stop();
    }
  }
}
