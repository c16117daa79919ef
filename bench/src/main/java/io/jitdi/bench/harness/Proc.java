package io.jitdi.bench.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A program the bench started, its output (stdout and stderr) in a log file; {@link #close()} stops it and its
 * children by PID. The static methods run a command to completion.
 */
public final class Proc implements AutoCloseable {
  private static final int TAIL = 4000;

  private final String name;
  private final Process process;
  private final Path log;

  private Proc(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  /**
   * Starts {@code command} with {@code env} added to this JVM's environment, its output going to {@code log}, and
   * waits until {@code ready} (polled every 50 ms); when the program exits first or {@code timeout} passes, it is
   * stopped and this fails with its log's tail.
   */
  public static Proc start(String name, Path log, Map<String, String> env, List<String> command, String readyWhen,
      Duration timeout, BooleanSupplier ready) {
    Proc proc;
    try {
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
      pb.environment().putAll(env);
      proc = new Proc(name, pb.start(), log);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + command, e);
    }
    try {
      proc.await(readyWhen, timeout, ready);
      return proc;
    } catch (RuntimeException e) {
      proc.close();
      throw e;
    }
  }

  /** The exit status and output of a finished command. */
  public record Result(int exit, String output) {}

  /**
   * Runs {@code command} to completion; it is killed, and this fails, when it takes longer than {@code timeout}.
   *
   * @throws UncheckedIOException when it cannot be started
   */
  public static Result exec(Duration timeout, List<String> command) {
    Path out = null;
    try {
      out = Files.createTempFile("jitdi-bench-cmd", ".log");
      Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + " did not finish in " + timeout + ":\n"
            + tail(Files.readString(out)));
      }
      return new Result(p.exitValue(), Files.readString(out));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } finally {
      if (out != null) {
        out.toFile().delete();
      }
    }
  }

  /** Runs {@code command} to completion and returns its output; fails when it exits non-zero. */
  public static String run(Duration timeout, List<String> command) {
    Result r = exec(timeout, command);
    if (r.exit() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " exited " + r.exit() + ":\n" + tail(r.output()));
    }
    return r.output();
  }

  public long pid() {
    return process.pid();
  }

  /** All output so far. */
  public String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  private void await(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (condition.getAsBoolean()) {
        return;
      }
      if (!process.isAlive()) {
        throw new IllegalStateException(name + " exited (" + process.exitValue() + ") before " + what + ":\n"
            + tail(log()));
      }
      sleep(50);
    }
    throw new IllegalStateException(name + ": timed out waiting for " + what + ":\n" + tail(log()));
  }

  /** SIGTERM, SIGKILL after 15 s; then SIGKILL to the children it had. */
  @Override
  public void close() {
    if (process.isAlive()) {
      List<ProcessHandle> children = process.descendants().toList();
      process.destroy();
      if (!waitExit(Duration.ofSeconds(15))) {
        process.destroyForcibly();
        waitExit(Duration.ofSeconds(5));
      }
      children.forEach(ProcessHandle::destroyForcibly);
    }
  }

  @Override
  public String toString() {
    return name + " (pid " + process.pid() + ")";
  }

  private boolean waitExit(Duration timeout) {
    try {
      return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Sleeps; an interrupt ends the bench step. */
  public static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private static String tail(String s) {
    return s.length() <= TAIL ? s : s.substring(s.length() - TAIL);
  }
}
