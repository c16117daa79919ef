package io.jitdi.bench.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** curl to /dev/null: the client side of the blob figures, one process a transfer. */
public final class Curl {
  private Curl() {}

  /** A finished transfer: bytes received and curl's total time. */
  public record Transfer(long bytes, double seconds) {
    /** Throughput in GB/s (10^9 bytes a second). */
    public double gbps() {
      return bytes / seconds / 1e9;
    }
  }

  /** GETs {@code url} (at most 10 minutes); fails unless it answered 200. */
  public static Transfer get(String url) {
    return get(url, List.of());
  }

  /** GETs {@code url} with request headers {@code headers} ("Name: value" each); fails unless it answered 200. */
  public static Transfer get(String url, List<String> headers) {
    List<String> command = new ArrayList<>(List.of("curl", "-s", "-o", "/dev/null", "-w",
        "%{http_code} %{size_download} %{time_total}"));
    headers.forEach(h -> {
      command.add("-H");
      command.add(h);
    });
    command.add(url);
    String out = Proc.run(Duration.ofMinutes(10), command).trim();
    String[] parts = out.split(" ");
    if (!parts[0].equals("200")) {
      throw new IllegalStateException("bench step failed: GET " + url + " answered " + out);
    }
    return new Transfer(Long.parseLong(parts[1]), Double.parseDouble(parts[2]));
  }

  /**
   * Starts {@code n} GETs of {@code url} at once; returns the wall time until the last is done, in seconds. Fails
   * unless every one answered 200 and curl saw the whole body.
   */
  public static double concurrent(String url, int n) {
    try {
      List<Process> all = new ArrayList<>();
      long started = System.nanoTime();
      for (int i = 0; i < n; i++) {
        all.add(new ProcessBuilder("curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url)
            .redirectErrorStream(true).start());
      }
      for (Process p : all) {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor();
        if (p.exitValue() != 0 || !out.startsWith("200 ")) {
          throw new IllegalStateException("bench step failed: concurrent GET: exit " + p.exitValue() + ", " + out);
        }
      }
      return (System.nanoTime() - started) / 1e9;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
