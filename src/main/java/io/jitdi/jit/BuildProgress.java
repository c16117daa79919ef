package io.jitdi.jit;

import io.vertx.core.json.JsonObject;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The state of one build, for {@code GET /_jitdi/builds}, "still building" answers and progress log lines.
 *
 * <p>Two figures move while a build runs: bytes read from the sources (files, artifact blobs: a tar layer is read as
 * its fill arrives, before any of its files is written) against the bytes to read, known from the plan; and bytes of
 * file content written into the layer against the bytes to write, known once every tar layer was read (until then,
 * an estimate: the bytes to read). For a source that is not a tar layer, the two move together.
 */
public final class BuildProgress {
  /** Where a build is. */
  public enum State { planning, building, composing, done, failed }

  private final String id;
  private final String image;
  private final String rule;
  private final long startedNanos = System.nanoTime();
  private final long startedMillis = System.currentTimeMillis();
  private final AtomicLong read = new AtomicLong();
  private final AtomicLong written = new AtomicLong();
  private final AtomicLong toWrite = new AtomicLong(-1);
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

  /** The bytes to read from the sources, which are also the first estimate of the bytes to write. */
  void total(long bytes) {
    total = bytes;
    toWrite.set(bytes);
  }

  /** {@code bytes} more were read from a source. */
  void read(long bytes) {
    read.addAndGet(bytes);
  }

  /** {@code bytes} of file content are written so far. */
  void written(long bytes) {
    written.set(bytes);
  }

  /** The bytes to write turned out {@code delta} more than estimated (a tar layer was read). */
  void toWriteChanged(long delta) {
    toWrite.addAndGet(delta);
  }

  void failed(String why) {
    error = why;
    state(State.failed);
  }

  /** Done; the figures stay what was really read and written (less, when a layer built before was reused). */
  void succeeded(String manifestDigest) {
    digest = manifestDigest;
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

  /** Bytes read from the sources per second. */
  double rate() {
    double s = seconds();
    return s > 0 ? read.get() / s : 0;
  }

  /** Seconds left at the pace so far (reading and writing both), or -1 when it cannot be told. */
  private double secondsLeft() {
    long t = total;
    long w = toWrite.get();
    double s = seconds();
    long done = read.get() + written.get();
    long left = Math.max(0, t - read.get()) + Math.max(0, w - written.get());
    return s > 0 && done > 0 && t > 0 ? left / (done / s) : -1;
  }

  /**
   * "45% (1.20 of 2.70 GB read, 0.80 GB written) at 110 MB/s, about 13 s left", or the state when nothing is known
   * yet. The percentage counts reading and writing alike.
   */
  public String describe() {
    long t = total;
    if (t <= 0) {
      return state.name();
    }
    long r = read.get();
    long w = written.get();
    long all = t + Math.max(toWrite.get(), 0);
    double left = secondsLeft();
    String eta = left >= 0 && r + w < all ? String.format(Locale.ROOT, ", about %.0f s left", left) : "";
    return String.format(Locale.ROOT, "%s: %.0f%% (%.2f of %.2f GB read, %.2f GB written) at %.0f MB/s%s", state,
        100.0 * Math.min(all, r + w) / all, r / 1e9, t / 1e9, w / 1e9, rate() / 1e6, eta);
  }

  /** Seconds a client should wait before asking again. */
  long retryAfterSeconds() {
    double left = secondsLeft();
    return left < 0 ? 5 : Math.max(1, Math.min(30, (long) left));
  }

  /**
   * {@code bytesDone} and {@code bytesTotal}: read from the sources, and to read; {@code bytesWritten} and
   * {@code bytesToWrite}: file content written into the layer, and to write; {@code bytesPerSecond}: the read rate.
   */
  public JsonObject toJson() {
    JsonObject json = new JsonObject().put("id", id).put("image", image).put("rule", rule).put("state", state.name())
        .put("bytesDone", read.get()).put("bytesTotal", total).put("bytesWritten", written.get())
        .put("bytesToWrite", toWrite.get()).put("bytesPerSecond", (long) rate())
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
