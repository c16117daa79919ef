package io.jitdi.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ByteRangeTest {
  @Test
  void parsesTheSingleRangeForms() {
    assertEquals(Optional.of(new ByteRange(10, 20)), ByteRange.parse("bytes=10-19", 100));
    assertEquals(Optional.of(new ByteRange(90, 100)), ByteRange.parse("bytes=90-", 100));
    assertEquals(Optional.of(new ByteRange(70, 100)), ByteRange.parse("bytes=-30", 100));
    assertEquals(Optional.of(new ByteRange(0, 100)), ByteRange.parse("bytes=-300", 100));
    assertEquals(Optional.of(new ByteRange(95, 100)), ByteRange.parse("bytes=95-1000", 100));
    assertEquals("bytes 10-19/100", new ByteRange(10, 20).contentRange(100));
  }

  @Test
  void ignoresWhatItCannotServeExactly() {
    assertTrue(ByteRange.parse(null, 100).isEmpty());
    assertTrue(ByteRange.parse("bytes=0-1,5-6", 100).isEmpty());
    assertTrue(ByteRange.parse("items=0-1", 100).isEmpty());
    assertTrue(ByteRange.parse("bytes=20-10", 100).isEmpty());
    assertTrue(ByteRange.parse("bytes=0-", -1).isEmpty());
    assertTrue(ByteRange.parse("bytes=99999999999999999999-", 100).isEmpty());
  }

  @Test
  void aRangePastTheEndIsUnsatisfiable() {
    RegistryException e = assertThrows(RegistryException.class, () -> ByteRange.parse("bytes=100-", 100));
    assertEquals(416, e.status());
    assertEquals(ErrorCode.RANGE_INVALID, e.code());
    assertThrows(RegistryException.class, () -> ByteRange.parse("bytes=-0", 100));
  }
}
