package io.jitdi.jmh;

import io.jitdi.cache.BlobRecord;
import io.jitdi.cache.BlobStore;
import io.jitdi.cache.MetadataStore;
import io.jitdi.concurrent.Io;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Digest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Comparator;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Looking up a blob's record, as every blob GET and HEAD does: through the {@link BlobStore}'s Caffeine cache (the
 * record is in memory), and straight from RocksDB (what a Caffeine miss costs). 100,000 records are in the index;
 * each operation looks up one of 1,024 of them.
 *
 * <p>Run: {@code java -jar bench/jmh/target/benchmarks.jar IndexLookupBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class IndexLookupBenchmark {
  private static final int RECORDS = 100_000;

  private Path dir;
  private Io io;
  private MetadataStore index;
  private BlobStore store;
  private Digest[] digests;
  private int next;

  @Setup
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("jmh-index");
    io = new Io();
    index = MetadataStore.open(dir.resolve("index"));
    digests = new Digest[1024];
    for (int i = 0; i < RECORDS; i++) {
      Digest d = Digest.sha256Of(("blob " + i).getBytes(StandardCharsets.UTF_8));
      index.putBlob(d, new BlobRecord(1L << 20, 0, 0, true, false));
      if (i % (RECORDS / digests.length) == 0 && i / (RECORDS / digests.length) < digests.length) {
        digests[i / (RECORDS / digests.length)] = d;
      }
    }
    store = new BlobStore(dir, index, io, Clock.systemUTC(), new JitdiMetrics(), 1L << 40);
    // the first lookup loads the record into Caffeine on the IO pool; wait until every one answers from memory
    for (Digest d : digests) {
      while (!store.record(d).isComplete()) {
        Thread.sleep(1);
      }
    }
  }

  @TearDown
  public void tearDown() throws Exception {
    index.close();
    io.close();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  private Digest nextDigest() {
    return digests[next++ & (digests.length - 1)];
  }

  @Benchmark
  public Optional<BlobRecord> caffeineHit() {
    return store.record(nextDigest()).result();
  }

  @Benchmark
  public Optional<BlobRecord> rocksDbHit() {
    return index.blob(nextDigest());
  }
}
