package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The guarantee of the blob data path, as a client sees it: a blob response that ends cleanly (a 200 or 206 with all
 * of its Content-Length bytes, or an HTTP/2 END_STREAM) carries bytes that were verified against the digest. A
 * response served from a fill in flight whose upstream bytes turn out wrong is cut or reset, whole or range, first
 * client or follower, HTTP/1.1 or HTTP/2, cached path or relay path: never a clean answer.
 *
 * <p>The upstream is a real docker-registry; a {@link FaultRelay} in front of it flips one byte of a blob's upstream
 * response, throttles it so that requests arrive while the fill is in flight, and counts the upstream GETs. Each test
 * starts its own relay and its own jitdi with its own cache dir, and looks only at its own evidence.
 */
class BlobVerificationIT {
  private static final long MIB = 1L << 20;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path upstreamDir;
  static DockerRegistry upstream;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path dir;
  FaultRelay relay;
  Jitdi jitdi;

  @BeforeAll
  static void startUpstream() {
    upstream = DockerRegistry.start(upstreamDir.resolve("upstream"));
  }

  @AfterAll
  static void stopUpstream() {
    Tools.closeAll(upstream);
  }

  @AfterEach
  void stopJitdi() {
    Tools.closeAll(jitdi, relay);
  }

  /** This test's relay in front of the shared upstream, and this test's jitdi behind it. */
  private void startJitdi(String maxSize) {
    relay = FaultRelay.to(upstream.port());
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(relay.url(), maxSize));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // the cached path: one fill, readers of the growing file

  @Test
  void rangeReadsDuringAFillNeverEndCleanWithUnverifiedBytes() throws Exception {
    startJitdi("2GiB");
    Blob blob = push("verify/ranges-during-fill", 256 * MIB, 101);
    long flipAt = MIB + 4321; // inside the first 4 MiB: inside every range below
    relay.throttle(64 * MIB); // the fill takes about 4 s
    relay.flipBodyByteOfNextGet(blob.path(), flipAt);
    HttpClient http = client(HttpClient.Version.HTTP_1_1);

    CompletableFuture<Seen> starter = CompletableFuture.supplyAsync(
        () -> fetch(http, "the whole GET that starts the fill", blob.url(), null, blob.whole()));
    // by 8 MiB, the flipped byte and all of bytes 0-4194303 are on jitdi's disk: a reader could be answered from them
    awaitRelayed(blob, 8 * MIB);
    long relayedWhenRangesWentOut = relay.bytesRelayedFor(blob.path());
    List<Seen> ranges = atOnce(4, i -> fetch(http, "range reader " + i, blob.url(), "bytes=0-4194303",
        blob.slice(0, 4 * MIB)));
    List<Seen> all = report("ranges during a fill with a flipped byte",
        concat(List.of(starter.get(5, TimeUnit.MINUTES)), ranges));

    assertTrue(relayedWhenRangesWentOut < blob.size(), "precondition: the ranges went out while the fill was in "
        + "flight, after " + relayedWhenRangesWentOut + " of " + blob.size() + " bytes");
    assertNoneCleanWithWrongBytes(all);
    assertAllBroken(all, "the upstream sent a flipped byte at " + flipAt + ", so the fill failed verification");

    awaitNoFills();
    assertFalse(Files.exists(cached(blob)), "the blob that failed verification is not in the cache");
    relay.heal();
    long getsBefore = relay.requests("GET", blob.path());
    Seen later = fetch(http, "a later GET without the fault", blob.url(), null, blob.whole());
    assertEquals(Outcome.CLEAN_CORRECT, later.outcome(), later.toString());
    assertEquals(getsBefore + 1, relay.requests("GET", blob.path()),
        "the later GET was fetched again from upstream: " + relay.requestLines());
    assertTrue(Files.exists(cached(blob)), "once verified, it is cached");
  }

