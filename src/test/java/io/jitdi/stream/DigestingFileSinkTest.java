package io.jitdi.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DigestingFileSinkTest {
  @TempDir
  Path dir;
  private final ExecutorService pool = Executors.newFixedThreadPool(2);

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  private static ByteBuf direct(byte[] content, int from, int to) {
    ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(to - from);
    buf.writeBytes(content, from, to - from);
    return buf;
  }

  @Test
  void writesAndDigestsEveryByteOfDirectBuffersAndReleasesThem() throws Exception {
    byte[] content = new byte[20 * 1024 * 1024 + 17];
    new Random(7).nextBytes(content);
    Path file = dir.resolve("blob");
    FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    AtomicLong progress = new AtomicLong();
    // the lanes wait at this gate until the writer has met back-pressure, so the test does not depend on speed
    CountDownLatch gate = new CountDownLatch(1);
    DigestingFileSink sink = new DigestingFileSink(channel, task -> pool.execute(() -> {
      try {
        gate.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      task.run();
    }), progress::set);
    List<ByteBuf> handed = new ArrayList<>();
    int full = 0;
    for (int at = 0; at < content.length; at += 100_000) {
      ByteBuf chunk = direct(content, at, Math.min(content.length, at + 100_000));
      handed.add(chunk);
      if (!sink.write(chunk)) {
        full++;
        CountDownLatch drained = new CountDownLatch(1);
        sink.whenDrained(drained::countDown);
        gate.countDown();
        assertTrue(drained.await(10, TimeUnit.SECONDS), "the queue drains");
      }
    }
    assertTrue(full >= 1, "the writer met back-pressure when 8 MiB waited behind the closed gate");
    gate.countDown();
    DigestingFileSink.Written written = sink.end().get(10, TimeUnit.SECONDS);
    channel.close();
    assertEquals(content.length, written.size());
    assertEquals(Digest.sha256Of(content), written.digest());
    assertEquals(content.length, progress.get());
    assertArrayEquals(content, Files.readAllBytes(file));
    assertTrue(handed.stream().allMatch(b -> b.refCnt() == 0), "every buffer is released once hashed and written");
  }

  /**
   * A second digest (a container's: a layer around the blob) sees every byte in order, after what it was fed before,
   * in its own lane; the buffers are released once all three lanes are done with them.
   */
  @Test
  void aSecondDigestIsFedTheSameBytesAfterItsOwn() throws Exception {
    byte[] head = "tar headers before the blob".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    byte[] content = new byte[9 * 1024 * 1024 + 5];
    new Random(11).nextBytes(content);
    java.security.MessageDigest container = Digest.newSha256();
    container.update(head);
    FileChannel channel = FileChannel.open(dir.resolve("c"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    DigestingFileSink sink = new DigestingFileSink(channel, pool, n -> { }, container);
    List<ByteBuf> handed = new ArrayList<>();
    for (int at = 0; at < content.length; at += 65_536) {
      ByteBuf chunk = direct(content, at, Math.min(content.length, at + 65_536));
      handed.add(chunk);
      if (!sink.write(chunk)) {
        CountDownLatch drained = new CountDownLatch(1);
        sink.whenDrained(drained::countDown);
        assertTrue(drained.await(10, TimeUnit.SECONDS), "the queue drains");
      }
    }
    DigestingFileSink.Written written = sink.end().get(10, TimeUnit.SECONDS);
    channel.close();
    assertEquals(Digest.sha256Of(content), written.digest());
    byte[] both = new byte[head.length + content.length];
    System.arraycopy(head, 0, both, 0, head.length);
    System.arraycopy(content, 0, both, head.length, content.length);
    assertEquals(Digest.sha256Of(both), Digest.ofSha256Bytes(container.digest()));
    assertTrue(handed.stream().allMatch(b -> b.refCnt() == 0), "every buffer is released");
  }

  @Test
  void dropsWritesAndFailsTheResultAfterAnAbort() throws Exception {
    FileChannel channel = FileChannel.open(dir.resolve("b"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    DigestingFileSink sink = new DigestingFileSink(channel, pool, n -> { });
    sink.abort(new IllegalStateException("cut"));
    ByteBuf late = direct(new byte[] {1, 2, 3}, 0, 3);
    assertFalse(sink.write(late), "a write after the abort is refused");
    assertEquals(0, late.refCnt(), "and its buffer released");
    ExecutionException e = assertThrows(ExecutionException.class, () -> sink.end().get(10, TimeUnit.SECONDS));
    assertEquals("cut", e.getCause().getMessage());
    assertEquals(0, Files.size(dir.resolve("b")));
    channel.close();
  }
}
