package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upstream that dies, stalls or lies mid-blob, through a fault-injecting relay in front of a real registry. A
 * client gets the right bytes or a broken transfer, never a clean short body, and nothing unverified is kept.
 */
class UpstreamFaultsIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static FaultRelay relay;
  static Jitdi jitdi;
  /** The upstream idle timeout under test; the stall test stalls far longer than this. */
  static final String IDLE_TIMEOUT = "2s";

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    relay = FaultRelay.to(upstream.port());
    String config = Jitdi.config(relay.url(), "2GiB");
    assertTrue(config.contains("idleTimeout: 10s"), config);
    jitdi = Jitdi.start(dir.resolve("jitdi"), config.replace("idleTimeout: 10s", "idleTimeout: " + IDLE_TIMEOUT));
  }

  @AfterAll
  static void stop() {
    jitdi.close();
    relay.close();
    upstream.close();
  }

  @AfterEach
  void heal() {
    relay.heal();
  }

  private static Digest push(String repo, long size, long seed) {
    return Images.pushRandomBlob(upstream, dir, repo, size, seed);
  }

  private static String url(String repo, Digest digest) {
    return jitdi.url() + "/v2/" + repo + "/blobs/" + digest;
  }

  private static Path cached(Digest digest) {
    return jitdi.cacheDir().resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex());
  }

  private static void awaitNoFills() {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (jitdi.metrics().value("jitdi_fills_inflight") > 0) {
      assertTrue(System.nanoTime() < deadline, "fills did not end");
      Proc.sleep(50);
    }
  }

  @Test
  void aCutTransferIsResumedWithRangeAndTheBlobIsFetchedAboutOnce() {
    long size = 64L << 20;
    Digest digest = push("faults/cut", size, 1);
    long before = relay.bytesRelayed();
    relay.onRequest("/faults/cut/blobs/", FaultRelay.Kind.CUT, 20L << 20, 0);
    Http.Streamed body = Http.stream(url("faults/cut", digest));
    assertEquals(200, body.status());
    assertFalse(body.broken());
    assertEquals(digest, body.digest(), "the client never noticed");
    long fetched = relay.bytesRelayed() - before;
    assertTrue(fetched <= size * 1.1, "upstream bytes " + fetched + " for a blob of " + size);
    assertEquals(1, upstream.requests("GET", "/v2/faults/cut/blobs/") - 1, "one resume request");
    assertTrue(upstream.proc().log().contains("\"GET /v2/faults/cut/blobs/" + digest + " HTTP/1.1\" 206"),
        "the resume asked for a Range");
    assertTrue(Files.exists(cached(digest)));
  }

  @Test
  void whenTheUpstreamKeepsFailingTheClientSeesABrokenTransferAndNothingIsKept() throws Exception {
    Digest digest = push("faults/down", 16L << 20, 2);
    relay.cutEveryConnectionAfter(4L << 20);
    Http.Streamed broken = Http.stream(url("faults/down", digest));
    assertTrue(broken.broken(), "a broken transfer, not a clean short 200: status " + broken.status() + ", "
        + broken.bytes() + " bytes");
    assertTrue(broken.bytes() < 16L << 20);
    awaitNoFills();
    assertFalse(Files.exists(cached(digest)), "no blob file");
    try (var tmp = Files.list(jitdi.cacheDir().resolve("tmp"))) {
      assertEquals(0, tmp.count(), "tmp/ is empty");
    }
    relay.heal();
    Http.Streamed retry = Http.stream(url("faults/down", digest));
    assertEquals(200, retry.status());
    assertFalse(retry.broken());
    assertEquals(digest, retry.digest(), "the second try succeeds");
  }

  @Test
  void aFlippedByteIsRejectedNotCachedAndCounted() {
    Digest digest = push("faults/flip", 8L << 20, 3);
    double mismatches = jitdi.metrics().value("jitdi_digest_mismatch_total", "upstream", "docker.io");
    relay.onRequest("/faults/flip/blobs/", FaultRelay.Kind.FLIP, 3L << 20, 0);
    Http.Streamed body = Http.stream(url("faults/flip", digest));
    assertTrue(body.broken(), "the client sees a broken transfer");
    assertFalse(digest.equals(body.digest()) && !body.broken());
    awaitNoFills();
    assertEquals(mismatches + 1, jitdi.metrics().value("jitdi_digest_mismatch_total", "upstream", "docker.io"), 0.0);
    assertFalse(Files.exists(cached(digest)), "not cached");
    Http.Streamed clean = Http.stream(url("faults/flip", digest));
    assertEquals(200, clean.status());
    assertEquals(digest, clean.digest());
    assertEquals(2, upstream.blobGets("faults/flip", digest), "fetched again");
  }

  @Test
  void aStalledUpstreamIsCutByTheIdleTimeoutAndResumed() throws Exception {
    long size = 16L << 20;
    Digest digest = push("faults/stall", size, 4);
    String path = "/v2/faults/stall/blobs/" + digest;
    int logMark = jitdi.log().length(); // this test reads only what jitdi logs from here on
    long getsBefore = relay.requests("GET", path);
    relay.onRequest("/faults/stall/blobs/", FaultRelay.Kind.STALL, 2L << 20, 20_000);

    Http.Streamed body = Http.stream(url("faults/stall", digest));
    assertEquals(200, body.status());
    assertFalse(body.broken());
    assertEquals(digest, body.digest());

    // the stall was cut by the idle timeout, not waited out ...
    assertEquals(2, relay.requests("GET", path) - getsBefore,
        "the stalled GET and one resume went upstream: " + relay.requestLines());
    String log = jitdi.log().substring(logMark);
    Matcher cut = Pattern.compile("blob " + Pattern.quote(digest.toString()) + " cut at byte (\\d+) of " + size
        + " \\(the upstream sent nothing for " + Duration.parse("PT" + IDLE_TIMEOUT).toMillis()
        + " ms after \\1 bytes of the body\\); resuming with Range, attempt 1$", Pattern.MULTILINE).matcher(log);
    assertTrue(cut.find(), "jitdi logged the idle timeout and the resume:\n" + Tools.tail(log, 4000));
    long from = Long.parseLong(cut.group(1));
    assertTrue(from > 0 && from < size, "cut inside the body at " + from);
    assertFalse(log.contains("resuming with Range, attempt 2"), "one resume was enough:\n" + Tools.tail(log, 4000));

    // ... and resumed with a Range for exactly the missing bytes (the upstream logs a 206 once it has sent them)
    Pattern ranged = Pattern.compile("\"GET " + Pattern.quote(path) + " HTTP/1\\.1\" 206 (\\d+) ");
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    Matcher partial;
    while (!(partial = ranged.matcher(upstream.proc().log())).find()) {
      assertTrue(System.nanoTime() < deadline, "no 206 for the resume in the upstream's access log");
      Proc.sleep(50);
    }
    assertEquals(size - from, Long.parseLong(partial.group(1)), "the resume asked for the rest from byte " + from);

    awaitNoFills();
    assertTrue(Files.exists(cached(digest)), "cached");
    assertEquals(digest, io.jitdi.cache.FileDigests.sha256(cached(digest)), "the cached blob is the right one");
  }
}
