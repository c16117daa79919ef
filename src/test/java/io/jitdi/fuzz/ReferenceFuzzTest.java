package io.jitdi.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.Reference;
import io.jitdi.oci.RegistryException;
import org.junit.jupiter.api.Test;

/** Reference.parse gives a tag or a digest that prints back as given, or TAG_INVALID / DIGEST_INVALID. */
class ReferenceFuzzTest {
  @FuzzTest(maxExecutions = 100_000)
  void parse(FuzzedDataProvider data) {
    check(data.consumeRemainingAsString());
  }

  @Test
  void smoke() {
    Smoke.strings(2, ReferenceFuzzTest::check);
  }

  static void check(String text) {
    try {
      Reference r = Reference.parse(text);
      assertEquals(text, r.toString());
      if (!r.isDigest()) {
        assertTrue(text.matches("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"), text);
      }
    } catch (RegistryException e) {
      assertTrue(e.code() == ErrorCode.TAG_INVALID || e.code() == ErrorCode.DIGEST_INVALID, e.code().name());
    }
  }
}
