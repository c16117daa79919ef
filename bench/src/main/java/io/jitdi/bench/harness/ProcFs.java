package io.jitdi.bench.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/** What /proc says of a process: its CPU time so far, and its resident memory. */
public final class ProcFs {
  /** Clock ticks a second of /proc/<pid>/stat's utime and stime ({@code getconf CLK_TCK}, 100 if that fails). */
  public static final long CLK_TCK = clockTicks();

  private ProcFs() {}

  /** utime + stime of process {@code pid} so far (all its threads), in seconds. */
  public static double cpuSeconds(long pid) {
    return stat(pid, true);
  }

  /** stime of process {@code pid} so far (all its threads): its CPU time in the kernel, in seconds. */
  public static double systemSeconds(long pid) {
    return stat(pid, false);
  }

  private static double stat(long pid, boolean withUser) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      // after "pid (comm) ": field 3 (state) is [0], so field 14 (utime) is [11] and field 15 (stime) is [12]
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return ((withUser ? Long.parseLong(fields[11]) : 0) + Long.parseLong(fields[12])) / (double) CLK_TCK;
    } catch (IOException e) {
      throw new UncheckedIOException("CPU time of process " + pid, e);
    }
  }

  /**
   * CPU time the hypervisor gave to others while this VM wanted it, so far, summed over all CPUs ("steal" in the first
   * line of /proc/stat), in seconds; 0 where the kernel does not account it.
   */
  public static double stolenSeconds() {
    try {
      String[] cpu = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      return cpu.length > 8 ? Long.parseLong(cpu[8]) / (double) CLK_TCK : 0;
    } catch (IOException e) {
      throw new UncheckedIOException("/proc/stat", e);
    }
  }

  /**
   * utime + stime of each thread of process {@code pid} so far, in seconds, summed by thread name with its digits
   * dropped (so a pool's threads are one line).
   */
  public static java.util.Map<String, Double> threadCpuSeconds(long pid) {
    java.util.Map<String, Double> byName = new java.util.TreeMap<>();
    try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
      for (Path task : tasks.toList()) {
        try {
          String stat = Files.readString(task.resolve("stat"));
          String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replaceAll("[0-9]+", "#");
          String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          byName.merge(name, (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / (double) CLK_TCK,
              Double::sum);
        } catch (IOException gone) {
          // the thread ended meanwhile
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("threads of process " + pid, e);
    }
    return byName;
  }

  /**
   * utime + stime so far of process {@code pid}'s JIT compiler threads (a HotSpot JVM's "C1 CompilerThread" and "C2
   * CompilerThread"s), in seconds; 0 for a process without them.
   */
  public static double compilerSeconds(long pid) {
    return compilerSeconds(threadCpuSeconds(pid));
  }

  /** The JIT compiler threads' part of {@link #threadCpuSeconds}. */
  public static double compilerSeconds(java.util.Map<String, Double> threads) {
    return threads.entrySet().stream().filter(e -> e.getKey().matches("C# CompilerThre.*"))
        .mapToDouble(java.util.Map.Entry::getValue).sum();
  }

  /** The threads that used CPU between {@code before} and {@code after}, most first: "name 1.23" each. */
  public static String threadCpuDelta(java.util.Map<String, Double> before, java.util.Map<String, Double> after) {
    return after.entrySet().stream()
        .map(e -> java.util.Map.entry(e.getKey(), e.getValue() - before.getOrDefault(e.getKey(), 0.0)))
        .filter(e -> e.getValue() >= 0.02)
        .sorted(java.util.Map.Entry.<String, Double>comparingByValue().reversed())
        .map(e -> String.format(java.util.Locale.ROOT, "%s %.2f", e.getKey(), e.getValue()))
        .collect(java.util.stream.Collectors.joining(", "));
  }

  /** Waits (at most 15 s) until process {@code pid} used at most one tick in 0.5 s; returns its CPU seconds then. */
  public static double cpuSecondsWhenIdle(long pid) {
    double last = cpuSeconds(pid);
    for (int i = 0; i < 30; i++) {
      Proc.sleep(500);
      double now = cpuSeconds(pid);
      if (now - last <= 1.0 / CLK_TCK) {
        return now;
      }
      last = now;
    }
    return last;
  }

  /**
   * Runs {@code work} while sampling process {@code pid}'s VmRSS (/proc/<pid>/status) every 20 ms; returns the peak
   * in MB (2^20 bytes).
   */
  public static double peakRssDuring(long pid, Callable<?> work) throws Exception {
    AtomicLong peakKib = new AtomicLong();
    AtomicBoolean done = new AtomicBoolean();
    Thread sampler = new Thread(() -> {
      while (!done.get()) {
        try {
          for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
              peakKib.accumulateAndGet(Long.parseLong(line.replaceAll("[^0-9]", "")), Math::max);
            }
          }
          Thread.sleep(20);
        } catch (IOException | InterruptedException e) {
          return;
        }
      }
    }, "rss-sampler");
    sampler.start();
    try {
      work.call();
    } finally {
      done.set(true);
      sampler.join();
    }
    return peakKib.get() / 1024.0;
  }

  private static long clockTicks() {
    try {
      return Long.parseLong(Proc.run(Duration.ofSeconds(10), List.of("getconf", "CLK_TCK")).trim());
    } catch (RuntimeException e) {
      return 100;
    }
  }
}
