package io.jitdi.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class UnitsTest {
  @Test
  void sizesInIecAndSiUnits() {
    assertEquals(1024, ByteSize.parse("1KiB"));
    assertEquals(1024, ByteSize.parse("1Ki"));
    assertEquals(512L << 20, ByteSize.parse("512MiB"));
    assertEquals(50L << 30, ByteSize.parse("50GiB"));
    assertEquals(2L << 40, ByteSize.parse("2TiB"));
    assertEquals(1_000_000_000L, ByteSize.parse("1GB"));
    assertEquals(1536L << 20, ByteSize.parse("1.5GiB"));
    assertEquals(4096, ByteSize.parse("4096"));
    assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("-1GiB"));
    assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("10 parsecs"));
    assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("99999999999TiB"));
  }

  @Test
  void formatsSizesForHumans() {
    assertEquals("1.5 GiB", ByteSize.format(1536L << 20));
    assertEquals("12 B", ByteSize.format(12));
  }

  @Test
  void durationsInGoStyle() {
    assertEquals(Duration.ofMillis(500), Durations.parse("500ms"));
    assertEquals(Duration.ofSeconds(25), Durations.parse("25s"));
    assertEquals(Duration.ofMinutes(90), Durations.parse("1h30m"));
    assertEquals(Duration.ofDays(2), Durations.parse("2d"));
    assertEquals(Duration.ZERO, Durations.parse("0"));
    assertThrows(IllegalArgumentException.class, () -> Durations.parse("5 minutes"));
    assertThrows(IllegalArgumentException.class, () -> Durations.parse("5"));
  }

  @Test
  void listenAddresses() {
    assertEquals(new HostPort("0.0.0.0", 8888), HostPort.parse(":8888"));
    assertEquals(new HostPort("::1", 5000), HostPort.parse("[::1]:5000"));
    assertThrows(IllegalArgumentException.class, () -> HostPort.parse("localhost"));
    assertThrows(IllegalArgumentException.class, () -> HostPort.parse("localhost:99999"));
  }
}
