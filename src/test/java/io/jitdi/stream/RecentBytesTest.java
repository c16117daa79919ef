package io.jitdi.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

class RecentBytesTest {
  private static Buffer bytes(int from, int length) {
    Buffer b = Buffer.buffer(length);
    for (int i = 0; i < length; i++) {
      b.appendByte((byte) (from + i));
    }
    return b;
  }

  @Test
  void servesHeldBytesFromAnyPositionWithinOneBuffer() {
    RecentBytes recent = new RecentBytes(1000, new RecentBytes.Pool(1 << 20));
    recent.add(0, bytes(0, 100));
    recent.add(100, bytes(100, 100));
    Buffer got = recent.read(150, 1000, 1000).orElseThrow();
    assertEquals(bytes(150, 50), got, "a read stops at the end of the buffer that holds its start");
    assertEquals(bytes(20, 10), recent.read(20, 1000, 10).orElseThrow(), "and at max");
  }

  @Test
  void neverReadsPastTheLimit() {
    RecentBytes recent = new RecentBytes(1000, new RecentBytes.Pool(1 << 20));
    recent.add(0, bytes(0, 100));
    assertEquals(bytes(0, 99), recent.read(0, 99, 1000).orElseThrow());
    assertTrue(recent.read(99, 99, 1000).isEmpty());
  }

  @Test
  void dropsTheOldestBuffersBeyondTheBudgetButKeepsTheNewest() {
    RecentBytes recent = new RecentBytes(150, new RecentBytes.Pool(1 << 20));
    recent.add(0, bytes(0, 100));
    recent.add(100, bytes(100, 100));
    assertTrue(recent.read(50, 1000, 10).isEmpty(), "the first buffer was dropped");
    assertEquals(bytes(120, 10), recent.read(120, 1000, 10).orElseThrow());
    recent.add(200, bytes(200, 500));
    assertEquals(bytes(600, 10), recent.read(600, 1000, 10).orElseThrow(), "a buffer over budget alone is kept");
    assertTrue(recent.read(150, 1000, 10).isEmpty());
  }

  @Test
  void windowsSharingAPoolStayWithinItsBudgetTogether() {
    RecentBytes.Pool pool = new RecentBytes.Pool(250);
    RecentBytes first = new RecentBytes(1000, pool);
    RecentBytes second = new RecentBytes(1000, pool);
    second.add(0, bytes(0, 100));
    first.add(0, bytes(0, 100));
    first.add(100, bytes(100, 100));
    assertEquals(200, pool.held(), "the window that added gave up its oldest buffer");
    assertTrue(first.read(0, 1000, 10).isEmpty());
    assertEquals(bytes(0, 10), second.read(0, 1000, 10).orElseThrow());
    first.clear();
    second.clear();
    assertEquals(0, pool.held(), "clearing gives everything back");
  }

  @Test
  void aGapStartsOverAndClearForgetsEverything() {
    RecentBytes recent = new RecentBytes(1000, new RecentBytes.Pool(1 << 20));
    recent.add(0, bytes(0, 100));
    recent.add(300, bytes(44, 100));
    assertTrue(recent.read(50, 1000, 10).isEmpty());
    assertEquals(bytes(44, 10), recent.read(300, 1000, 10).orElseThrow());
    recent.clear();
    assertTrue(recent.read(300, 1000, 10).isEmpty());
  }

  @Test
  void positionsOutsideWhatIsHeldAreEmpty() {
    RecentBytes recent = new RecentBytes(1000, new RecentBytes.Pool(1 << 20));
    assertTrue(recent.read(0, 1000, 10).isEmpty());
    recent.add(100, bytes(0, 100));
    assertTrue(recent.read(99, 1000, 10).isEmpty());
    assertTrue(recent.read(200, 1000, 10).isEmpty());
  }
}
