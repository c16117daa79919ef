package io.jitdi.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** A program started by a test, its output in a log file, stopped by PID (and its children with it). */
public final class Proc implements AutoCloseable {
  private final Process process;
  private final Path log;
  private final String name;

  private Proc(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  public static Proc start(String name, Path log, Map<String, String> env, List<String> command) {
    return start(name, log, env, command, null);
  }

  /** Starts a program in the working directory {@code workDir} (null: the test JVM's). */
  public static Proc start(String name, Path log, Map<String, String> env, List<String> command, Path workDir) {
    try {
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
      if (workDir != null) {
        pb.directory(workDir.toFile());
      }
      pb.environment().putAll(env);
      return new Proc(name, pb.start(), log);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + command, e);
    }
  }

  /** Runs a command to completion and returns its output; fails the test if it exits non-zero. */
  public static String run(Duration timeout, List<String> command) {
    Result r = exec(timeout, Map.of(), command);
    if (r.exit() != 0) {
      throw new AssertionError(String.join(" ", command) + " exited " + r.exit() + ":\n" + Tools.tail(r.output(), 4000));
    }
    return r.output();
  }

  /** The exit status and output of a finished command. */
  public record Result(int exit, String output) {}

  /** Runs a command to completion. */
  public static Result exec(Duration timeout, Map<String, String> env, List<String> command) {
    try {
      Path out = Files.createTempFile("jitdi-cmd", ".log");
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
      pb.environment().putAll(env);
      Process p = pb.start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        String seen = Files.readString(out);
        Files.deleteIfExists(out);
        throw new AssertionError(String.join(" ", command) + " did not finish in " + timeout + ":\n"
            + Tools.tail(seen, 4000));
      }
      String output = Files.readString(out);
      Files.deleteIfExists(out);
      return new Result(p.exitValue(), output);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  public long pid() {
    return process.pid();
  }

  public boolean alive() {
    return process.isAlive();
  }

  public Path logFile() {
    return log;
  }

  public String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** Waits for {@code condition}, failing with the log tail if the process dies or time runs out. */
  public void await(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (condition.getAsBoolean()) {
        return;
      }
      if (!process.isAlive()) {
        throw new AssertionError(name + " exited (" + process.exitValue() + ") before " + what + ":\n"
            + Tools.tail(log(), 4000));
      }
      sleep(50);
    }
    throw new AssertionError(name + ": timed out waiting for " + what + ":\n" + Tools.tail(log(), 4000));
  }

  /** SIGKILL, as a crash would. */
  public void kill9() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    waitExit(Duration.ofSeconds(10));
  }

  /** SIGTERM and wait for the exit status. */
  public int terminate(Duration timeout) {
    process.destroy();
    if (!waitExit(timeout)) {
      kill9();
    }
    return process.exitValue();
  }

  private boolean waitExit(Duration timeout) {
    try {
      return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

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

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }
}
