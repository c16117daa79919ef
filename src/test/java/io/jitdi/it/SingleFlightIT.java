package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** One upstream fetch per digest, whoever asks and however they ask (whole or by range). */
class SingleFlightIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static FaultRelay relay;
  static Jitdi jitdi;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    relay = FaultRelay.to(upstream.port());
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(relay.url(), "2GiB"));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(jitdi, relay, upstream);
  }

  @Test
  void eightConcurrentColdGetsOfA256MiBBlobMakeOneUpstreamGet() throws Exception {
    Images.Pushed image = Images.pushRandomImage(upstream, dir, "big/model", "v1", 256L << 20, 42);
    Metrics before = jitdi.metrics();
    String url = jitdi.url() + "/v2/big/model/blobs/" + image.layer();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<Http.Streamed>> gets = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      gets.add(pool.submit(() -> Http.stream(url)));
    }
    for (Future<Http.Streamed> get : gets) {
      Http.Streamed body = get.get(5, TimeUnit.MINUTES);
      assertEquals(200, body.status());
      assertFalse(body.broken());
      assertEquals(image.layerSize(), body.bytes());
      assertEquals(image.layer(), body.digest());
      assertEquals(image.layer().toString(), body.header("Docker-Content-Digest"));
    }
    pool.shutdown();
    assertEquals(1, upstream.blobGets("big/model", image.layer()), "exactly one upstream GET");
    Metrics m = jitdi.metrics();
    assertEquals(1, m.value("jitdi_cache_requests_total", "kind", "blob", "result", "miss")
        - before.value("jitdi_cache_requests_total", "kind", "blob", "result", "miss"), 0.0);
    assertEquals(7, m.value("jitdi_cache_requests_total", "kind", "blob", "result", "coalesced")
        - before.value("jitdi_cache_requests_total", "kind", "blob", "result", "coalesced"), 0.0);
  }

  @Test
  void rangesOfABlobStillFillingAndOfACachedBlobGiveTheRightBytes() throws Exception {
    Path local = dir.resolve("ranged");
    Digest digest = Images.randomFile(local, 48L << 20, 7);
    upstream.pushBlobFile("ranged/blob", local, digest);
    byte[] content = Files.readAllBytes(local);
    String url = jitdi.url() + "/v2/ranged/blob/blobs/" + digest;

    relay.throttle(16L << 20); // 16 MiB/s: the fill takes about three seconds
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      Future<Http.Streamed> whole = pool.submit(() -> Http.stream(url));
      Future<Http.Bytes> early = pool.submit(() -> rangeOf(url, 1000, 1999));
      Future<Http.Bytes> late = pool.submit(() -> rangeOf(url, (40L << 20), (40L << 20) + 65535));
      assertRange(early.get(2, TimeUnit.MINUTES), content, 1000, 1999);
      assertRange(late.get(2, TimeUnit.MINUTES), content, 40L << 20, (40L << 20) + 65535);
      assertEquals(digest, whole.get(2, TimeUnit.MINUTES).digest());
    } finally {
      relay.throttle(-1);
      pool.shutdown();
    }
    assertEquals(1, upstream.blobGets("ranged/blob", digest), "ranges joined the one fill");

    assertRange(rangeOf(url, 0, 0), content, 0, 0);
    Http.Text tail = Http.get(url, Map.of("Range", "bytes=-10"));
    assertEquals(206, tail.status());
    assertEquals("bytes " + (content.length - 10) + "-" + (content.length - 1) + "/" + content.length,
        tail.header("Content-Range"));
    Http.Text beyond = Http.get(url, Map.of("Range", "bytes=" + content.length + "-"));
    assertEquals(416, beyond.status());
    assertTrue(beyond.body().contains("RANGE_INVALID"), beyond.body());
    assertEquals(1, upstream.blobGets("ranged/blob", digest), "cached ranges come from disk");
  }

  private static Http.Bytes rangeOf(String url, long first, long last) {
    return Http.getBytes(url, Map.of("Range", "bytes=" + first + "-" + last));
  }

  private static void assertRange(Http.Bytes r, byte[] content, long first, long last) {
    assertEquals(206, r.status(), new String(r.body(), java.nio.charset.StandardCharsets.UTF_8));
    assertEquals("bytes " + first + "-" + last + "/" + content.length, r.header("Content-Range"));
    byte[] expected = java.util.Arrays.copyOfRange(content, (int) first, (int) last + 1);
    assertEquals(expected.length, Long.parseLong(r.header("Content-Length")));
    org.junit.jupiter.api.Assertions.assertArrayEquals(expected, r.body(), "range bytes");
  }
}
