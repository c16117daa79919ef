package io.jitdi.concurrent;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The pool for blocking work: file IO, hashing, fsync and RocksDB. Event loops hand work here and get the result back
 * on their own context, so nothing blocks an event loop.
 */
public final class Io implements AutoCloseable {
  private final ExecutorService pool;

  public Io() {
    AtomicInteger n = new AtomicInteger();
    ThreadFactory threads = r -> {
      Thread t = new Thread(r, "jitdi-io-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
    this.pool = Executors.newCachedThreadPool(threads);
  }

  /** The raw executor, for {@link SerialExecutor}s. */
  public ExecutorService executor() {
    return pool;
  }

  /**
   * Runs {@code task} on the pool. The future completes on the calling Vert.x context, or on the pool thread when
   * called from outside Vert.x.
   */
  public <T> Future<T> call(Callable<T> task) {
    Context context = Vertx.currentContext();
    Promise<T> promise = Promise.promise();
    pool.execute(() -> {
      T value;
      try {
        value = task.call();
      } catch (Throwable e) {
        deliver(context, () -> promise.fail(e));
        return;
      }
      deliver(context, () -> promise.complete(value));
    });
    return promise.future();
  }

  /** Runs {@code task} on the pool. */
  public Future<Void> run(ThrowingRunnable task) {
    return call(() -> {
      task.run();
      return null;
    });
  }

  private static void deliver(Context context, Runnable completion) {
    if (context == null) {
      completion.run();
    } else {
      context.runOnContext(v -> completion.run());
    }
  }

  /** A runnable that may throw. */
  @FunctionalInterface
  public interface ThrowingRunnable {
    void run() throws Exception;
  }

  @Override
  public void close() {
    pool.shutdown();
    try {
      pool.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