  @Test
  void multipartFetchOfAColdBlobIsOneUpstreamGetAndEveryChunkCorrect() throws Exception {
    startJitdi("2GiB");
    Blob blob = push("verify/multipart", 128 * MIB, 102);
    relay.throttle(64 * MIB); // the fill takes about 2 s, so all 8 chunk requests arrive during it
    HttpClient http = client(HttpClient.Version.HTTP_1_1);
    long chunk = 16 * MIB;
    Metrics before = jitdi.metrics();

    // containerd 2.1's multipart fetch: parallel ranges of one layer
    List<Seen> chunks = report("multipart fetch of a cold blob", atOnce(8, i -> fetch(http, "chunk " + i, blob.url(),
        rangeHeader(i * chunk, chunk), blob.slice(i * chunk, chunk))));

    for (int i = 0; i < 8; i++) {
      Seen seen = chunks.get(i);
      assertEquals(Outcome.CLEAN_CORRECT, seen.outcome(), seen.toString());
      assertEquals(206, seen.status(), seen.toString());
      assertEquals("bytes " + i * chunk + "-" + ((i + 1) * chunk - 1) + "/" + blob.size(), seen.contentRange(),
          seen.toString());
      assertEquals(chunk, seen.declared(), seen.toString());
    }
    assertEquals(1, relay.requests("GET", blob.path()),
        "8 chunks of one cold blob make one upstream GET: " + relay.requestLines());
    assertEquals(0, jitdi.metrics().value("jitdi_cache_requests_total", "kind", "blob", "result", "hit")
        - before.value("jitdi_cache_requests_total", "kind", "blob", "result", "hit"), 0.0,
        "no chunk came after the fill had ended: all 8 were answered from the fill in flight");
    assertTrue(Files.exists(cached(blob)), "the verified blob is cached");
  }

  @Test
  void multipartFetchWithAFlippedByteUpstreamEndsEveryChunkBroken() throws Exception {
    startJitdi("2GiB");
    Blob blob = push("verify/multipart-flipped", 128 * MIB, 103);
    long chunk = 16 * MIB;
    long flipAt = 3 * chunk + 5 * MIB + 77; // in chunk 3; chunks 0-2 and 4-7 carry only the right bytes
    relay.throttle(64 * MIB);
    relay.flipBodyByteOfNextGet(blob.path(), flipAt);
    HttpClient http = client(HttpClient.Version.HTTP_1_1);

    List<Seen> chunks = report("multipart fetch, byte flipped in chunk 3", atOnce(8, i -> fetch(http, "chunk " + i,
        blob.url(), rangeHeader(i * chunk, chunk), blob.slice(i * chunk, chunk))));

    assertNoneCleanWithWrongBytes(chunks);
    assertAllBroken(chunks, "the blob failed verification (a byte flipped in chunk 3), so no chunk of it is "
        + "verified, not even the ones whose own bytes were right");
    assertEquals(1, relay.requests("GET", blob.path()), "they all shared one fill: " + relay.requestLines());
    awaitNoFills();
    assertFalse(Files.exists(cached(blob)), "the blob that failed verification is not in the cache");
  }

