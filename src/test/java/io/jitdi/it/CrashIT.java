package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** kill -9 in the middle of a fill, bytes rotting on disk: after a restart the cache is consistent and verified. */
class CrashIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static FaultRelay relay;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    relay = FaultRelay.to(upstream.port());
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(relay, upstream);
  }

  @AfterEach
  void heal() {
    relay.heal();
  }

  /** A jitdi of the test's own, so that what its cache holds and what its log says are that test's alone. */
  private static Jitdi ownJitdi(String name) {
    return Jitdi.start(dir.resolve(name), Jitdi.config(relay.url(), "1GiB"));
  }

  private static Digest push(String repo, long size, long seed) {
    return Images.pushRandomBlob(upstream, dir, repo, size, seed);
  }

  private static Path cached(Jitdi jitdi, Digest digest) {
    return jitdi.cacheDir().resolve("blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex());
  }

  /** verify's summary line, matched whole: {@code <dir>: N blobs (B bytes) and manifests verified, P problems in Ts}. */
  static Pattern summary(Jitdi jitdi, long blobs, long bytes, int problems) {
    return Pattern.compile("^" + Pattern.quote(jitdi.cacheDir().toString()) + ": " + blobs + " blobs \\(" + bytes
        + " bytes\\) and manifests verified, " + problems + " problems in [0-9.,]+s$", Pattern.MULTILINE);
  }

  @Test
  void aKill9InTheMiddleOfAFillLeavesAConsistentVerifiedCache() throws Exception {
    try (Jitdi jitdi = ownJitdi("jitdi-kill9")) {
      Digest done = push("crash/done", 4L << 20, 1);
      assertEquals(done, Http.stream(jitdi.url() + "/v2/crash/done/blobs/" + done).digest());
      Digest filling = push("crash/filling", 64L << 20, 2);

      relay.throttle(8L << 20);
      CompletableFuture<Http.Streamed> client = CompletableFuture.supplyAsync(
          () -> Http.stream(jitdi.url() + "/v2/crash/filling/blobs/" + filling));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (jitdi.bytesUnder("tmp") < (8L << 20)) {
        assertTrue(System.nanoTime() < deadline, "the fill did not get going");
        Proc.sleep(20);
      }
      jitdi.kill9();
      relay.heal();
      assertTrue(client.get().broken(), "the client of the killed process saw a broken transfer");
      assertTrue(jitdi.bytesUnder("tmp") > 0, "the crash left a half-written fill behind");

      jitdi.startAgain();
      assertEquals(0, jitdi.bytesUnder("tmp"), "start-up removed the debris");
      try (Stream<Path> tmp = Files.list(jitdi.cacheDir().resolve("tmp"))) {
        assertEquals(0, tmp.count());
      }
      assertFalse(Files.exists(cached(jitdi, filling)), "nothing of the interrupted fill was kept");
      assertTrue(Files.exists(cached(jitdi, done)), "the committed blob survived");
      String restartLog = jitdi.proc().log();
      assertTrue(Pattern.compile("\\(tmp removed 1,").matcher(restartLog).find(),
          "the restart's reconciliation reported one removed fill: " + Tools.tail(restartLog, 3000));

      assertEquals(0, jitdi.stop());
      Proc.Result verified = jitdi.cli("verify");
      assertEquals(0, verified.exit(), verified.output());
      assertTrue(summary(jitdi, 1, 4L << 20, 0).matcher(verified.output()).find(),
          "exactly the committed blob, clean: " + verified.output());

      jitdi.startAgain();
      Http.Streamed again = Http.stream(jitdi.url() + "/v2/crash/filling/blobs/" + filling);
      assertEquals(filling, again.digest(), "the pull succeeds after the restart");
      assertEquals(done, Http.stream(jitdi.url() + "/v2/crash/done/blobs/" + done).digest());
    }
  }

  @Test
  void killedAndRestartedJitdiWritesNothingIntoTheJvmsTempDirectory() throws Exception {
    // the JVM's temp directory of this process alone (where RocksDB and Vert.x unpack by default: /tmp)
    Path jvmTemp = Files.createDirectories(dir.resolve("jvm-temp"));
    Digest digest = push("crash/temp", 1 << 20, 17);
    Jitdi jitdi = Jitdi.start(dir.resolve("temp-owner"), Jitdi.config(relay.url(), "1GiB"),
        List.of("-Djava.io.tmpdir=" + jvmTemp));
    try {
      assertEquals(200, Http.get(jitdi.url() + "/v2/crash/temp/blobs/" + digest).status());
      jitdi.kill9();
      jitdi.startAgain();
      assertEquals(200, Http.get(jitdi.url() + "/v2/crash/temp/blobs/" + digest).status());
      try (Stream<Path> left = Files.list(jvmTemp)) {
        assertEquals(List.of(), left.toList(), "nothing in the JVM's temp directory, after a kill and a restart");
      }
      try (Stream<Path> runtime = Files.list(jitdi.cacheDir().resolve("runtime"))) {
        assertEquals(1, runtime.filter(p -> p.getFileName().toString().startsWith("librocksdbjni")).count(),
            "RocksDB's library is unpacked into the cache directory once, under one name, whatever the restarts");
      }
      try (Stream<Path> runtime = Files.list(jitdi.cacheDir().resolve("runtime"))) {
        assertEquals(1, runtime.filter(p -> p.getFileName().toString().startsWith("vertx-")).count(),
            "one Vert.x file cache, the running process's: the killed one's was cleared at the restart");
      }
    } finally {
      jitdi.close();
    }
  }

  @Test
  void verifyReportsABlobThatRottedOnDiskAndFixRemovesIt() throws Exception {
    try (Jitdi jitdi = ownJitdi("jitdi-rot")) {
      Digest blob = push("crash/rot", 2L << 20, 3);
      assertEquals(blob, Http.stream(jitdi.url() + "/v2/crash/rot/blobs/" + blob).digest());
      assertEquals(0, jitdi.stop());
      flipByte(cached(jitdi, blob), 1000);

      Proc.Result report = jitdi.cli("verify");
      assertEquals(1, report.exit(), report.output());
      assertTrue(report.output().contains("bad      " + blob + ": content does not hash to its digest"),
          report.output());
      assertTrue(Files.exists(cached(jitdi, blob)), "verify without --fix changes nothing");

      Proc.Result fixed = jitdi.cli("verify", "--fix");
      assertEquals(0, fixed.exit(), fixed.output());
      assertTrue(fixed.output().contains("removed  " + blob), fixed.output());
      assertFalse(Files.exists(cached(jitdi, blob)));
      Proc.Result clean = jitdi.cli("verify");
      assertEquals(0, clean.exit(), clean.output());
      assertTrue(summary(jitdi, 0, 0, 0).matcher(clean.output()).find(), clean.output());

      jitdi.startAgain();
      long gets = upstream.blobGets("crash/rot", blob);
      assertEquals(blob, Http.stream(jitdi.url() + "/v2/crash/rot/blobs/" + blob).digest());
      assertEquals(gets + 1, upstream.blobGets("crash/rot", blob), "fetched again, correct");
    }
  }

  private static void flipByte(Path file, long at) throws Exception {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(at);
      int b = f.read();
      f.seek(at);
      f.write(b ^ 0xff);
    }
  }

  @Test
  void aKill9InTheMiddleOfAJitBuildLeavesNoDebrisAndTheBuildWorksAfterwards() throws Exception {
    Path files = dir.resolve("jit-sources");
    Files.createDirectories(files);
    Digest model = Images.randomFile(files.resolve("model.bin"), 32L << 20, 7);
    try (SourceServer source = SourceServer.start(files);
        Jitdi builder = Jitdi.start(dir.resolve("builder"), """
            server: {listen: 127.0.0.1:PORT}
            cache: {dir: CACHE_DIR, maxSize: 1GiB}
            upstreams:
              docker.io: {url: "%s"}
            jit: {waitBudget: 1s}
            images:
              - match: "crash/{file}:{tag}"
                registry: jit.local
                platforms: [linux/amd64]
                files: [{source: "%s/files/{file}", destination: /models/}]
            """.formatted(upstream.url(), source.url()))) {
      source.throttle(4L << 20);
      String manifest = builder.url() + "/v2/crash/model.bin/manifests/v1?ns=jit.local";
      Map<String, String> accept = Map.of("Accept", "application/vnd.oci.image.index.v1+json");
      assertEquals(429, Http.get(manifest, accept).status(), "the build is under way");
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (builder.bytesUnder("tmp") < (4L << 20)) {
        assertTrue(System.nanoTime() < deadline, "the layer did not start");
        Proc.sleep(20);
      }
      builder.kill9();
      assertTrue(builder.bytesUnder("tmp") > 0, "the crash left a half-built layer behind");
      source.throttle(-1);

      builder.startAgain();
      assertEquals(0, builder.bytesUnder("tmp"), "start-up removed it");
      assertEquals(0, builder.stop());
      Proc.Result verified = builder.cli("verify");
      assertEquals(0, verified.exit(), verified.output());
      builder.startAgain();
      Http.Text built = Http.get(manifest, accept);
      for (int i = 0; i < 100 && built.status() == 429; i++) {
        Proc.sleep(100);
        built = Http.get(manifest, accept);
      }
      assertEquals(200, built.status(), built.body());
      JsonObject index = new JsonObject(built.body());
      JsonObject m = new JsonObject(Http.get(builder.url() + "/v2/crash/model.bin/manifests/" + index
          .getJsonArray("manifests").getJsonObject(0).getString("digest") + "?ns=jit.local", Map.of("Accept",
          "application/vnd.oci.image.manifest.v1+json")).body());
      String layer = m.getJsonArray("layers").getJsonObject(0).getString("digest");
      Map<String, byte[]> content = JitIT.tarFiles(new java.io.ByteArrayInputStream(Http.getBytes(builder.url()
          + "/v2/x/blobs/" + layer + "?ns=jit.local", Map.of()).body()), new java.util.HashMap<>());
      assertEquals(model, Digest.sha256Of(content.get("models/model.bin")));
    }
  }

  @Test
  void verifyRefusesToRunWhileJitdiHoldsTheCache() throws Exception {
    try (Jitdi jitdi = ownJitdi("jitdi-busy")) {
      Digest blob = push("crash/busy", 1L << 20, 4);
      assertEquals(blob, Http.stream(jitdi.url() + "/v2/crash/busy/blobs/" + blob).digest());
      // a rotten blob that a verify --fix would remove if it ran against the live cache
      flipByte(cached(jitdi, blob), 1000);
      byte[] rotten = Files.readAllBytes(cached(jitdi, blob));

      for (String[] args : List.of(new String[] {"verify"}, new String[] {"verify", "--fix"})) {
        Proc.Result busy = jitdi.cli(args);
        assertEquals(2, busy.exit(), busy.output());
        assertTrue(busy.output().contains("stop jitdi before verifying"), busy.output());
        assertFalse(busy.output().contains("removed"), busy.output());
      }
      assertTrue(jitdi.proc().alive(), "the running jitdi was left alone");
      assertEquals(200, Http.get(jitdi.url() + "/readyz").status());
      assertArrayEquals(rotten, Files.readAllBytes(cached(jitdi, blob)), "the refused --fix touched nothing");

      // the same command, once jitdi is stopped, does remove it: what the refusal left alone was there to find
      assertEquals(0, jitdi.stop());
      Proc.Result fixed = jitdi.cli("verify", "--fix");
      assertEquals(0, fixed.exit(), fixed.output());
      assertTrue(fixed.output().contains("removed  " + blob), fixed.output());
    }
  }
}
