package io.jitdi;

import io.jitdi.bucket.Bucket;
import io.jitdi.cache.Cache;
import io.jitdi.concurrent.Io;
import io.jitdi.config.JitdiConfig;
import io.jitdi.jit.CachedArtifacts;
import io.jitdi.jit.JitImages;
import io.jitdi.jit.ModelSources;
import io.jitdi.jit.Planner;
import io.jitdi.jit.RuleSet;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.registry.MetricsEndpoint;
import io.jitdi.registry.RegistryHandler;
import io.jitdi.registry.RegistryServer;
import io.jitdi.upstream.UpstreamClient;
import io.jitdi.upstream.UpstreamRouter;
import io.jitdi.upstream.Version;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running jitdi: Vert.x, the IO pool, the cache, the upstream clients and the HTTP servers, wired together.
 * {@link #stop()} stops accepting requests, lets fills in flight finish (up to {@link #DRAIN}), then closes the
 * index.
 */
public final class Server {
  private static final Logger LOG = LoggerFactory.getLogger(Server.class);
  /** How long a shutdown waits for fills in flight. */
  static final Duration DRAIN = Duration.ofSeconds(25);

  private final Vertx vertx;
  private final Io io;
  private final Cache cache;
  private final Bucket bucket;
  private final List<String> deployments;

  private Server(Vertx vertx, Io io, Cache cache, Bucket bucket, List<String> deployments) {
    this.vertx = vertx;
    this.io = io;
    this.cache = cache;
    this.bucket = bucket;
    this.deployments = deployments;
  }

  private static <T> T await(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  /** Starts everything (blocking until the servers listen). */
  public static Server start(JitdiConfig config, RuleSet rules) throws Exception {
    int loops = Math.max(2, Runtime.getRuntime().availableProcessors());
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(loops).setPreferNativeTransport(true)
        .setFileSystemOptions(new FileSystemOptions().setFileCacheDir(
            Cache.prepareRuntimeDir(config.cache().dir()).resolve(Cache.VERTX_FILE_CACHE).toString())));
    Io io = new Io();
    Cache cache = null;
    Bucket bucket = null;
    try {
      JitdiMetrics metrics = new JitdiMetrics();
      UpstreamRouter router = UpstreamRouter.connect(vertx, io, config.upstreams().values(), config.defaultUpstream(),
          rules.registries(), metrics);
      cache = Cache.open(vertx, config.cache(), io, Clock.systemUTC(), metrics);
      if (config.cache().s3().isPresent()) {
        bucket = Bucket.open(config.cache().s3().get(), io, metrics);
        await(cache.useBucket(bucket, router.presigned(), metrics));
        LOG.info("shared bucket {}{}", config.cache().s3().get(), config.cache().s3().get().redirect()
            ? "; blob GETs it can answer are redirected to presigned URLs" : "");
      }
      JitImages jit = new JitImages(vertx, rules, config.jit(), router, cache, io, metrics, Clock.systemUTC(),
          new Planner(config.jit(), UpstreamClient.USER_AGENT, List.of(new ModelSources(
              new CachedArtifacts(vertx, router, cache), config.jit(), System::getenv, UpstreamClient.USER_AGENT))));
      // a blob a client asks for may be one a JIT image built (rebuilt from its recipe) or took from its base
      cache.blobs().useOrigins(jit);
      MetricsEndpoint metricsEndpoint = new MetricsEndpoint(metrics, io);
      RegistryHandler handler = new RegistryHandler(vertx, router, cache, jit, metrics,
          config.server().metricsListen().isPresent() ? null : metricsEndpoint, config.server().auth());
      List<String> deployments = new ArrayList<>();
      deployments.add(await(RegistryServer.deploy(vertx, config.server().listen(), handler, loops,
          config.server().tls())));
      if (config.server().metricsListen().isPresent()) {
        deployments.add(await(RegistryServer.deploy(vertx, config.server().metricsListen().get(), metricsEndpoint,
            1, java.util.Optional.empty())));
        LOG.info("metrics on {}", config.server().metricsListen().get());
      }
      LOG.info("jitdi {} listening on {} ({}{}) with upstreams {} (default {}), {} JIT rules{}; config {}",
          Version.VERSION, config.server().listen(), config.server().tls().isPresent() ? "https" : "http",
          config.server().auth().isPresent() ? ", clients authenticate" : "", router.upstreams().keySet(),
          config.defaultUpstream(), rules.rules().size(), router.jitRegistries().isEmpty() ? "" : " (JIT registries "
          + router.jitRegistries() + ")", config.file());
      return new Server(vertx, io, cache, bucket, deployments);
    } catch (Exception | Error e) {
      if (cache != null) {
        cache.close();
      }
      if (bucket != null) {
        bucket.close();
      }
      vertx.close();
      io.close();
      throw e;
    }
  }

  /** Stops serving, waits for fills in flight (bounded), and closes the cache. */
  public void stop() {
    LOG.info("shutting down: no new requests; waiting up to {}s for {} fills in flight", DRAIN.toSeconds(),
        cache.blobs().fillsInFlight());
    for (String deployment : deployments) {
      try {
        vertx.undeploy(deployment).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.warn("servers did not stop cleanly: {}", e.toString());
      }
    }
    long deadline = System.nanoTime() + DRAIN.toNanos();
    while (cache.blobs().fillsInFlight() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    cache.close();
    if (bucket != null) {
      bucket.close();
    }
    Future<Void> closed = vertx.close();
    try {
      closed.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warn("Vert.x did not close cleanly: {}", e.toString());
    }
    io.close();
    LOG.info("stopped");
  }
}
