package io.jitdi.jit;

import io.vertx.core.json.JsonObject;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/** The state of one build, for {@code GET /_jitdi/builds}, "still building" answers and progress log lines. */
public final class BuildProgress {
  /** Where a build is. */
  public enum State { planning, building, composing, done, failed }

  private final String id;
  private final String image;
  private final String rule;
  private final long startedNanos = System.nanoTime();
  private final long startedMillis = System.currentTimeMillis();
  private final AtomicLong done = new AtomicLong();
  private volatile long total = -1;
  private volatile State state = State.planning;
  private volatile String error;
  private volatile String digest;
  private volatile long finishedNanos;

  BuildProgress(String id, String image, String rule) {
    this.id = id;
    this.image = image;
    this.rule = rule;
  }

  void state(State s) {
    state = s;
    if (s == State.done || s == State.failed) {
      finishedNanos = System.nanoTime();
    }
  }

  void total(long bytes) {
    total = bytes;
  }

  void done(long bytes) {
    done.set(bytes);
  }

  void failed(String why) {
    error = why;
    state(State.failed);
  }

  void succeeded(String manifestDigest) {
    digest = manifestDigest;
    done.set(Math.max(done.get(), Math.max(total, 0)));
    state(State.done);
  }

  public String id() {
    return id;
  }

  public String image() {
    return image;
  }

  public State state() {
    return state;
  }

  public boolean running() {
    return state != State.done && state != State.failed;
  }

  double seconds() {
    long end = finishedNanos != 0 ? finishedNanos : System.nanoTime();
    return (end - startedNanos) / 1e9;
  }

  double rate() {
    double s = seconds();
    return s > 0 ? done.get() / s : 0;
  }

  /** "45% (1.2 of 2.7 GB) at 110 MB/s, about 13 s left", or the state when nothing is known yet. */
  public String describe() {
    long t = total;
    long d = done.get();
    if (t <= 0) {
      return state.name();
    }
    double rate = rate();
    String eta = rate > 0 && d < t ? String.format(Locale.ROOT, ", about %.0f s left", (t - d) / rate) : "";
    return String.format(Locale.ROOT, "%s: %.0f%% (%.2f of %.2f GB) at %.0f MB/s%s", state, 100.0 * d / t, d / 1e9,
        t / 1e9, rate / 1e6, eta);
  }

  /** Seconds a client should wait before asking again. */
  long retryAfterSeconds() {
    double rate = rate();
    long t = total;
    if (rate <= 0 || t <= 0) {
      return 5;
    }
    return Math.max(1, Math.min(30, (long) ((t - done.get()) / rate)));
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject().put("id", id).put("image", image).put("rule", rule).put("state", state.name())
        .put("bytesDone", done.get()).put("bytesTotal", total).put("bytesPerSecond", (long) rate())
        .put("seconds", Math.round(seconds() * 10) / 10.0).put("startedAt", java.time.Instant
            .ofEpochMilli(startedMillis).toString());
    if (digest != null) {
      json.put("digest", digest);
    }
    if (error != null) {
      json.put("error", error);
    }
    return json;
  }
}
