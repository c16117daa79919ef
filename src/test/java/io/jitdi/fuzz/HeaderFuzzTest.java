package io.jitdi.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jitdi.oci.RegistryException;
import io.jitdi.registry.Accepts;
import io.jitdi.registry.ByteRange;
import io.jitdi.upstream.Challenge;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Header parsers on hostile input: Accept normalization and WWW-Authenticate parsing never throw, and a Range is
 * either ignored, a range inside the blob, or a 416.
 */
class HeaderFuzzTest {
  @FuzzTest(maxExecutions = 100_000)
  void headers(FuzzedDataProvider data) {
    long size = data.consumeLong(-1, 1L << 40);
    check(data.consumeRemainingAsString(), size);
  }

  @Test
  void smoke() {
    Smoke.strings(6, s -> check(s, 1000));
    Smoke.strings(7, s -> check("bytes=" + s, 1L << 30));
  }

  static void check(String header, long size) {
    String accept = Accepts.normalize(List.of(header, header.toUpperCase()));
    if (accept != null) {
      for (String type : accept.split(", ")) {
        assertTrue(type.matches("[a-z0-9*][a-z0-9!#$&^_.+*-]*/[a-z0-9*][a-z0-9!#$&^_.+*-]*"), type);
      }
    }
    Challenge.parseAll(List.of(header));
    try {
      Optional<ByteRange> range = ByteRange.parse(header, size);
      range.ifPresent(r -> assertTrue(r.start() >= 0 && r.start() < r.end() && r.end() <= size, r.toString()));
    } catch (RegistryException e) {
      assertEquals(416, e.status());
    }
  }
}
