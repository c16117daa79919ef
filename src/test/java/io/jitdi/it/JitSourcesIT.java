package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** JIT images from http(s) sources served by a real HTTP server in the test: resume, pins, tokens, slow builds. */
class JitSourcesIT {
  static final String ACCEPT = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";
  static final String TOKEN = "hf_test_token_value";

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static Path files;
  static SourceServer source;
  static SourceServer other;
  static DockerRegistry upstream;
  static Jitdi jitdi;
  static Digest pinned;

  @BeforeAll
  static void start() throws Exception {
    files = dir.resolve("files");
    Files.createDirectories(files);
    Images.randomFile(files.resolve("big.gguf"), 16L << 20, 1);
    pinned = Images.randomFile(files.resolve("pinned.bin"), 1L << 20, 2);
    Images.randomFile(files.resolve("slow.bin"), 8L << 20, 3);
    Files.writeString(files.resolve("moving.txt"), "version 1");
    source = SourceServer.start(files);
    other = SourceServer.start(files);
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    String url = source.url();
    jitdi = Jitdi.startWithEnv(dir.resolve("jitdi"), """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 1GiB}
        upstreams:
          docker.io: {url: "%1$s"}
        jit:
          ttl: 0
          waitBudget: 300ms
          tokens: {127.0.0.1: JITDI_TEST_TOKEN}
        images:
          - name: http
            match: "http/{file}:{tag}"
            registry: jit.local
            files: [{source: "%2$s/files/{file}", destination: /models/}]
          - name: redirected
            match: "redirected/{file}:{tag}"
            registry: jit.local
            files: [{source: "%2$s/redirect/{file}", destination: /models/}]
          - name: elsewhere
            match: "elsewhere/{file}:{tag}"
            registry: jit.local
            files: [{source: "%2$s/redirect-away/{file}", destination: /models/}]
          - name: pinned
            match: "pinned/{file}:{tag}"
            registry: jit.local
            files: [{source: "%2$s/files/{file}", destination: "/models/{file}", sha256: "%3$s"}]
        """.formatted(upstream.url(), url, pinned.hex()), Map.of("JITDI_TEST_TOKEN", TOKEN));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(jitdi, upstream, other, source);
  }

  /** Pulls a JIT image's single model-only layer (amd64) from {@code jitdi} and returns its files. */
  /** The files of {@code image}'s (first platform's) last layer, whose bytes are checked against its digest. */
  static Map<String, byte[]> layerFiles(Jitdi jitdi, String image) throws Exception {
    Http.Text index = Http.get(jitdi.url() + "/v2/" + image.replace(":", "/manifests/") + "?ns=jit.local",
        Map.of("Accept", ACCEPT));
    assertEquals(200, index.status(), index.body());
    String digest = new JsonObject(index.body()).getJsonArray("manifests").getJsonObject(0).getString("digest");
    JsonObject manifest = new JsonObject(Http.get(jitdi.url() + "/v2/" + image.substring(0, image.indexOf(':'))
        + "/manifests/" + digest + "?ns=jit.local", Map.of("Accept", ACCEPT)).body());
    String layer = JitIT.lastLayer(manifest).getString("digest");
    byte[] bytes = Http.getBytes(jitdi.url() + "/v2/x/blobs/" + layer + "?ns=jit.local", Map.of()).body();
    assertEquals(layer, io.jitdi.oci.Digest.sha256Of(bytes).toString(), "the layer's bytes hash to its digest");
    return JitIT.tarFiles(new ByteArrayInputStream(bytes), new HashMap<>());
  }

  /** GETs until the answer is no longer "building": returns the first answer and the last. */
  static Http.Text[] untilBuilt(Jitdi jitdi, String image) {
    Http.Text first = Http.get(jitdi.url() + "/v2/" + image.replace(":", "/manifests/") + "?ns=jit.local",
        Map.of("Accept", ACCEPT));
    Http.Text last = first;
    for (int i = 0; i < 300 && last.status() == 429; i++) {
      Proc.sleep(100);
      last = Http.get(jitdi.url() + "/v2/" + image.replace(":", "/manifests/") + "?ns=jit.local",
          Map.of("Accept", ACCEPT));
    }
    return new Http.Text[] {first, last};
  }

