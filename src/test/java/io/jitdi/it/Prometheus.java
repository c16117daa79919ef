package io.jitdi.it;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** A real Prometheus (Debian's), scraping the given targets every second. */
public final class Prometheus implements AutoCloseable {
  private final Proc proc;
  private final int port;

  private Prometheus(Proc proc, int port) {
    this.proc = proc;
    this.port = port;
  }

  public static Prometheus start(Path dir, List<String> targets) {
    Tools.require();
    return Ports.withFreePort(port -> start(dir, targets, port));
  }

  private static Prometheus start(Path dir, List<String> targets, int port) {
    try {
      Files.createDirectories(dir);
      StringBuilder config = new StringBuilder("""
          global:
            scrape_interval: 1s
            evaluation_interval: 1s
          scrape_configs:
            - job_name: jitdi
              static_configs:
                - targets: [""");
      config.append(String.join(", ", targets.stream().map(t -> "\"" + t + "\"").toList())).append("]\n");
      Files.writeString(dir.resolve("prometheus.yml"), config.toString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Proc proc = Proc.start("prometheus", dir.resolve("prometheus-" + port + ".log"), Map.of(), List.of("prometheus",
        "--config.file=" + dir.resolve("prometheus.yml"), "--storage.tsdb.path=" + dir.resolve("data"),
        "--web.listen-address=127.0.0.1:" + port));
    Prometheus p = new Prometheus(proc, port);
    try {
      proc.await("prometheus to be ready", Duration.ofSeconds(60), () -> Http.answers(p.url() + "/-/ready", 200));
    } catch (RuntimeException | AssertionError e) {
      proc.close();
      throw e;
    }
    return p;
  }

  public String url() {
    return "http://127.0.0.1:" + port;
  }

  /** Runs an instant query; fails the test unless Prometheus says "success". Returns the result vector. */
  public JsonArray query(String promql) {
    Http.Text r = Http.get(url() + "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
    JsonObject body = new JsonObject(r.body());
    if (r.status() != 200 || !"success".equals(body.getString("status"))) {
      throw new AssertionError("query failed: " + promql + "\n" + r.body());
    }
    return body.getJsonObject("data").getJsonArray("result");
  }

  /** The value of the first series of an instant query, or NaN if there is none. */
  public double scalar(String promql) {
    JsonArray result = query(promql);
    return result.isEmpty() ? Double.NaN
        : Double.parseDouble(result.getJsonObject(0).getJsonArray("value").getString(1));
  }

  @Override
  public void close() {
    proc.close();
  }
}
