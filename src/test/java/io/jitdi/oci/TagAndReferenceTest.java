package io.jitdi.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TagAndReferenceTest {
  @ParameterizedTest
  @ValueSource(strings = {"latest", "3.12-slim", "_x", "7b-chat-Q4_K_M-gguf", "v1.2.3"})
  void acceptsSpecTags(String text) {
    assertEquals(text, Tag.parse(text).value());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", ".hidden", "-x", "a/b", "a b", "a%2e", "..", "a\\b"})
  void rejectsMalformedTagsWithTagInvalid(String text) {
    assertEquals(ErrorCode.TAG_INVALID, assertThrows(RegistryException.class, () -> Tag.parse(text)).code());
  }

  @Test
  void acceptsTagsOfExactly128AndRejects129() {
    assertEquals(128, Tag.parse("a".repeat(128)).value().length());
    RegistryException e = assertThrows(RegistryException.class, () -> Tag.parse("a".repeat(129)));
    assertEquals(ErrorCode.TAG_INVALID, e.code());
  }

  @Test
  void readsAnythingWithAColonAsADigest() {
    Reference digest = Reference.parse("sha256:" + "a".repeat(64));
    assertTrue(digest.isDigest());
    Reference tag = Reference.parse("latest");
    assertFalse(tag.isDigest());
    assertEquals("latest", tag.tag().orElseThrow().value());
    assertEquals(ErrorCode.DIGEST_INVALID,
        assertThrows(RegistryException.class, () -> Reference.parse("sha256:ABC")).code());
    assertEquals(ErrorCode.TAG_INVALID, assertThrows(RegistryException.class, () -> Reference.parse("")).code());
  }
}
