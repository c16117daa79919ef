package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page at /_jitdi/, loaded in a real headless Chromium against a running jitdi that has served an image
 * and is building a JIT image from a throttled source: what the page shows matches /_jitdi/status, and a screenshot
 * of the build in progress is kept (target/status-page.png).
 */
class StatusPageIT {
  static final long MODEL = 48L << 20;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static SourceServer models;
  static Jitdi jitdi;

  @BeforeAll
  static void start() throws Exception {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    Images.pushBusybox(upstream, "library/busybox", "latest");
    Path files = Files.createDirectories(dir.resolve("models"));
    Images.randomFile(files.resolve("big.gguf"), MODEL, 11);
    // about 12 s for the whole model: long enough to look at a build in progress
    models = SourceServer.start(files).throttle(4L << 20);
    jitdi = Jitdi.start(dir.resolve("jitdi"), """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 3GiB}
        upstreams:
          docker.io: {url: "%s"}
        jit: {waitBudget: 1s}
        images:
          - name: slow-model
            match: "models/{file}:{tag}"
            registry: jit.local
            files: [{source: "%s/files/{file}.gguf", destination: "/models/{file}.gguf"}]
        """.formatted(upstream.url(), models.url()));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(jitdi, models, upstream);
  }

  /** Chromium, headless, with a fresh profile and nothing that phones home. */
  private static String chromium(String... args) {
    List<String> command = new ArrayList<>(List.of("chromium", "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--user-data-dir=" + dir.resolve("chromium-" + System.nanoTime()), "--virtual-time-budget=5000"));
    command.addAll(List.of(args));
    return Proc.run(Duration.ofMinutes(2), command);
  }

  /** The element with {@code id}: its data-value and its text. */
  private static String[] figure(String dom, String id) {
    Matcher m = Pattern.compile("id=\"" + id + "\"[^>]*data-value=\"([^\"]*)\"[^>]*>([^<]*)<").matcher(dom);
    assertTrue(m.find(), "#" + id + " with a data-value in:\n" + Tools.tail(dom, 3000));
    return new String[] {m.group(1), m.group(2)};
  }

  /** The page's own formatting, to check the text as well as the raw figure. */
  private static String bytes(long n) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = n;
    int i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return i == 0 ? n + " B" : String.format(Locale.ROOT, "%.2f %s", v, units[i]);
  }

  @Test
  void thePageShowsWhatTheStatusEndpointSaysWhileABuildIsInProgress() throws Exception {
    for (int i = 0; i < 2; i++) {
      Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--src-tls-verify=false",
          "docker://" + jitdi.hostPort() + "/library/busybox:latest", "oci:" + dir.resolve("busybox-" + i) + ":x"));
    }
    assertEquals(202, Http.post(jitdi.url() + "/_jitdi/prefetch?image=jit.local/models/big:q4").status());
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    JsonObject status;
    do {
      Proc.sleep(200);
      status = new JsonObject(Http.get(jitdi.url() + "/_jitdi/status").body());
      assertTrue(System.nanoTime() < deadline, "no build in progress: " + status.encodePrettily());
    } while (status.getJsonArray("builds").stream().map(JsonObject.class::cast)
        .noneMatch(b -> b.getString("state").equals("building") && b.getLong("bytesDone") > 0));

    String dom = chromium("--dump-dom", jitdi.url() + "/_jitdi/");
    JsonObject after = new JsonObject(Http.get(jitdi.url() + "/_jitdi/status").body());
    assertTrue(dom.contains("data-loaded=\"true\""), "the page loaded its data:\n" + Tools.tail(dom, 3000));

    // figures that cannot change while the page loads: the busybox pulls are over, the build commits at its end
    JsonObject cache = after.getJsonObject("cache");
    assertEquals(Long.toString(cache.getLong("maxBytes")), figure(dom, "cache-max")[0]);
    assertEquals(bytes(cache.getLong("maxBytes")), figure(dom, "cache-max")[1]);
    assertEquals(Long.toString(cache.getLong("usedBytes")), figure(dom, "cache-used")[0]);
    assertEquals(bytes(cache.getLong("usedBytes")), figure(dom, "cache-used")[1]);
    assertEquals(Long.toString(cache.getLong("blobs")), figure(dom, "cache-blobs")[0]);
    double ratio = after.getDouble("hitRatio");
    assertTrue(ratio > 0 && ratio < 1, "the second pull hit the cache: " + ratio);
    assertEquals(String.format(Locale.ROOT, "%.1f%%", 100 * ratio), figure(dom, "hit-ratio")[1]);

    JsonArray top = after.getJsonArray("topImages");
    assertEquals("docker.io/library/busybox", top.getJsonObject(0).getString("image"));
    assertTrue(dom.contains("<td>docker.io/library/busybox</td><td class=\"num\" data-value=\""
        + top.getJsonObject(0).getLong("bytes") + "\">" + bytes(top.getJsonObject(0).getLong("bytes")) + "</td>"),
        "the top image row:\n" + Tools.tail(dom, 3000));

    assertTrue(dom.contains("<td>jit.local/models/big:q4</td><td>slow-model</td><td title=\"\">building</td>"),
        "the build in progress is listed:\n" + Tools.tail(dom, 3000));
    assertTrue(dom.contains("<td>docker.io</td><td>" + upstream.url() + "</td>"), "the upstream");
    assertTrue(dom.contains("<td>slow-model</td><td>jit.local</td><td><code>models/{file}:{tag}</code></td>"),
        "the rule");

    Path png = Path.of("target/status-page.png").toAbsolutePath();
    Files.deleteIfExists(png);
    chromium("--screenshot=" + png, "--window-size=1280,1100", jitdi.url() + "/_jitdi/");
    assertTrue(Files.size(png) > 10_000, "a screenshot of the page with the build in progress: " + png);
    assertEquals("text/html; charset=utf-8", Http.get(jitdi.url() + "/_jitdi/").headers().firstValue("Content-Type").orElse(""));
  }
}
