package io.jitdi.concurrent;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * At most one piece of work per key at a time; whoever asks while it runs joins it.
 *
 * <p>Contract: {@link #run} starts {@code work} at most once per key until that run completes; callers that arrive
 * meanwhile get the same future and {@code coalesced = true}. A run is forgotten as soon as it completes, successfully
 * or not, so failures are never cached: the next caller starts afresh. Thread-safe; no user code runs under a lock.
 */
public final class SingleFlight<K, T> {
  /** The future of a run and whether the caller joined one already under way. */
  public record Joined<T>(Future<T> future, boolean coalesced) {}

  private final ConcurrentHashMap<K, Future<T>> flights = new ConcurrentHashMap<>();

  public Joined<T> run(K key, Supplier<Future<T>> work) {
    Promise<T> fresh = Promise.promise();
    Future<T> existing = flights.putIfAbsent(key, fresh.future());
    if (existing != null) {
      return new Joined<>(existing, true);
    }
    Future<T> started;
    try {
      started = work.get();
    } catch (RuntimeException e) {
      started = Future.failedFuture(e);
    }
    started.onComplete(ar -> {
      flights.remove(key, fresh.future());
      fresh.handle(ar);
    });
    return new Joined<>(fresh.future(), false);
  }

  /** Whether a run for {@code key} is under way. */
  public boolean running(K key) {
    return flights.containsKey(key);
  }

  /** The number of runs under way. */
  public int size() {
    return flights.size();
  }
}
