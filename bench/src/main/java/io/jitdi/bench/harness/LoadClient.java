package io.jitdi.bench.harness;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;

/**
 * A closed-loop HTTP/1.1 load generator on Vert.x: {@code connections} clients, each sending the same request again
 * as soon as the last answer's body is read, for a fixed time. Unlike Debian's wrk it handles HEAD (whose responses
 * carry a Content-Length but no body). Records every latency (the first 4 million).
 */
public final class LoadClient {
  private static final int MAX_LATENCIES = 4_000_000;

  /** What a run measured: requests answered (or failed), those answered 200, the time, the sorted latencies. */
  public record Result(long requests, long ok, double seconds, long[] latenciesMicros) {
    public double rps() {
      return requests / seconds;
    }

    /** Latency percentile {@code p} (0-100) in milliseconds. */
    public double percentileMillis(double p) {
      if (latenciesMicros.length == 0) {
        return Double.NaN;
      }
      int i = (int) Math.min(latenciesMicros.length - 1, Math.ceil(p / 100 * latenciesMicros.length) - 1);
      return latenciesMicros[Math.max(0, i)] / 1000.0;
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "requests=%d ok=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f", requests, ok, rps(),
          percentileMillis(50), percentileMillis(99));
    }
  }

  private LoadClient() {}

  /**
   * Sends {@code method path} with {@code Accept: accept} to {@code host:port} over {@code connections} connections
   * for {@code duration}; waits at most a minute more for the answers still out.
   */
  public static Result run(String host, int port, int connections, Duration duration, HttpMethod method, String path,
      String accept) throws InterruptedException {
    Vertx vertx = Vertx.vertx();
    HttpClient client = vertx.createHttpClient(new HttpClientOptions().setDefaultHost(host).setDefaultPort(port)
        .setKeepAlive(true).setConnectTimeout(10_000).setIdleTimeout(30),
        new PoolOptions().setHttp1MaxSize(connections).setMaxWaitQueueSize(-1));
    Loop loop = new Loop(client, () -> new RequestOptions().setMethod(method).setURI(path).putHeader("Accept", accept),
        System.nanoTime() + duration.toNanos(), new CountDownLatch(connections));
    long started = System.nanoTime();
    for (int i = 0; i < connections; i++) {
      vertx.runOnContext(v -> loop.next());
    }
    loop.done.await(duration.toSeconds() + 60, TimeUnit.SECONDS);
    double seconds = (System.nanoTime() - started) / 1e9;
    long[] sorted = new long[(int) Math.min(loop.count.get(), MAX_LATENCIES)];
    for (int i = 0; i < sorted.length; i++) {
      sorted[i] = loop.latencies.get(i);
    }
    Arrays.sort(sorted);
    client.close();
    vertx.close().toCompletionStage().toCompletableFuture().join();
    return new Result(loop.count.get(), loop.ok.get(), seconds, sorted);
  }

  /** The shared state of every connection's loop; {@link #done} counts down as each connection ends its last one. */
  private record Loop(HttpClient client, Supplier<RequestOptions> request, long deadline, CountDownLatch done,
      AtomicLong count, AtomicLong ok, AtomicLongArray latencies) {
    Loop(HttpClient client, Supplier<RequestOptions> request, long deadline, CountDownLatch done) {
      this(client, request, deadline, done, new AtomicLong(), new AtomicLong(), new AtomicLongArray(MAX_LATENCIES));
    }

    void next() {
      if (System.nanoTime() >= deadline) {
        done.countDown();
        return;
      }
      long sent = System.nanoTime();
      client.request(request.get()).compose(req -> req.send()).compose(resp -> resp.body().map(b -> resp.statusCode()))
          .onComplete(ar -> {
            long i = count.getAndIncrement();
            if (i < MAX_LATENCIES) {
              latencies.set((int) i, (System.nanoTime() - sent) / 1000);
            }
            if (ar.succeeded() && ar.result() == 200) {
              ok.incrementAndGet();
            }
            next();
          });
    }
  }
}
