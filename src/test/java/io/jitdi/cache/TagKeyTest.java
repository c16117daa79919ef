package io.jitdi.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.RepositoryName;
import io.jitdi.oci.Tag;
import org.junit.jupiter.api.Test;

class TagKeyTest {
  private static final RepositoryName REPO = RepositoryName.parse("library/alpine");

  @Test
  void encodesTheAcceptSetAfterTheTag() {
    assertEquals("docker.io/library/alpine:3", TagKey.imported("docker.io", REPO, Tag.parse("3")).encoded());
    assertEquals("docker.io/library/alpine:3|a,b", TagKey.cached("docker.io", REPO, Tag.parse("3"), "a,b").encoded());
    assertEquals("docker.io/library/alpine:3|", TagKey.cached("docker.io", REPO, Tag.parse("3"), null).encoded());
  }

  @Test
  void sameTagMatchesEveryAcceptSetOfThatTagAndNothingElse() {
    TagKey key = TagKey.imported("docker.io", REPO, Tag.parse("3"));
    assertTrue(key.sameTag(key.encoded()));
    assertTrue(key.sameTag(TagKey.cached("docker.io", REPO, Tag.parse("3"), "a,b").encoded()));
    assertTrue(key.sameTag(TagKey.cached("docker.io", REPO, Tag.parse("3"), "").encoded()));
    assertFalse(key.sameTag(TagKey.imported("docker.io", REPO, Tag.parse("3.1")).encoded()), "a longer tag");
    assertFalse(key.sameTag(TagKey.cached("docker.io", REPO, Tag.parse("31"), "a").encoded()));
    assertFalse(key.sameTag(TagKey.imported("ghcr.io", REPO, Tag.parse("3")).encoded()), "another registry");
    assertFalse(key.sameTag(TagKey.imported("docker.io", RepositoryName.parse("library/alpine2"), Tag.parse("3"))
        .encoded()), "another repository");
  }
}
