package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Metrics as operators see them: exact counter deltas for a known workload, scraped by a real Prometheus, and every
 * expression of the Grafana dashboard answered by that Prometheus.
 */
class ObservabilityIT {
  static final Map<String, String> OCI = Map.of("Accept", "application/vnd.oci.image.manifest.v1+json");

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static FaultRelay relay;
  static Jitdi jitdi;
  static int metricsPort;
  static Prometheus prometheus;

  @BeforeAll
  static void start() throws Exception {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    relay = FaultRelay.to(upstream.port());
    Path models = dir.resolve("models");
    java.nio.file.Files.createDirectories(models);
    Images.randomFile(models.resolve("m.bin"), 2L << 20, 99);
    // the metrics port is one more port jitdi binds: another one is tried if it was taken meanwhile
    jitdi = Ports.withFreePort(port -> {
      metricsPort = port;
      return Jitdi.start(dir.resolve("jitdi"), Jitdi.config(relay.url(), "40MiB")
          .replace("manifestTtl: 5m", "manifestTtl: 0")
          .replace("listen: 127.0.0.1:PORT", "listen: 127.0.0.1:PORT\n  metricsListen: 127.0.0.1:" + port)
          + "log:\n  format: json\n"
          + "jit: {fileRoots: [" + models + "]}\n"
          + "images:\n  - {name: obs-model, match: \"obs/model:{tag}\", registry: jit.local, platforms: [linux/amd64],"
          + " files: [{source: \"" + models + "/m.bin\", destination: /models/}]}\n");
    });
    prometheus = Prometheus.start(dir.resolve("prometheus"), List.of("127.0.0.1:" + metricsPort));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(prometheus, jitdi, relay, upstream);
  }

  static Metrics scrape() {
    Http.Text r = Http.get("http://127.0.0.1:" + metricsPort + "/metrics");
    assertEquals(200, r.status());
    return Metrics.parse(r.body());
  }

  /**
   * The growth of a series between two scrapes. It must exist in {@code after} (a renamed metric fails); in
   * {@code before} it may be missing when it is created by its first event (upstream statuses, route timers, JIT
   * build timers), which then means 0.
   */
  static double delta(Metrics before, Metrics after, String name, String... labels) {
    return after.value(name, labels) - before.valueOrZero(name, labels);
  }

  static String blob(Images.Pushed image) {
    return jitdi.url() + "/v2/" + image.repo() + "/blobs/" + image.layer();
  }

  @Test
  void aKnownWorkloadGivesExactCountersThatPrometheusScrapesAndTheDashboardQueries() throws Exception {
    Images.Pushed a = Images.pushRandomImage(upstream, dir, "obs/a", "v1", 4 << 20, 1);
    Images.Pushed b = Images.pushRandomImage(upstream, dir, "obs/b", "v1", 8 << 20, 2);
    List<Images.Pushed> filler = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      filler.add(Images.pushRandomImage(upstream, dir, "obs/f" + i, "v1", 12 << 20, 10 + i));
    }

    Metrics m0 = scrape();
    assertEquals(a.layer(), Http.stream(blob(a)).digest());
    Metrics m1 = scrape();
    assertEquals(1, delta(m0, m1, "jitdi_cache_requests_total", "kind", "blob", "result", "miss"), 0.0);
    assertEquals(0, delta(m0, m1, "jitdi_cache_requests_total", "kind", "blob", "result", "hit"), 0.0);
    assertEquals(a.layerSize(), delta(m0, m1, "jitdi_served_bytes_total", "source", "upstream"), 0.0);
    assertEquals(a.layerSize(), delta(m0, m1, "jitdi_upstream_bytes_total", "upstream", "docker.io"), 0.0);
    assertEquals(1, delta(m0, m1, "jitdi_upstream_requests_total", "upstream", "docker.io", "kind", "blob",
        "status", "200"), 0.0);

