package io.jitdi.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jitdi.oci.Digest;
import io.jitdi.oci.Manifest;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Upstream manifest bodies: either a manifest whose bytes are exactly the input and whose digest is their sha256, with
 * a manifest media type, or IllegalArgumentException. Never another exception, never re-serialized bytes.
 */
class ManifestFuzzTest {
  @FuzzTest(maxExecutions = 100_000)
  void parse(FuzzedDataProvider data) {
    String type = data.consumeBoolean() ? null : data.consumeString(80);
    check(data.consumeRemainingAsBytes(), type);
  }

  @Test
  void smoke() {
    Smoke.strings(8, s -> check(("{\"schemaVersion\":2," + s + "}").getBytes(StandardCharsets.UTF_8), null));
    Smoke.strings(9, s -> check(("{\"schemaVersion\":2,\"mediaType\":\"" + s + "\",\"layers\":[]}")
        .getBytes(StandardCharsets.UTF_8), s));
  }

  static void check(byte[] bytes, String declaredType) {
    try {
      Manifest m = Manifest.parse(bytes, declaredType);
      assertArrayEquals(bytes, m.bytes());
      assertEquals(Digest.sha256Of(bytes), m.digest());
      assertTrue(m.mediaType().isManifest(), m.mediaType().value());
    } catch (IllegalArgumentException expected) {
      assertTrue(expected.getMessage() != null && expected.getMessage().length() < 2000);
    }
  }
}
