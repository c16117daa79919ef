package io.jitdi.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(VertxExtension.class)
class DigestingFileSinkTest {
  @TempDir
  Path dir;
  private final ExecutorService pool = Executors.newFixedThreadPool(2);

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  @Test
  void writesEveryByteAndDigestsThem(Vertx vertx, VertxTestContext test) throws Exception {
    byte[] content = new byte[3 * 1024 * 1024 + 17];
    new Random(7).nextBytes(content);
    Path file = dir.resolve("blob");
    FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    AtomicLong progress = new AtomicLong();
    vertx.runOnContext(v -> {
      DigestingFileSink sink = new DigestingFileSink(channel, vertx.getOrCreateContext(), pool,
          (offset, data, total) -> progress.set(total));
      sink.setWriteQueueMaxSize(64 * 1024);
      int drains = 0;
      for (int at = 0; at < content.length; at += 10_000) {
        sink.write(Buffer.buffer(java.util.Arrays.copyOfRange(content, at, Math.min(content.length, at + 10_000))));
        if (sink.writeQueueFull()) {
          drains++;
        }
      }
      assertTrue(drains > 0, "a 64 KiB queue must fill up");
      sink.end().compose(x -> sink.result()).onComplete(test.succeeding(written -> test.verify(() -> {
        channel.close();
        assertEquals(content.length, written.size());
        assertEquals(Digest.sha256Of(content), written.digest());
        assertEquals(content.length, progress.get());
        assertArrayEquals(content, Files.readAllBytes(file));
        test.completeNow();
      })));
    });
  }

  @Test
  void failsWritesAndTheResultAfterAnAbort(Vertx vertx, VertxTestContext test) throws Exception {
    FileChannel channel = FileChannel.open(dir.resolve("b"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    vertx.runOnContext(v -> {
      DigestingFileSink sink = new DigestingFileSink(channel, vertx.getOrCreateContext(), pool, (o, d, t) -> { });
      sink.abort(new IllegalStateException("cut"));
      assertTrue(sink.write(Buffer.buffer("x")).failed());
      sink.end().onComplete(test.failing(e -> test.verify(() -> {
        assertEquals("cut", e.getMessage());
        test.completeNow();
      })));
    });
  }
}
