package io.jitdi.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import org.junit.jupiter.api.Test;

/** Digest.parse accepts exactly canonical sha256 digests and otherwise fails with DIGEST_INVALID, nothing else. */
class DigestFuzzTest {
  @FuzzTest(maxExecutions = 100_000)
  void parse(FuzzedDataProvider data) {
    check(data.consumeRemainingAsString());
  }

  @Test
  void smoke() {
    Smoke.strings(1, DigestFuzzTest::check);
  }

  static void check(String text) {
    try {
      Digest d = Digest.parse(text);
      assertEquals(text, d.toString());
      assertTrue(d.hex().matches("[a-f0-9]{64}"));
    } catch (RegistryException e) {
      assertEquals(ErrorCode.DIGEST_INVALID, e.code());
      assertTrue(e.getMessage().length() < 1000, "messages stay short");
    }
  }
}