    assertEquals(a.layer(), Http.stream(blob(a)).digest());
    Metrics m2 = scrape();
    assertEquals(1, delta(m1, m2, "jitdi_cache_requests_total", "kind", "blob", "result", "hit"), 0.0);
    assertEquals(a.layerSize(), delta(m1, m2, "jitdi_served_bytes_total", "source", "cache"), 0.0);
    assertEquals(0, delta(m1, m2, "jitdi_upstream_bytes_total", "upstream", "docker.io"), 0.0);

    relay.throttle(8L << 20);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<Http.Streamed>> concurrent = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      concurrent.add(pool.submit(() -> Http.stream(blob(b))));
    }
    for (Future<Http.Streamed> f : concurrent) {
      assertEquals(b.layer(), f.get().digest());
    }
    relay.throttle(-1);
    pool.shutdown();
    Metrics m3 = scrape();
    assertEquals(1, delta(m2, m3, "jitdi_cache_requests_total", "kind", "blob", "result", "miss"), 0.0);
    assertEquals(3, delta(m2, m3, "jitdi_cache_requests_total", "kind", "blob", "result", "coalesced"), 0.0);
    assertEquals(b.layerSize(), delta(m2, m3, "jitdi_upstream_bytes_total", "upstream", "docker.io"), 0.0);
    assertEquals(4 * b.layerSize(), delta(m2, m3, "jitdi_served_bytes_total", "source", "upstream"), 0.0);

    assertEquals(200, Http.get(jitdi.url() + "/v2/obs/a/manifests/v1", OCI).status());
    Metrics m4 = scrape();
    assertEquals(1, delta(m3, m4, "jitdi_cache_requests_total", "kind", "manifest", "result", "miss"), 0.0);
    relay.cutAfter(0);
    Http.Text stale = Http.get(jitdi.url() + "/v2/obs/a/manifests/v1", OCI);
    assertEquals(200, stale.status(), stale.body());
    Metrics m5 = scrape();
    assertEquals(1, delta(m4, m5, "jitdi_cache_requests_total", "kind", "manifest", "result", "stale"), 0.0);
    assertEquals(1, delta(m4, m5, "jitdi_upstream_requests_total", "upstream", "docker.io", "kind", "manifest",
        "status", "error"), 0.0);

    for (Images.Pushed f : filler) {
      assertEquals(f.layer(), Http.stream(blob(f)).digest());
    }
    Metrics m6 = scrape();
    assertTrue(delta(m5, m6, "jitdi_cache_evictions_total") >= 1, "evictions counted");
    Metrics beforeJit = scrape();
    for (int i = 0; i < 2; i++) {
      assertEquals(200, Http.get(jitdi.url() + "/v2/obs/model/manifests/v1?ns=jit.local",
          Map.of("Accept", "application/vnd.oci.image.index.v1+json")).status());
    }
    Metrics afterJit = scrape();
    assertEquals(1, delta(beforeJit, afterJit, "jitdi_jit_builds_total", "rule", "obs-model", "result", "built"), 0.0);
    assertEquals(1, delta(beforeJit, afterJit, "jitdi_jit_builds_total", "rule", "obs-model", "result", "cached"),
        0.0);
    assertEquals(0, afterJit.value("jitdi_jit_builds_total", "rule", "obs-model", "result", "failed"), 0.0);
    assertTrue(delta(beforeJit, afterJit, "jitdi_jit_build_bytes_total") >= 2L << 20, "layer bytes counted");
    assertEquals(1, delta(beforeJit, afterJit, "jitdi_jit_build_duration_seconds_count", "rule", "obs-model"), 0.0);
    assertEquals(0, afterJit.value("jitdi_jit_builds_inflight"), 0.0);
    assertTrue(delta(beforeJit, afterJit, "jitdi_served_bytes_total", "source", "jit") > 0);
    assertTrue(delta(m5, m6, "jitdi_cache_evicted_bytes_total") >= 4 << 20, "evicted bytes counted");
    assertTrue(m6.value("jitdi_cache_size_bytes") <= 40 << 20);
    assertEquals(3, delta(m5, m6, "jitdi_cache_requests_total", "kind", "blob", "result", "miss"), 0.0);
    assertEquals(0, m6.value("jitdi_fills_inflight"), 0.0);
    assertTrue(m6.value("jvm_memory_used_bytes", "area", "heap") > 0);
    assertTrue(m6.value("process_files_open_files") > 0);
    assertEquals(9, delta(m0, m6, "http_server_requests_seconds_count", "route", "/v2/{name}/blobs/{digest}",
        "status", "200"), 0.0, "server requests by route template: 2 of a, 4 of b, 3 fillers");
    assertTrue(m6.samples().stream().noneMatch(s -> s.labels().values().stream().anyMatch(v -> v.contains("sha256:")
        || v.matches(".*obs/[abf].*"))), "no digest, repository or raw path is a label value");

    // Prometheus sees the same numbers
    double misses = m6.value("jitdi_cache_requests_total", "kind", "blob", "result", "miss");
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (prometheus.scalar("sum(jitdi_cache_requests_total{kind=\"blob\",result=\"miss\"})") != misses) {
      assertTrue(System.nanoTime() < deadline, "Prometheus did not scrape the final values");
      Proc.sleep(200);
    }
    assertEquals(1.0, prometheus.scalar("up{job=\"jitdi\"}"), 0.0);

    // every dashboard expression parses and returns a series
    List<String> expressions = dashboardExpressions();
    assertTrue(expressions.size() >= 15, "dashboard has " + expressions.size() + " expressions");
    Proc.sleep(3000); // a few more scrapes, so rate() windows hold two samples of every series
    List<String> empty = new ArrayList<>();
    for (String expr : expressions) {
      String promql = expr.replace("$__rate_interval", "1m").replace("$instance", ".*").replace("$upstream", ".*")
          .replace("${instance}", ".*").replace("${upstream}", ".*").replace("$__interval", "1m");
      if (prometheus.query(promql).isEmpty()) {
        empty.add(expr);
      }
    }
    assertEquals(List.of(), empty, "dashboard expressions without any series");
  }

  @Test
  void metricsLiveOnTheirOwnPortWhenConfigured() {
    assertEquals(404, Http.get(jitdi.url() + "/metrics").status());
    assertTrue(Http.get(jitdi.url() + "/metrics").body().contains("metricsListen"));
    assertEquals(404, Http.get("http://127.0.0.1:" + metricsPort + "/v2/").status());
    assertEquals(200, Http.get("http://127.0.0.1:" + metricsPort + "/healthz").status());
  }

  @Test
  void anHttp2ResponseIsCountedWithEveryByteTheClientGot() throws Exception {
    // Vert.x's own count at the end of such a response was short by MiBs (4.7 of 8 MiB, 18 of 24 MiB) with this client
    Images.Pushed image = Images.pushRandomImage(upstream, dir, "obs/h2", "v1", 24 << 20, 3);
    assertEquals(image.layer(), Http.stream(blob(image)).digest()); // cached: sent as fast as the client takes it
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    HttpResponse<Void> upgrade = http.send(HttpRequest.newBuilder(URI.create(jitdi.url() + "/v2/")).build(),
        HttpResponse.BodyHandlers.discarding());
    assertEquals(HttpClient.Version.HTTP_2, upgrade.version(), "jitdi upgraded the connection to h2c");

    long rangeLength = image.layerSize() - 1;
    HttpResponse<InputStream> response = http.send(HttpRequest.newBuilder(URI.create(blob(image)))
        .header("Range", "bytes=0-" + (rangeLength - 1)).build(), HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(HttpClient.Version.HTTP_2, response.version());
    assertEquals(206, response.statusCode());
    long received;
    try (InputStream body = response.body()) {
      received = body.transferTo(OutputStream.nullOutputStream());
    }
    assertEquals(rangeLength, received);

    // the count is taken when the response ends, which may come a moment after the client read the last byte
    String name = "docker.io/" + image.repo();
    long expected = image.layerSize() + rangeLength;
    long deadline = System.nanoTime() + 5_000_000_000L;
    long counted = servedBytes(name);
    while (counted != expected && System.nanoTime() < deadline) {
      Thread.sleep(50);
      counted = servedBytes(name);
    }
    assertEquals(expected, counted, "bytes of " + name + " served to the HTTP/1.1 client "
        + "and the HTTP/2 one: all of them, also those still queued on the stream when jitdi's sender was done");
  }

  /** The bytes the status page says image {@code name} was served, or -1 when it is not among the top images. */
  static long servedBytes(String name) {
    JsonArray top = new JsonObject(Http.get(jitdi.url() + "/_jitdi/status").body()).getJsonArray("topImages");
    for (int i = 0; i < top.size(); i++) {
      if (name.equals(top.getJsonObject(i).getString("image"))) {
        return top.getJsonObject(i).getLong("bytes");
      }
    }
    return -1;
  }

  @Test
  void logsAreJsonLinesWithAnAccessLineForEveryRequest() {
    Http.get(jitdi.url() + "/v2/");
    List<String> lines = jitdi.log().lines().filter(l -> !l.isBlank()).toList();
    assertFalse(lines.isEmpty());
    for (String line : lines) {
      JsonObject json = new JsonObject(line);
      assertTrue(json.containsKey("level") && json.containsKey("loggerName"), line);
    }
    assertTrue(lines.stream().map(JsonObject::new).anyMatch(j -> "io.jitdi.access".equals(j.getString("loggerName"))
        && j.getString("formattedMessage", "").contains("GET /v2/ 200")), "access lines");
  }

  @Test
  void theShippedPrometheusConfigAndAlertRulesAreValid() throws Exception {
    Path config = Path.of("conf/prometheus.yml").toAbsolutePath();
    Proc.Result checked = Proc.exec(Duration.ofMinutes(1), Map.of(), List.of("promtool", "check", "config",
        config.toString()));
    if (checked.exit() != 0 && checked.output().contains("field kubernetes_sd_configs not found")) {
      // Debian's prometheus is built without Kubernetes discovery; check everything else of the same file by
      // swapping only the discovery block for an equivalent file-based one
      String shipped = Files.readString(config);
      assertTrue(shipped.contains("kubernetes_sd_configs:\n      - role: pod\n"), "the k8s job is in the file");
      Path copy = dir.resolve("prometheus-without-k8s-sd.yml");
      Files.writeString(copy, shipped.replace("kubernetes_sd_configs:\n      - role: pod\n",
          "file_sd_configs:\n      - files: [targets.json]\n"));
      Files.copy(Path.of("conf/alerts.yml"), dir.resolve("alerts.yml"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      checked = Proc.exec(Duration.ofMinutes(1), Map.of(), List.of("promtool", "check", "config", copy.toString()));
    }
    assertEquals(0, checked.exit(), checked.output());
    assertTrue(checked.output().contains("SUCCESS: 1 rule files found"), checked.output());
    Proc.run(Duration.ofMinutes(1), List.of("promtool", "check", "rules", Path.of("conf/alerts.yml")
        .toAbsolutePath().toString()));
  }

  static List<String> dashboardExpressions() throws Exception {
    JsonObject dashboard = new JsonObject(Files.readString(Path.of("grafana/jitdi.json")));
    List<String> out = new ArrayList<>();
    collect(dashboard, out);
    return out;
  }

  private static void collect(Object node, List<String> out) {
    if (node instanceof JsonObject o) {
      for (Map.Entry<String, Object> e : o) {
        if (e.getKey().equals("expr") && e.getValue() instanceof String s && !s.isBlank()) {
          out.add(s);
        } else {
          collect(e.getValue(), out);
        }
      }
    } else if (node instanceof JsonArray a) {
      a.forEach(x -> collect(x, out));
    }
  }
}