  @ParameterizedTest(name = "over {0}")
  @EnumSource(value = HttpClient.Version.class, names = {"HTTP_1_1", "HTTP_2"})
  void everyClientSharingTheFillOfAFlippedBlobEndsBroken(HttpClient.Version version) throws Exception {
    startJitdi("2GiB");
    Blob blob = push("verify/shared-" + version.name().toLowerCase().replace('_', '-'), 48 * MIB, 104);
    relay.throttle(24 * MIB); // about 2 s
    relay.flipBodyByteOfNextGet(blob.path(), 20 * MIB + 5);
    HttpClient http = client(version);
    if (version == HttpClient.Version.HTTP_2) {
      // upgrade to h2c first, so the three GETs are streams of one HTTP/2 connection
      HttpResponse<String> base = http.send(HttpRequest.newBuilder(URI.create(jitdi.url() + "/v2/")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(HttpClient.Version.HTTP_2, base.version(), "jitdi upgraded the connection to h2c");
    }

    List<Seen> clients = report("3 clients sharing a fill over " + version,
        atOnce(3, i -> fetch(http, "client " + i, blob.url(), null, blob.whole())));

    for (Seen seen : clients) {
      assertTrue(seen.version() == null || seen.version() == version, "spoke " + version + ": " + seen);
    }
    assertNoneCleanWithWrongBytes(clients);
    assertAllBroken(clients, "the fill they shared failed verification");
    assertEquals(1, relay.requests("GET", blob.path()), "they shared one fill: " + relay.requestLines());
    awaitNoFills();
    assertFalse(Files.exists(cached(blob)), "the blob that failed verification is not in the cache");
  }

  // ---------------------------------------------------------------------------------------------------------------
  // the relay path: a blob larger than the cache budget is streamed through a verifier, never stored

  @Test
  void theRelayPathResetsAClientWhenTheDigestDoesNotMatch() throws Exception {
    startJitdi("16MiB");
    Blob blob = push("verify/relayed", 24 * MIB, 105); // larger than the budget: relayed, not cached
    long flipAt = 10 * MIB + 99;
    HttpClient http = client(HttpClient.Version.HTTP_1_1);
    String aroundTheFlip = rangeHeader(8 * MIB, 4 * MIB);
    String beforeTheFlip = rangeHeader(0, MIB);

    relay.flipBodyByteOfNextGet(blob.path(), flipAt);
    Seen whole = fetch(http, "whole GET, byte flipped", blob.url(), null, blob.whole());
    relay.flipBodyByteOfNextGet(blob.path(), flipAt);
    Seen around = fetch(http, "range around the flipped byte", blob.url(), aroundTheFlip, blob.slice(8 * MIB, 4 * MIB));
    relay.flipBodyByteOfNextGet(blob.path(), flipAt);
    Seen before = fetch(http, "range before the flipped byte", blob.url(), beforeTheFlip, blob.slice(0, MIB));
    List<Seen> faulty = report("relay path, byte flipped", List.of(whole, around, before));
    assertNoneCleanWithWrongBytes(faulty);
    assertAllBroken(faulty, "the relayed blob failed verification; a range ends only after the whole blob was "
        + "verified");

    relay.heal();
    long getsBefore = relay.requests("GET", blob.path());
    Seen cleanWhole = fetch(http, "whole GET, no fault", blob.url(), null, blob.whole());
    Seen cleanRange = fetch(http, "range, no fault", blob.url(), aroundTheFlip, blob.slice(8 * MIB, 4 * MIB));
    report("relay path, no fault", List.of(cleanWhole, cleanRange));
    assertEquals(Outcome.CLEAN_CORRECT, cleanWhole.outcome(), cleanWhole.toString());
    assertEquals(200, cleanWhole.status(), cleanWhole.toString());
    assertEquals(Outcome.CLEAN_CORRECT, cleanRange.outcome(), cleanRange.toString());
    assertEquals(206, cleanRange.status(), cleanRange.toString());
    assertEquals("bytes " + 8 * MIB + "-" + (12 * MIB - 1) + "/" + blob.size(), cleanRange.contentRange());
    assertFalse(Files.exists(cached(blob)), "a blob larger than the budget is relayed, never cached");
    assertEquals(getsBefore + 2, relay.requests("GET", blob.path()), "each clean answer was relayed from its own "
        + "upstream GET: " + relay.requestLines());
  }

  // ---------------------------------------------------------------------------------------------------------------
  // what a client sees

  /** How a blob response ended, as a client sees it. */
  enum Outcome {
    /** A 200 or 206 that ended cleanly with all of its bytes, and they are the expected bytes. */
    CLEAN_CORRECT,
    /** A 200 or 206 that ended cleanly with all of its bytes, and they are NOT the expected bytes. Never allowed. */
    CLEAN_WRONG,
    /** Reset, cut short, or an error status instead of the blob: the client knows it did not get the blob. */
    BROKEN,
    /** Neither ended nor broke within the time limit. */
    HUNG
  }

  /** What one client saw: how it ended, the status, protocol, declared and received lengths, Content-Range, why. */
  record Seen(String who, Outcome outcome, int status, HttpClient.Version version, long declared, long received,
      String contentRange, String detail) {
    @Override
    public String toString() {
      return who + ": " + outcome + " (status " + status + ", " + version + ", " + received + " of " + declared
          + " declared bytes" + (contentRange == null ? "" : ", Content-Range " + contentRange)
          + (detail == null ? "" : ", " + detail) + ")";
    }
  }

  /** The bytes a request should get, as their sha256 and length. */
  record Expected(Digest digest, long length) {}

  /** A blob pushed to the upstream, its bytes kept in a local file. */
  record Blob(String repo, Digest digest, long size, Path file, String url) {
    String path() {
      return "/v2/" + repo + "/blobs/" + digest;
    }

    Expected whole() {
      return new Expected(digest, size);
    }

    /** The digest and length of {@code length} bytes from {@code offset}. */
    Expected slice(long offset, long length) {
      try (FileChannel channel = FileChannel.open(file)) {
        ByteBuffer bytes = ByteBuffer.allocate((int) length);
        while (bytes.hasRemaining() && channel.read(bytes, offset + bytes.position()) >= 0) {
          // read it all
        }
        bytes.flip();
        MessageDigest sha256 = Digest.newSha256();
        sha256.update(bytes);
        return new Expected(Digest.ofSha256Bytes(sha256.digest()), length);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private Blob push(String repo, long size, long seed) {
    Path file = dir.resolve(repo.replace('/', '_'));
    Digest digest = Images.randomFile(file, size, seed);
    upstream.pushBlobFile(repo, file, digest);
    return new Blob(repo, digest, size, file, jitdi.url() + "/v2/" + repo + "/blobs/" + digest);
  }

  private static String rangeHeader(long offset, long length) {
    return "bytes=" + offset + "-" + (offset + length - 1);
  }

  private static HttpClient client(HttpClient.Version version) {
    return HttpClient.newBuilder().version(version).connectTimeout(Duration.ofSeconds(10))
        .followRedirects(HttpClient.Redirect.NEVER).build();
  }

  /**
   * GETs {@code url} (with {@code range} when not null), hashing the body as it comes, and says how it ended. A
   * body that neither ends nor breaks within two minutes is {@link Outcome#HUNG}.
   */
  static Seen fetch(HttpClient http, String who, String url, String range, Expected expected) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60)).GET();
    if (range != null) {
      request.header("Range", range);
    }
    Probe probe = new Probe();
    CompletableFuture<HttpResponse<Void>> sent = http.sendAsync(request.build(), info -> {
      probe.info = info;
      return probe;
    });
    Throwable failure = null;
    boolean hung = false;
    try {
      sent.get(2, TimeUnit.MINUTES);
    } catch (ExecutionException e) {
      failure = e.getCause();
    } catch (TimeoutException e) {
      hung = true;
      probe.cancel();
      sent.cancel(true);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
    HttpResponse.ResponseInfo info = probe.info;
    int status = info == null ? 0 : info.statusCode();
    HttpClient.Version version = info == null ? null : info.version();
    long declared = info == null ? -1 : info.headers().firstValueAsLong("Content-Length").orElse(-1);
    String contentRange = info == null ? null : info.headers().firstValue("Content-Range").orElse(null);
    long received = probe.received;
    if (hung) {
      return new Seen(who, Outcome.HUNG, status, version, declared, received, contentRange,
          "no end and no error after 2 minutes");
    }
    Throwable error = probe.error != null ? probe.error : failure;
    if (error != null || !probe.completed) {
      return new Seen(who, Outcome.BROKEN, status, version, declared, received, contentRange,
          error == null ? "no end of body" : error.getClass().getSimpleName() + ": " + error.getMessage());
    }
    if (declared >= 0 && received != declared) {
      return new Seen(who, Outcome.BROKEN, status, version, declared, received, contentRange, "ended short");
    }
    if (status != 200 && status != 206) {
      return new Seen(who, Outcome.BROKEN, status, version, declared, received, contentRange, "an error status");
    }
    Digest got = Digest.ofSha256Bytes(probe.sha256.digest());
    boolean right = got.equals(expected.digest()) && received == expected.length();
    return new Seen(who, right ? Outcome.CLEAN_CORRECT : Outcome.CLEAN_WRONG, status, version, declared, received,
        contentRange, right ? null : "body sha256 " + got + ", expected " + expected.digest());
  }

  /** Takes a body as it comes: counts and hashes it, and records whether it completed or failed. */
  private static final class Probe implements HttpResponse.BodySubscriber<Void> {
    final CompletableFuture<Void> body = new CompletableFuture<>();
    final MessageDigest sha256 = Digest.newSha256();
    volatile HttpResponse.ResponseInfo info;
    volatile Flow.Subscription subscription;
    volatile long received;
    volatile boolean completed;
    volatile Throwable error;

    @Override
    public java.util.concurrent.CompletionStage<Void> getBody() {
      return body;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription = s;
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
      for (ByteBuffer b : items) {
        received += b.remaining();
        sha256.update(b);
      }
    }

    @Override
    public void onError(Throwable t) {
      error = t;
      body.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      completed = true;
      body.complete(null);
    }

    void cancel() {
      Flow.Subscription s = subscription;
      if (s != null) {
        s.cancel();
      }
    }
  }

  /** Prints what the clients saw, as evidence in the test output whether the test passes or fails. */
  private static List<Seen> report(String title, List<Seen> all) {
    System.out.println("[BlobVerificationIT] " + title + ":" + lines(all));
    return all;
  }

  /** Runs {@code n} requests at once (released together) and returns what each saw, in order. */
  private static List<Seen> atOnce(int n, IntFunction<Seen> request) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<Seen>> futures = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int index = i;
        Callable<Seen> task = () -> {
          go.await();
          return request.apply(index);
        };
        futures.add(pool.submit(task));
      }
      go.countDown();
      List<Seen> seen = new ArrayList<>();
      for (Future<Seen> f : futures) {
        seen.add(f.get(5, TimeUnit.MINUTES));
      }
      return seen;
    } finally {
      pool.shutdownNow();
    }
  }

