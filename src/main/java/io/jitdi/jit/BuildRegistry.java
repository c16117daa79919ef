package io.jitdi.jit;

import io.jitdi.concurrent.SingleFlight;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Manifest;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The builds: at most one per build key at a time (a second request joins the first), each with its
 * {@link BuildProgress}, and the last finished ones kept for {@code /_jitdi/builds}. A failed build is not remembered:
 * the next request starts a new one.
 */
final class BuildRegistry {
  private static final Logger LOG = LoggerFactory.getLogger(BuildRegistry.class);
  private static final int KEEP_FINISHED = 50;

  private final JitdiMetrics metrics;
  private final SingleFlight<String, Manifest> builds = new SingleFlight<>();
  private final ConcurrentHashMap<String, BuildProgress> running = new ConcurrentHashMap<>();
  private final ConcurrentLinkedDeque<BuildProgress> finished = new ConcurrentLinkedDeque<>();
  private final AtomicInteger inflight = new AtomicInteger();

  BuildRegistry(Vertx vertx, JitdiMetrics metrics) {
    this.metrics = metrics;
    metrics.gauge("jitdi.jit.builds.inflight", "JIT image builds in progress", inflight, AtomicInteger::get);
    vertx.setPeriodic(5_000, t -> running.values().stream().filter(b -> b.seconds() > 5)
        .forEach(b -> LOG.info("build {} {}", b.image(), b.describe())));
  }

  /**
   * Runs {@code build} for {@code key} unless one runs already, which is then joined.
   *
   * @return the top manifest the build made
   */
  Future<Manifest> run(String key, String image, String rule, Function<BuildProgress, Future<Manifest>> build) {
    return builds.run(key, () -> {
      BuildProgress progress = new BuildProgress(key.substring(0, 12), image, rule);
      running.put(progress.id(), progress);
      inflight.incrementAndGet();
      long started = System.nanoTime();
      return build.apply(progress).andThen(ar -> {
        inflight.decrementAndGet();
        running.remove(progress.id());
        metrics.jitBuild(rule, ar.succeeded() ? "built" : "failed");
        if (ar.succeeded()) {
          progress.succeeded(ar.result().digest().toString());
          metrics.jitBuildDuration(rule, Duration.ofNanos(System.nanoTime() - started));
          LOG.info("built {} as {} in {}s", image, ar.result().digest(),
              String.format("%.2f", (System.nanoTime() - started) / 1e9));
        } else {
          progress.failed(ar.cause().getMessage());
        }
        finished.addFirst(progress);
        while (finished.size() > KEEP_FINISHED) {
          finished.pollLast();
        }
      });
    }).future();
  }

  /** The build of {@code image} under way, if any. */
  Optional<BuildProgress> running(String image) {
    return running.values().stream().filter(b -> b.image().equals(image)).findFirst();
  }

  /** Builds in progress and the last finished ones, newest first. */
  List<JsonObject> list() {
    List<BuildProgress> all = new ArrayList<>(running.values());
    all.addAll(finished);
    return all.stream().map(BuildProgress::toJson).toList();
  }
}