  @Test
  void aBrokenDownloadIsResumedWithRange() throws Exception {
    source.cutOnce("/files/big.gguf", 5L << 20);
    assertEquals(200, untilBuilt(jitdi, "http/big.gguf:v1")[1].status());
    assertArrayEquals(Files.readAllBytes(files.resolve("big.gguf")), layerFiles(jitdi, "http/big.gguf:v1")
        .get("models/big.gguf"));
    assertTrue(source.requests().stream().anyMatch(r -> r.path().equals("/files/big.gguf") && r.range() != null
        && r.range().startsWith("bytes=")), "resumed with a Range request: " + source.requests());
  }

  @Test
  void aPinnedSha256IsVerifiedAndAMismatchFailsTheBuild() throws Exception {
    assertEquals(200, untilBuilt(jitdi, "pinned/pinned.bin:v1")[1].status());
    assertArrayEquals(Files.readAllBytes(files.resolve("pinned.bin")), layerFiles(jitdi, "pinned/pinned.bin:v1")
        .get("models/pinned.bin"));
    double failed = jitdi.metrics().value("jitdi_jit_builds_total", "rule", "pinned", "result", "failed");
    Http.Text wrong = untilBuilt(jitdi, "pinned/big.gguf:v1")[1];
    assertEquals(502, wrong.status(), wrong.body());
    assertTrue(wrong.body().contains("UNAVAILABLE") && wrong.body().contains("sha256"), wrong.body());
    assertEquals(failed + 1, jitdi.metrics().value("jitdi_jit_builds_total", "rule", "pinned", "result", "failed"));
  }

  @Test
  void theHostsTokenGoesToThatHostOnly() throws Exception {
    untilBuilt(jitdi, "redirected/pinned.bin:v1");
    assertTrue(source.requests().stream().filter(r -> r.path().equals("/files/pinned.bin"))
        .allMatch(r -> ("Bearer " + TOKEN).equals(r.authorization())), "the token goes to its host, redirects "
        + "on the same host included");
    // the source server redirects /redirect-away/ to another origin: the token must not follow
    source.redirectAway(other.url());
    assertEquals(200, untilBuilt(jitdi, "elsewhere/pinned.bin:v1")[1].status());
    assertTrue(other.requests().stream().allMatch(r -> r.authorization() == null), "no token for another host: "
        + other.requests());
    assertTrue(other.count("GET", "/files/pinned.bin") >= 1);
  }

  @Test
  void aSlowBuildAnswers429WithRetryAfterAndThenSucceeds() throws Exception {
    source.throttle(4L << 20);
    Http.Text[] answers;
    try {
      answers = untilBuilt(jitdi, "http/slow.bin:v1");
    } finally {
      source.throttle(-1);
    }
    assertEquals(429, answers[0].status(), answers[0].body());
    assertTrue(answers[0].body().contains("TOOMANYREQUESTS") && answers[0].body().contains("building"),
        answers[0].body());
    assertTrue(Integer.parseInt(answers[0].header("Retry-After")) >= 1);
    assertEquals(200, answers[1].status(), answers[1].body());
    assertArrayEquals(Files.readAllBytes(files.resolve("slow.bin")), layerFiles(jitdi, "http/slow.bin:v1")
        .get("models/slow.bin"));
  }

  @Test
  void aChangedSourceGivesANewImageAndAnUnchangedOneTheSame() throws Exception {
    String first = untilBuilt(jitdi, "http/moving.txt:v1")[1].header("Docker-Content-Digest");
    assertEquals(first, untilBuilt(jitdi, "http/moving.txt:v1")[1].header("Docker-Content-Digest"), "unchanged: the same");
    Files.writeString(files.resolve("moving.txt"), "version 2");
    String second = untilBuilt(jitdi, "http/moving.txt:v1")[1].header("Docker-Content-Digest");
    assertNotEquals(first, second, "the ETag changed, so the image did");
    assertEquals("version 2", new String(layerFiles(jitdi, "http/moving.txt:v1").get("models/moving.txt")));
  }
}