  private static List<Seen> concat(List<Seen> a, List<Seen> b) {
    return Stream.concat(a.stream(), b.stream()).toList();
  }

  /** The guarantee itself: no response ended cleanly with bytes other than the blob's. */
  private static void assertNoneCleanWithWrongBytes(List<Seen> all) {
    List<Seen> wrong = all.stream().filter(s -> s.outcome() == Outcome.CLEAN_WRONG).toList();
    assertTrue(wrong.isEmpty(), "a clean end with unverified, wrong bytes: " + wrong + "\nall: " + lines(all));
  }

  private static void assertAllBroken(List<Seen> all, String why) {
    List<Seen> notBroken = all.stream().filter(s -> s.outcome() != Outcome.BROKEN).toList();
    assertTrue(notBroken.isEmpty(), why + ", yet " + notBroken.size() + " of " + all.size()
        + " did not end broken:\n" + lines(all));
  }

  private static String lines(List<Seen> all) {
    return all.stream().map(Seen::toString).collect(Collectors.joining("\n  ", "\n  ", ""));
  }

  private void awaitRelayed(Blob blob, long atLeast) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (relay.bytesRelayedFor(blob.path()) < atLeast) {
      assertTrue(System.nanoTime() < deadline, "the fill did not get to " + atLeast + " bytes: "
          + relay.bytesRelayedFor(blob.path()) + " relayed; upstream requests " + relay.requestLines());
      Proc.sleep(5);
    }
  }

  private void awaitNoFills() {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (jitdi.metrics().value("jitdi_fills_inflight") > 0) {
      assertTrue(System.nanoTime() < deadline, "fills did not end");
      Proc.sleep(50);
    }
  }

  private Path cached(Blob blob) {
    return jitdi.cacheDir().resolve("blobs/sha256/" + blob.digest().hex().substring(0, 2) + "/"
        + blob.digest().hex());
  }
}
