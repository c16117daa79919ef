package io.jitdi.jmh;

import io.jitdi.config.ImageRuleConfig.Compression;
import io.jitdi.jit.layer.LayerBuilder;
import io.jitdi.jit.sources.SourceFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Building a deterministic model layer: four 16 MiB local files (random, so incompressible, as model weights are)
 * into one tar, hashed as it is written. One operation is one 64 MiB layer.
 *
 * <p>Run: {@code java -jar bench/jmh/target/benchmarks.jar LayerBuilderBenchmark}
 * (add {@code -p compression=none} for the uncompressed case of bench figure 5 alone).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class LayerBuilderBenchmark {
  private static final int FILE = 16 << 20;

  @Param({"none", "gzip", "zstd"})
  public Compression compression;

  private Path dir;
  private List<LayerBuilder.Entry> entries;
  private ExecutorService pool;
  private int layer;

  @Setup
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("jmh-layer");
    pool = Executors.newCachedThreadPool();
    Random random = new Random(2);
    byte[] bytes = new byte[FILE];
    entries = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      random.nextBytes(bytes);
      Path file = Files.write(dir.resolve("model-0000" + i + "-of-00004.gguf"), bytes);
      SourceFile source = new SourceFile(file.getFileName().toString(), FILE, 0644, () -> Files.newInputStream(file));
      entries.add(new LayerBuilder.Entry("models/" + source.name(), source, 0644));
    }
  }

  @TearDown(Level.Invocation)
  public void deleteLayers() throws Exception {
    try (var files = Files.list(dir)) {
      for (Path p : files.filter(p -> p.getFileName().toString().startsWith("layer")).toList()) {
        Files.delete(p);
      }
    }
  }

  @TearDown
  public void tearDown() throws Exception {
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
    Files.delete(dir);
    pool.shutdownNow();
  }

  @Benchmark
  public LayerBuilder.Built build() throws Exception {
    return LayerBuilder.build(entries, compression, dir.resolve("layer" + layer++), pool, n -> { });
  }
}
