package io.jitdi.jmh;

import io.jitdi.concurrent.Io;
import io.jitdi.stream.DigestingFileSink;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.Semaphore;
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
 * The fill's write path: 64 MiB handed to a {@link DigestingFileSink} in upstream-sized chunks, with its
 * back-pressure honoured, until the sha256 and size are known. One operation is one 64 MiB blob, so MB/s is
 * {@code 64 / (s/op)}.
 *
 * <p>Run: {@code java -jar bench/jmh/target/benchmarks.jar DigestingFileSinkBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class DigestingFileSinkBenchmark {
  private static final int BLOB = 64 << 20;

  /** Bytes per write: what one upstream read hands over. */
  @Param({"65536", "262144"})
  public int chunk;

  private Io io;
  private Path dir;
  private ByteBuf[] chunks;
  private int file;

  @Setup
  public void setUp() throws Exception {
    io = new Io();
    dir = Files.createTempDirectory("jmh-sink");
    byte[] bytes = new byte[BLOB];
    new Random(1).nextBytes(bytes);
    chunks = new ByteBuf[BLOB / chunk];
    for (int i = 0; i < chunks.length; i++) {
      // direct, as the upstream's buffers arrive; kept across operations (each write takes a reference)
      chunks[i] = Unpooled.directBuffer(chunk).writeBytes(bytes, i * chunk, chunk);
    }
  }

  @TearDown(Level.Invocation)
  public void deleteFiles() throws Exception {
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
  }

  @TearDown
  public void tearDown() throws Exception {
    Files.deleteIfExists(dir);
    io.close();
    for (ByteBuf b : chunks) {
      b.release();
    }
  }

  @Benchmark
  public DigestingFileSink.Written writeAndDigest() throws Exception {
    try (FileChannel channel = FileChannel.open(dir.resolve("blob" + file++), StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE)) {
      DigestingFileSink sink = new DigestingFileSink(channel, io.executor(), total -> { });
      for (ByteBuf b : chunks) {
        if (!sink.write(b.retainedDuplicate())) {
          Semaphore drained = new Semaphore(0);
          sink.whenDrained(drained::release);
          drained.acquire();
        }
      }
      return sink.end().get(1, TimeUnit.MINUTES);
    }
  }
}
