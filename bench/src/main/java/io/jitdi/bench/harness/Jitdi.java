package io.jitdi.bench.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * jitdi as a process, run from {@code target/jitdi.jar} (relative to the working directory, the top of the checkout)
 * the way a node runs it, logging at INFO as in production.
 */
public final class Jitdi extends ServerProcess {
  public static final Path JAR = Path.of("target/jitdi.jar").toAbsolutePath();

  private Jitdi(Proc proc, int port) {
    super(proc, port);
  }

  /**
   * The bench's config: one upstream for docker.io at {@code upstreamUrl}, a cache budget no figure reaches, and an
   * upstream idle timeout of 60 s. {@code PORT} and {@code CACHE_DIR} are filled in by {@link #start}.
   */
  public static String config(String upstreamUrl) {
    return """
        server:
          listen: 127.0.0.1:PORT
        cache:
          dir: CACHE_DIR
          maxSize: 64GiB
          manifestTtl: 5m
        upstreams:
          docker.io:
            url: %s
            idleTimeout: 60s
        defaultUpstream: docker.io
        """.formatted(upstreamUrl);
  }

  /**
   * Starts jitdi with {@code java} (a launcher's path) and {@code jvmOptions}, with config {@code yaml}, its cache and
   * log under {@code dir}, on a free loopback port; returns once {@code /readyz} answers 200 (at most 60 s).
   */
  public static Jitdi start(Path dir, String yaml, String java, List<String> jvmOptions) {
    if (!Files.exists(JAR)) {
      throw new IllegalStateException(JAR + " is missing; bench/run builds it (mvn -B -q package -DskipTests)");
    }
    return Ports.withFreePort(port -> {
      Path config = dir.resolve("jitdi.yaml");
      try {
        Files.createDirectories(dir);
        Files.writeString(config, yaml.replace("CACHE_DIR", dir.resolve("cache").toString())
            .replace("PORT", Integer.toString(port)));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      List<String> command = new ArrayList<>(List.of(java));
      command.addAll(jvmOptions);
      command.addAll(List.of("-jar", JAR.toString(), "--config", config.toString()));
      return new Jitdi(Proc.start("jitdi", dir.resolve("jitdi.log"), Map.of("JITDI_LOG_LEVEL", "INFO"), command,
          "jitdi to be ready", Duration.ofSeconds(60), () -> Http.status(Ports.url(port) + "/readyz") == 200), port);
    });
  }
}
