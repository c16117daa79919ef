package io.jitdi.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RepositoryNameTest {
  @ParameterizedTest
  @ValueSource(strings = {"busybox", "library/busybox", "a/b/c/d", "my-org/my__img", "a.b_c--d/e", "ggerganov/llama.cpp",
      "ghcr.io/org/img", "0/1"})
  void acceptsSpecNames(String text) {
    assertEquals(text, RepositoryName.parse(text).value());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "../etc", "a/../b", "a/./b", "..", ".", "%2e%2e", "a%2fb", "a\\b", "a//b", "/a", "a/",
      "Upper", "a b", "a:b", "a@b", "-a", "a-", "a___b", "a..b", "a/.b", "a\u0000b", "a\nb"})
  void rejectsTraversalAndMalformedNamesWithNameInvalid(String text) {
    RegistryException e = assertThrows(RegistryException.class, () -> RepositoryName.parse(text));
    assertEquals(ErrorCode.NAME_INVALID, e.code());
  }

  @Test
  void rejectsNamesOver255Characters() {
    String name = "a".repeat(256);
    RegistryException e = assertThrows(RegistryException.class, () -> RepositoryName.parse(name));
    assertTrue(e.getMessage().contains("255"));
    assertEquals(255, RepositoryName.parse("a".repeat(255)).value().length());
  }

  @Test
  void clipsHugeInputInTheMessage() {
    RegistryException e = assertThrows(RegistryException.class, () -> RepositoryName.parse("A".repeat(100_000)));
    assertTrue(e.getMessage().length() < 600, "message length " + e.getMessage().length());
  }

  @Test
  void prefixesForDockerHubOfficialImages() {
    assertEquals("library/busybox", RepositoryName.parse("busybox").prefixed("library").value());
    assertEquals(List.of("library", "busybox"), RepositoryName.parse("library/busybox").components());
  }
}
