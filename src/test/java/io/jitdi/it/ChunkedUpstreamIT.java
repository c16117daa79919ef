package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.cache.FileDigests;
import io.jitdi.oci.Digest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An upstream that sends blobs chunked, without Content-Length (a {@link RegistryFront} re-sends a real
 * docker-registry's answers that way). jitdi serves the blob chunked to curl, verified, and caches it; with one byte
 * flipped, curl's transfer fails and nothing is cached.
 */
class ChunkedUpstreamIT extends UpstreamPerClass {
  static final long MIB = 1L << 20;

  RegistryFront front;
  Jitdi jitdi;

  @AfterEach
  void stopJitdi() {
    Tools.closeAll(jitdi, front);
  }

  /** What curl saw: its exit status, the response head, and the body's sha256 and length. */
  record Curl(int exit, String head, Digest digest, long bytes, String output) {
    String header(String name) {
      return head.lines().filter(l -> l.toLowerCase(Locale.ROOT).startsWith(name.toLowerCase(Locale.ROOT) + ":"))
          .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse(null);
    }
  }

  private Curl curl(String url, String name) throws Exception {
    Path head = dir.resolve(name + ".head");
    Path body = dir.resolve(name + ".body");
    Proc.Result r = Proc.exec(Duration.ofMinutes(2), Map.of(), List.of("curl", "-sS", "--http1.1", "-D",
        head.toString(), "-o", body.toString(), url));
    return new Curl(r.exit(), Files.exists(head) ? Files.readString(head) : "",
        Files.exists(body) ? FileDigests.sha256(body) : null, Files.exists(body) ? Files.size(body) : 0, r.output());
  }

  private Digest push(String repo, long size, long seed) {
    Path file = dir.resolve(repo.replace('/', '_'));
    Digest digest = Images.randomFile(file, size, seed);
    upstream.pushBlobFile(repo, file, digest);
    return digest;
  }

  @Test
  void aChunkedUpstreamBlobIsServedChunkedVerifiedAndCached() throws Exception {
    front = RegistryFront.to(upstream.url()).chunked("/blobs/");
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(front.url(), "1GiB"));
    long size = 12 * MIB;
    Digest digest = push("chunked/ok", size, 91);
    String path = "/v2/chunked/ok/blobs/" + digest;
    Http.Text direct = Http.head(front.url() + path, Map.of());
    assertEquals(200, direct.status(), "precondition: the front answers");

    Curl first = curl(jitdi.url() + path, "first");
    assertEquals(0, first.exit(), "curl: " + first.output() + "\n" + first.head());
    assertTrue(first.head().startsWith("HTTP/1.1 200"), first.head());
    assertEquals("chunked", first.header("Transfer-Encoding"), "the size was not known: " + first.head());
    assertEquals(null, first.header("Content-Length"), first.head());
    assertEquals(digest.toString(), first.header("Docker-Content-Digest"));
    assertEquals(size, first.bytes());
    assertEquals(digest, first.digest(), "the right bytes");
    List<String> gets = front.requests().stream().filter(r -> r.startsWith("GET " + path)).toList();
    assertEquals(1, gets.size(), front.requests().toString());

    BudgetRaceIT.awaitNoFills(jitdi);
    Path cached = BudgetRaceIT.cached(jitdi, digest);
    assertTrue(Files.exists(cached), "cached");
    assertEquals(digest, FileDigests.sha256(cached));
    Curl second = curl(jitdi.url() + path, "second");
    assertEquals(0, second.exit(), second.output());
    assertEquals(Long.toString(size), second.header("Content-Length"), "from the cache, the size is known");
    assertEquals(digest, second.digest());
    assertEquals(1, front.count("GET", path), "served from the cache: " + front.requests());
  }

  @Test
  void aChunkedUpstreamBlobWithAFlippedByteBreaksTheClientsTransfer() throws Exception {
    front = RegistryFront.to(upstream.url()).chunked("/blobs/");
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(front.url(), "1GiB"));
    long size = 12 * MIB;
    Digest digest = push("chunked/flipped", size, 92);
    String path = "/v2/chunked/flipped/blobs/" + digest;
    front.flipNextGet(path, 5 * MIB + 17);

    Curl broken = curl(jitdi.url() + path, "flipped");
    assertNotEquals(0, broken.exit(), "curl saw a failed transfer, not a clean end: " + broken.head() + ", "
        + broken.bytes() + " bytes, " + broken.digest());
    assertTrue(broken.head().startsWith("HTTP/1.1 200"), broken.head());
    assertEquals("chunked", broken.header("Transfer-Encoding"), broken.head());
    assertTrue(broken.bytes() < size, "the last byte was held back: " + broken.bytes());
    assertNotEquals(digest, broken.digest());

    BudgetRaceIT.awaitNoFills(jitdi);
    assertFalse(Files.exists(BudgetRaceIT.cached(jitdi, digest)), "not cached");
    assertEquals(1, jitdi.metrics().value("jitdi_digest_mismatch_total", "upstream", "docker.io"), 0.0,
        "counted as a digest mismatch (this test's own jitdi)");
    Curl later = curl(jitdi.url() + path, "later");
    assertEquals(0, later.exit(), later.output());
    assertEquals(digest, later.digest(), "a later pull works");
    assertEquals(2, front.count("GET", path));
  }
}
