package io.jitdi.it;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;

/**
 * A closed-loop HTTP/1.1 load generator on Vert.x: {@code connections} clients, each sending its next request as
 * soon as the last one's body is read, for a fixed time. Unlike Debian's wrk it handles HEAD (whose responses carry a
 * Content-Length but no body). Counts statuses and records every latency.
 */
public final class LoadClient {
  /**
   * One request to send.
   *
   * @param sha256 if not null, a 200 response's body must have this digest ({@code sha256:<hex>}), or it counts as
   *     a bad body
   */
  public record Request(HttpMethod method, String path, String accept, String sha256) {
    public Request(HttpMethod method, String path, String accept) {
      this(method, path, accept, null);
    }
  }

  /**
   * What a run measured. {@code hung} is the number of requests still unanswered when the run gave up waiting
   * (duration + 60 s); {@code bodiesChecked} and {@code badBodies} count the bodies whose digest was verified and
   * those that did not match.
   */
  public record Result(long requests, long ok, long notFound, long serverErrors, long other, long failures,
      long hung, long bodiesChecked, long badBodies, double seconds, long[] latenciesMicros) {
    public double rps() {
      return requests / seconds;
    }

    /** A latency percentile in milliseconds. */
    public double percentileMillis(double p) {
      if (latenciesMicros.length == 0) {
        return Double.NaN;
      }
      int i = (int) Math.min(latenciesMicros.length - 1, Math.ceil(p / 100 * latenciesMicros.length) - 1);
      return latenciesMicros[Math.max(0, i)] / 1000.0;
    }

    @Override
    public String toString() {
      return String.format("requests=%d ok=%d 404=%d 5xx=%d other=%d failures=%d hung=%d bodies_checked=%d "
          + "bad_bodies=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f", requests, ok, notFound, serverErrors, other,
          failures, hung, bodiesChecked, badBodies, rps(), percentileMillis(50), percentileMillis(99),
          percentileMillis(100));
    }
  }

  private LoadClient() {}

  public static Result run(String host, int port, int connections, Duration duration, Supplier<Request> next)
      throws InterruptedException {
    Vertx vertx = Vertx.vertx();
    HttpClient client = vertx.createHttpClient(new HttpClientOptions().setDefaultHost(host).setDefaultPort(port)
        .setKeepAlive(true).setConnectTimeout(10_000).setIdleTimeout(30),
        new PoolOptions().setHttp1MaxSize(connections).setMaxWaitQueueSize(-1));
    AtomicLong ok = new AtomicLong();
    AtomicLong notFound = new AtomicLong();
    AtomicLong serverErrors = new AtomicLong();
    AtomicLong other = new AtomicLong();
    AtomicLong failures = new AtomicLong();
    AtomicLong checked = new AtomicLong();
    AtomicLong bad = new AtomicLong();
    int capacity = 4_000_000;
    AtomicLongArray latencies = new AtomicLongArray(capacity);
    AtomicLong count = new AtomicLong();
    long started = System.nanoTime();
    long deadline = started + duration.toNanos();
    CountDownLatch done = new CountDownLatch(connections);
    for (int i = 0; i < connections; i++) {
      vertx.runOnContext(v -> loop(client, next, deadline, done, ok, notFound, serverErrors, other, failures,
          checked, bad, latencies, count));
    }
    // each connection's loop ends only after its last answer: a loop still running now waits on a request that hung
    long hung = done.await(duration.toSeconds() + 60, TimeUnit.SECONDS) ? 0 : done.getCount();
    double seconds = (System.nanoTime() - started) / 1e9;
    long n = Math.min(count.get(), capacity);
    long[] sorted = new long[(int) n];
    for (int i = 0; i < n; i++) {
      sorted[i] = latencies.get(i);
    }
    Arrays.sort(sorted);
    client.close();
    vertx.close().toCompletionStage().toCompletableFuture().join();
    return new Result(count.get(), ok.get(), notFound.get(), serverErrors.get(), other.get(), failures.get(), hung,
        checked.get(), bad.get(), seconds, sorted);
  }

  private static void loop(HttpClient client, Supplier<Request> next, long deadline, CountDownLatch done,
      AtomicLong ok, AtomicLong notFound, AtomicLong serverErrors, AtomicLong other, AtomicLong failures,
      AtomicLong checked, AtomicLong bad, AtomicLongArray latencies, AtomicLong count) {
    if (System.nanoTime() >= deadline) {
      done.countDown();
      return;
    }
    Request r = next.get();
    RequestOptions options = new RequestOptions().setMethod(r.method()).setURI(r.path());
    if (r.accept() != null) {
      options.putHeader("Accept", r.accept());
    }
    long sent = System.nanoTime();
    client.request(options).compose(req -> req.send()).compose(resp -> resp.body().map(b -> {
      if (r.sha256() != null && resp.statusCode() == 200) {
        checked.incrementAndGet();
        if (!r.sha256().equals(io.jitdi.oci.Digest.sha256Of(b.getBytes()).toString())) {
          bad.incrementAndGet();
        }
      }
      return resp.statusCode();
    }))
        .onComplete(ar -> {
          long i = count.getAndIncrement();
          if (i < latencies.length()) {
            latencies.set((int) i, (System.nanoTime() - sent) / 1000);
          }
          if (ar.failed()) {
            failures.incrementAndGet();
          } else if (ar.result() == 200) {
            ok.incrementAndGet();
          } else if (ar.result() == 404) {
            notFound.incrementAndGet();
          } else if (ar.result() >= 500) {
            serverErrors.incrementAndGet();
          } else {
            other.incrementAndGet();
          }
          loop(client, next, deadline, done, ok, notFound, serverErrors, other, failures, checked, bad, latencies,
              count);
        });
  }

  /** A thread-safe picker over weighted choices. */
  public static Supplier<Request> mix(List<Request> choices, int[] weights, long seed) {
    int total = Arrays.stream(weights).sum();
    SplittableRandom random = new SplittableRandom(seed);
    return () -> {
      int r;
      synchronized (random) {
        r = random.nextInt(total);
      }
      for (int i = 0; i < weights.length; i++) {
        r -= weights[i];
        if (r < 0) {
          return choices.get(i);
        }
      }
      return choices.get(choices.size() - 1);
    };
  }
}
