package io.jitdi.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class DigestTest {
  private static final String HEX = "6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

  @Test
  void parsesCanonicalSha256() {
    Digest d = Digest.parse("sha256:" + HEX);
    assertEquals(HEX, d.hex());
    assertEquals("sha256:" + HEX, d.toString());
    assertEquals(d, Digest.parse(d.toString()));
  }

  @Test
  void computesSha256OfContent() {
    assertEquals("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        Digest.sha256Of("hello".getBytes(StandardCharsets.UTF_8)).toString());
  }

  @Test
  void knowsTheDigestOfNoBytes() {
    String ofNothing = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assertTrue(Digest.parse(ofNothing).isOfNothing());
    assertFalse(Digest.parse("sha256:" + HEX).isOfNothing());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "", "sha256", "sha256:", ":" + HEX, "sha256:" + "6C3C624B58DBBCD3C0DD82B4C53F04194D1247C6EEBDAAB7C610CF7D66709B3B",
      "sha256:abc", "sha256:" + HEX + "0", "sha512:" + HEX + HEX, "md5:d41d8cd98f00b204e9800998ecf8427e",
      "sha256:" + HEX + "/../x", "sha256:..%2f", "SHA256:" + HEX, "sha256:" + HEX + "\n"})
  void rejectsAnythingButLowercaseSha256WithDigestInvalid(String text) {
    RegistryException e = assertThrows(RegistryException.class, () -> Digest.parse(text));
    assertEquals(ErrorCode.DIGEST_INVALID, e.code());
    assertEquals(400, e.status());
  }

  @Test
  void namesTheUnsupportedAlgorithm() {
    RegistryException e = assertThrows(RegistryException.class, () -> Digest.parse("sha512:" + HEX + HEX));
    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("sha512"), e.getMessage());
  }
}
