package io.jitdi.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** jitdi itself, run from {@code target/jitdi.jar} as its own process, the way a node runs it. */
public final class Jitdi implements AutoCloseable {
  public static final Path JAR = Path.of("target/jitdi.jar").toAbsolutePath();

  private final Path dir;
  private final Path config;
  /** The config as given, with {@code CACHE_DIR} and {@code PORT} still in it. */
  private final String yaml;
  /** Picked at the first start, then kept across restarts. */
  private int port = -1;
  private final List<String> jvmOptions;
  private final Map<String, String> env = new java.util.HashMap<>(
      Map.of("JITDI_LOG_LEVEL", System.getProperty("jitdi.logLevel", "DEBUG")));
  private Proc proc;
  private Path workDir;
  private int starts;
  private java.util.function.Predicate<Jitdi> readiness = j -> Http.answers(j.url() + "/readyz", 200);

  private Jitdi(Path dir, Path config, String yaml, List<String> jvmOptions) {
    this.dir = dir;
    this.config = config;
    this.yaml = yaml;
    this.jvmOptions = jvmOptions;
  }

  /**
   * Starts jitdi with a config made of {@code server.listen} on a free loopback port, {@code cache.dir} under
   * {@code dir}, and {@code yaml} (which gives the rest: {@code cache.maxSize}, upstreams, ...). In {@code yaml},
   * {@code CACHE_DIR} and {@code PORT} are replaced.
   */
  public static Jitdi start(Path dir, String yaml) {
    return start(dir, yaml, List.of());
  }

  /** Starts jitdi and waits for {@code ready} instead of a plain-http readiness probe (for TLS and auth). */
  public static Jitdi startWithReadiness(Path dir, String yaml, java.util.function.Predicate<Jitdi> ready) {
    return startWithReadiness(dir, yaml, Map.of(), ready);
  }

  /** As {@link #startWithReadiness(Path, String, java.util.function.Predicate)}, with {@code env} added. */
  public static Jitdi startWithReadiness(Path dir, String yaml, Map<String, String> env,
      java.util.function.Predicate<Jitdi> ready) {
    Jitdi jitdi = create(dir, yaml, List.of());
    jitdi.env.putAll(env);
    jitdi.readiness = ready;
    jitdi.startProcess();
    return jitdi;
  }

  public static Jitdi start(Path dir, String yaml, List<String> jvmOptions) {
    Jitdi jitdi = create(dir, yaml, jvmOptions);
    jitdi.startProcess();
    return jitdi;
  }

  /** Runs the jar once as a command ({@code resolve}, {@code cache import}, ...) and returns its exit and output. */
  public static Proc.Result runJar(String... args) {
    return runJar(Map.of(), args);
  }

  private static Proc.Result runJar(Map<String, String> env, String... args) {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-jar", JAR.toString()));
    command.addAll(List.of(args));
    return Proc.exec(Duration.ofMinutes(5), env, command);
  }

  /** Starts jitdi with {@code workDir} as its working directory, so a test can watch what it writes there. */
  public static Jitdi startIn(Path workDir, Path dir, String yaml) {
    Jitdi jitdi = create(dir, yaml, List.of());
    jitdi.workDir = workDir;
    jitdi.startProcess();
    return jitdi;
  }

  /** Starts jitdi with extra environment variables (e.g. source tokens). */
  public static Jitdi startWithEnv(Path dir, String yaml, Map<String, String> env) {
    Jitdi jitdi = create(dir, yaml, List.of());
    jitdi.env.putAll(env);
    jitdi.startProcess();
    return jitdi;
  }

