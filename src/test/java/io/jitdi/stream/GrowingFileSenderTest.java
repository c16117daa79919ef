package io.jitdi.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(VertxExtension.class)
class GrowingFileSenderTest {
  @TempDir
  Path dir;

  /** A growth the test drives by hand. */
  static class ManualGrowth implements Growth {
    long readable;
    boolean complete;
    Throwable failed;
    Promise<Long> waiting;
    long waitingAt;

    @Override
    public long readable() {
      return readable;
    }

    @Override
    public Future<Long> awaitBeyond(long position) {
      if (failed != null) {
        return Future.failedFuture(failed);
      }
      if (readable > position) {
        return Future.succeededFuture(readable);
      }
      if (complete) {
        return Future.succeededFuture(-1L);
      }
      waiting = Promise.promise();
      waitingAt = position;
      return waiting.future();
    }

    void grow(long to) {
      readable = to;
      if (waiting != null && to > waitingAt) {
        Promise<Long> p = waiting;
        waiting = null;
        p.complete(to);
      }
    }

    void finish() {
      complete = true;
      if (waiting != null) {
        Promise<Long> p = waiting;
        waiting = null;
        p.complete(-1L);
      }
    }

    void fail(Throwable e) {
      failed = e;
      if (waiting != null) {
        waiting.fail(e);
      }
    }
  }

  /** Collects what is written. */
  static final class Collector implements WriteStream<Buffer> {
    final Buffer all = Buffer.buffer();

    @Override
    public Future<Void> write(Buffer data) {
      all.appendBuffer(data);
      return Future.succeededFuture();
    }

    @Override
    public Future<Void> end() {
      return Future.succeededFuture();
    }

    @Override
    public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
      return this;
    }

    @Override
    public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
      return this;
    }

    @Override
    public boolean writeQueueFull() {
      return false;
    }

    @Override
    public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
      return this;
    }
  }

  private FileChannel file(byte[] content) throws Exception {
    Path p = dir.resolve("f");
    try (FileChannel w = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      w.write(ByteBuffer.wrap(content));
    }
    return FileChannel.open(p, StandardOpenOption.READ);
  }

  @Test
  void followsTheFileAsItGrowsAndStopsAtTheEndOfTheRange(Vertx vertx, VertxTestContext test) throws Exception {
    byte[] content = new byte[2_000_000];
    new Random(1).nextBytes(content);
    FileChannel channel = file(content);
    ManualGrowth growth = new ManualGrowth();
    Collector out = new Collector();
    vertx.runOnContext(v -> {
      GrowingFileSender sender = GrowingFileSender.start(vertx, channel, growth, 1000, 1_500_000, out, n -> { });
      vertx.setTimer(20, t -> growth.grow(700_000));
      vertx.setTimer(60, t -> growth.grow(2_000_000));
      sender.result().onComplete(test.succeeding(sent -> test.verify(() -> {
        assertEquals(1_499_000L, sent);
        assertArrayEquals(Arrays.copyOfRange(content, 1000, 1_500_000), out.all.getBytes());
        test.completeNow();
      })));
    });
  }

  @Test
  void bytesStillHeldInMemoryAreSentWithoutReadingTheFile(Vertx vertx, VertxTestContext test) throws Exception {
    byte[] content = new byte[600_000];
    new Random(3).nextBytes(content);
    FileChannel channel = file(new byte[0]);
    RecentBytes held = new RecentBytes(1 << 20, new RecentBytes.Pool(1 << 20));
    held.add(0, Buffer.buffer(content));
    ManualGrowth growth = new ManualGrowth() {
      @Override
      public java.util.Optional<Buffer> recent(long position, int max) {
        return held.read(position, readable, max);
      }
    };
    growth.readable = content.length;
    growth.complete = true;
    Collector out = new Collector();
    vertx.runOnContext(v -> GrowingFileSender.start(vertx, channel, growth, 10, content.length, out, n -> { })
        .result().onComplete(test.succeeding(sent -> test.verify(() -> {
          assertArrayEquals(Arrays.copyOfRange(content, 10, content.length), out.all.getBytes(),
              "the file is empty: every byte came from memory");
          test.completeNow();
        }))));
  }

  @Test
  void anOpenEndedCopyEndsWhenTheContentIsComplete(Vertx vertx, VertxTestContext test) throws Exception {
    byte[] content = new byte[300_000];
    new Random(2).nextBytes(content);
    FileChannel channel = file(content);
    ManualGrowth growth = new ManualGrowth();
    Collector out = new Collector();
    vertx.runOnContext(v -> {
      GrowingFileSender sender = GrowingFileSender.start(vertx, channel, growth, 0, Long.MAX_VALUE, out, n -> { });
      vertx.setTimer(20, t -> growth.grow(300_000));
      vertx.setTimer(60, t -> growth.finish());
      sender.result().onComplete(test.succeeding(sent -> test.verify(() -> {
        assertArrayEquals(content, out.all.getBytes());
        test.completeNow();
      })));
    });
  }

  @Test
  void failsWhenTheContentFails(Vertx vertx, VertxTestContext test) throws Exception {
    FileChannel channel = file(new byte[1000]);
    ManualGrowth growth = new ManualGrowth();
    vertx.runOnContext(v -> {
      GrowingFileSender sender = GrowingFileSender.start(vertx, channel, growth, 0, 1000, new Collector(), n -> { });
      vertx.setTimer(20, t -> growth.fail(new IllegalStateException("digest mismatch")));
      sender.result().onComplete(test.failing(e -> test.verify(() -> {
        assertEquals("digest mismatch", e.getMessage());
        test.completeNow();
      })));
    });
  }

  @Test
  void aCompleteContentShorterThanTheRangeIsAFailure(Vertx vertx, VertxTestContext test) throws Exception {
    FileChannel channel = file(new byte[1000]);
    ManualGrowth growth = new ManualGrowth();
    growth.readable = 500;
    growth.complete = true;
    vertx.runOnContext(v -> GrowingFileSender.start(vertx, channel, growth, 0, 1000, new Collector(), n -> { })
        .result().onComplete(test.failing(e -> test.completeNow())));
  }
}
