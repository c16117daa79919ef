package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The disk: a reader is never cut by eviction, and a full disk (a small tmpfs the test mounts as the cache dir) gives
 * clean errors and stream-through, never a corrupt or partial blob.
 */
class DiskIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static FaultRelay relay;
  static Jitdi budgeted;
  static Jitdi tiny;
  static Path mount;

  @BeforeAll
  static void start() throws IOException {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    relay = FaultRelay.to(upstream.port());
    budgeted = Jitdi.start(dir.resolve("budgeted"), Jitdi.config(upstream.url(), "48MiB"));
    if (!Tools.isRoot()) {
      throw new AssertionError("DiskIT mounts a small tmpfs as a full disk and must run as root");
    }
    mount = dir.resolve("tiny/cache");
    Files.createDirectories(mount);
    // 160 MiB for blobs and the index, 16 more for runtime/ (RocksDB's 15 MB library is unpacked into the cache dir)
    Proc.run(Duration.ofSeconds(30), List.of("mount", "-t", "tmpfs", "-o", "size=176m", "tmpfs", mount.toString()));
    tiny = Jitdi.start(dir.resolve("tiny"), Jitdi.config(relay.url(), "10GiB"));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(tiny, budgeted, relay, upstream);
    if (mount != null) {
      Proc.exec(Duration.ofSeconds(30), java.util.Map.of(), List.of("umount", "-l", mount.toString()));
    }
  }

  private static Images.Pushed push(String repo, long size, long seed) {
    return Images.pushRandomImage(upstream, dir, repo, "v1", size, seed);
  }

  private static Path cached(Jitdi jitdi, Digest digest) {
    return jitdi.cacheDir().resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex());
  }

  /** Reads a blob over a raw socket at about {@code perSecond} bytes a second; returns its sha256. */
  static Digest slowRead(Jitdi jitdi, String path, long perSecond) throws IOException, InterruptedException {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), jitdi.port())) {
      s.setReceiveBufferSize(64 * 1024);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = s.getInputStream();
      StringBuilder head = new StringBuilder();
      while (!head.toString().endsWith("\r\n\r\n")) {
        int c = in.read();
        if (c < 0) {
          throw new IOException("no response head");
        }
        head.append((char) c);
      }
      assertTrue(head.toString().startsWith("HTTP/1.1 200"), head.toString());
      MessageDigest sha256 = Digest.newSha256();
      byte[] chunk = new byte[64 * 1024];
      long started = System.nanoTime();
      long total = 0;
      int n;
      while ((n = in.read(chunk)) >= 0) {
        sha256.update(chunk, 0, n);
        total += n;
        long due = (long) (total * 1e9 / perSecond) - (System.nanoTime() - started);
        if (due > 0) {
          Thread.sleep(due / 1_000_000);
        }
      }
      return Digest.ofSha256Bytes(sha256.digest());
    }
  }

  @Test
  void aSlowReaderOfTheBlobEvictionWouldChooseFirstReadsItToTheEnd() throws Exception {
    Images.Pushed oldest = push("disk/oldest", 24L << 20, 1);
    assertEquals(oldest.layer(), Http.stream(budgeted.url() + "/v2/disk/oldest/blobs/" + oldest.layer()).digest());
    CompletableFuture<Digest> reader = CompletableFuture.supplyAsync(() -> {
      try {
        return slowRead(budgeted, "/v2/disk/oldest/blobs/" + oldest.layer(), 3L << 20);
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    double evictions = budgeted.metrics().value("jitdi_cache_evictions_total");
    for (int i = 0; i < 3; i++) { // 3 x 12 MiB more than the 48 MiB budget holds with the oldest
      Images.Pushed newer = push("disk/newer" + i, 12L << 20, 10 + i);
      assertEquals(newer.layer(), Http.stream(budgeted.url() + "/v2/disk/newer" + i + "/blobs/" + newer.layer())
          .digest());
    }
    assertTrue(budgeted.metrics().value("jitdi_cache_evictions_total") > evictions, "eviction ran during the read");
    assertFalse(reader.isDone(), "the read is still going (it takes about 8 seconds)");
    assertTrue(Files.exists(cached(budgeted, oldest.layer())), "the blob being read was skipped, not deleted");
    assertEquals(oldest.layer(), reader.get(), "the reader got every byte right");

    Images.Pushed last = push("disk/last", 12L << 20, 20);
    assertEquals(last.layer(), Http.stream(budgeted.url() + "/v2/disk/last/blobs/" + last.layer()).digest());
    assertFalse(Files.exists(cached(budgeted, oldest.layer())), "once released, it was the first to go");
    assertTrue(budgeted.bytesUnder("blobs") <= 48L << 20);
  }

  @Test
  void aFullDiskGivesStreamThroughAndCleanErrorsNeverAPartialBlob() throws Exception {
    // 176 MiB of disk, 10 GiB of budget: the disk runs out first
    Images.Pushed first = push("disk/first", 48L << 20, 30);
    assertEquals(first.layer(), Http.stream(tiny.url() + "/v2/disk/first/blobs/" + first.layer()).digest());
    assertTrue(Files.exists(cached(tiny, first.layer())), "cached while there was room");

    Images.Pushed relayed = push("disk/relayed", 64L << 20, 31);
    for (int i = 1; i <= 2; i++) {
      Http.Streamed body = Http.stream(tiny.url() + "/v2/disk/relayed/blobs/" + relayed.layer());
      assertEquals(200, body.status());
      assertFalse(body.broken());
      assertEquals(relayed.layer(), body.digest(), "streamed through, verified");
    }
    assertFalse(Files.exists(cached(tiny, relayed.layer())), "not cached without room");
    assertEquals(2, upstream.blobGets("disk/relayed", relayed.layer()));
    assertTrue(tiny.log().contains("not enough free disk"), "says why");

    // the disk fills up under a fill that had room when it started
    Images.Pushed squeezed = push("disk/squeezed", 24L << 20, 32);
    relay.throttle(8L << 20);
    CompletableFuture<Http.Streamed> client = CompletableFuture.supplyAsync(
        () -> Http.stream(tiny.url() + "/v2/disk/squeezed/blobs/" + squeezed.layer()));
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (tiny.bytesUnder("tmp") < (2L << 20)) {
      assertTrue(System.nanoTime() < deadline, "the fill did not start");
      Proc.sleep(20);
    }
    Path filler = mount.resolve("filler-from-another-process");
    Proc.exec(Duration.ofMinutes(1), java.util.Map.of(), List.of("dd", "if=/dev/zero", "of=" + filler, "bs=1M",
        "count=200"));
    Http.Streamed cut = client.get();
    relay.heal();
    assertTrue(cut.broken() || cut.status() == 503, "a clean error, not a short complete body: " + cut.status());
    assertFalse(Files.exists(cached(tiny, squeezed.layer())), "no partial blob");
    deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (tiny.bytesUnder("tmp") > 0) {
      assertTrue(System.nanoTime() < deadline, "tmp/ was not cleaned up");
      Proc.sleep(50);
    }
    Files.delete(filler);

    Http.Streamed retry = Http.stream(tiny.url() + "/v2/disk/squeezed/blobs/" + squeezed.layer());
    assertEquals(200, retry.status());
    assertEquals(squeezed.layer(), retry.digest());
    Images.Pushed after = push("disk/after", 4L << 20, 33);
    assertEquals(after.layer(), Http.stream(tiny.url() + "/v2/disk/after/blobs/" + after.layer()).digest());
    assertTrue(Files.exists(cached(tiny, after.layer())), "commits (and index writes) work again once space is free");
    assertEquals(200, Http.get(tiny.url() + "/readyz").status());
  }
}