  private static Jitdi create(Path dir, String yaml, List<String> jvmOptions) {
    Tools.require();
    if (!Files.exists(JAR)) {
      throw new AssertionError(JAR + " is missing; run mvn package first (mvn verify builds it before the ITs)");
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Jitdi(dir, dir.resolve("jitdi.yaml"), yaml, jvmOptions);
  }

  /** Writes the config with {@code port} in place of {@code PORT}. */
  private void writeConfig(int port) {
    try {
      Files.writeString(config, yaml.replace("CACHE_DIR", dir.resolve("cache").toString())
          .replace("PORT", Integer.toString(port)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The usual test config: one upstream for docker.io and a byte budget. */
  public static String config(String upstreamUrl, String maxSize) {
    return """
        server:
          listen: 127.0.0.1:PORT
        cache:
          dir: CACHE_DIR
          maxSize: %s
          manifestTtl: 5m
        upstreams:
          docker.io:
            url: %s
            idleTimeout: 10s
        defaultUpstream: docker.io
        """.formatted(maxSize, upstreamUrl);
  }

  private void startProcess() {
    if (port >= 0) {
      launch(); // a restart keeps its port: clients and certs.d files point at it
      return;
    }
    Ports.withFreePort(p -> {
      port = p;
      writeConfig(p);
      try {
        launch();
      } catch (RuntimeException | AssertionError e) {
        if (proc != null) {
          proc.close();
        }
        port = -1;
        throw e;
      }
      return this;
    });
  }

  private void launch() {
    List<String> command = new ArrayList<>();
    command.add(System.getProperty("jitdi.java", Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    command.addAll(jvmOptions);
    command.addAll(List.of("-jar", JAR.toString(), "--config", config.toString()));
    starts++;
    proc = Proc.start("jitdi", dir.resolve("jitdi-" + starts + ".log"), env, command, workDir);
    proc.await("jitdi to be ready", Duration.ofSeconds(60), () -> readiness.test(this));
  }

  /** Stops (SIGTERM) and starts again on the same port and cache. */
  public void restart() {
    stop();
    startProcess();
  }

  /** Stops with SIGTERM and returns the exit status. */
  public int stop() {
    return proc.terminate(Duration.ofSeconds(40));
  }

  /** Starts again after {@link #stop()} or a kill. */
  public void startAgain() {
    startProcess();
  }

  /**
   * Runs {@code java -jar jitdi.jar <args> --config <this config>} to completion (e.g. {@code verify}), with the
   * environment given to {@link #startWithEnv} (source tokens, endpoints).
   */
  public Proc.Result cli(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--config", config.toString()));
    Map<String, String> extra = new java.util.HashMap<>(env);
    extra.remove("JITDI_LOG_LEVEL");
    return runJar(extra, all.toArray(String[]::new));
  }

  /** Kills with SIGKILL, as a crash or an OOM kill would. */
  public void kill9() {
    proc.kill9();
  }

  public String url() {
    return "http://127.0.0.1:" + port;
  }

  /** {@code 127.0.0.1:port}, as registry clients write it. */
  public String hostPort() {
    return "127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  public Path cacheDir() {
    return dir.resolve("cache");
  }

  public Proc proc() {
    return proc;
  }

  /** All log output of every start so far. */
  public String log() {
    StringBuilder all = new StringBuilder();
    for (int i = 1; i <= starts; i++) {
      try {
        all.append(Files.readString(dir.resolve("jitdi-" + i + ".log")));
      } catch (IOException e) {
        // not written
      }
    }
    return all.toString();
  }

  public Metrics metrics() {
    Http.Text r = Http.get(url() + "/metrics");
    if (r.status() != 200) {
      throw new AssertionError("/metrics answered " + r.status());
    }
    return Metrics.parse(r.body());
  }

  /**
   * Bytes of files under {@code cache/<sub>} (0 if it does not exist). A file or directory that vanishes during the
   * walk (a fill committed or evicted meanwhile) is skipped; any other error fails the caller.
   */
  public long bytesUnder(String sub) {
    return bytesUnder(cacheDir().resolve(sub));
  }

  static long bytesUnder(Path root) {
    long[] total = {0};
    try {
      Files.walkFileTree(root, new java.nio.file.SimpleFileVisitor<>() {
        @Override
        public java.nio.file.FileVisitResult visitFile(Path file, java.nio.file.attribute.BasicFileAttributes attrs) {
          if (attrs.isRegularFile()) {
            total[0] += attrs.size();
          }
          return java.nio.file.FileVisitResult.CONTINUE;
        }

        @Override
        public java.nio.file.FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
          if (e instanceof java.nio.file.NoSuchFileException) {
            return java.nio.file.FileVisitResult.CONTINUE; // gone since its directory was listed
          }
          throw e;
        }

        @Override
        public java.nio.file.FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
          if (e != null && !(e instanceof java.nio.file.NoSuchFileException)) {
            throw e;
          }
          return java.nio.file.FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot measure " + root, e);
    }
    return total[0];
  }

  @Override
  public void close() {
    if (proc != null) {
      proc.close();
    }
  }
}
