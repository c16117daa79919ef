package io.jitdi.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jitdi.registry.ApiPath.Kind;
import org.junit.jupiter.api.Test;

class ApiPathTest {
  @Test
  void recognisesTheEndpoints() {
    assertEquals(new ApiPath(Kind.BASE, null, null), ApiPath.parse("/v2/"));
    assertEquals(new ApiPath(Kind.BASE, null, null), ApiPath.parse("/v2"));
    assertEquals(new ApiPath(Kind.MANIFEST, "library/busybox", "latest"),
        ApiPath.parse("/v2/library/busybox/manifests/latest"));
    assertEquals(new ApiPath(Kind.BLOB, "a/b", "sha256:x"), ApiPath.parse("/v2/a/b/blobs/sha256:x"));
    assertEquals(new ApiPath(Kind.TAGS, "a/b", null), ApiPath.parse("/v2/a/b/tags/list"));
    assertEquals(Kind.UPLOAD, ApiPath.parse("/v2/a/blobs/uploads/").kind());
    assertEquals(Kind.UPLOAD, ApiPath.parse("/v2/a/blobs/uploads/uuid-1").kind());
    assertEquals(Kind.HEALTHZ, ApiPath.parse("/healthz").kind());
    assertEquals(Kind.STATUS_PAGE, ApiPath.parse("/").kind(), "the status page for a port-forwarded browser");
    assertEquals(Kind.STATUS_PAGE, ApiPath.parse("/_jitdi/").kind());
    assertEquals(Kind.STATUS, ApiPath.parse("/_jitdi/status").kind());
    assertEquals(Kind.NOT_FOUND, ApiPath.parse("/index.html").kind());
    assertEquals(Kind.NOT_FOUND, ApiPath.parse("/v2/x").kind());
  }

  @Test
  void aNameMayContainEndpointWords() {
    assertEquals(new ApiPath(Kind.MANIFEST, "x/manifests/y", "v1"), ApiPath.parse("/v2/x/manifests/y/manifests/v1"));
    assertEquals(new ApiPath(Kind.BLOB, "blobs", "sha256:x"), ApiPath.parse("/v2/blobs/blobs/sha256:x"));
  }

  @Test
  void leavesEncodedTraversalForNameValidation() {
    assertEquals(new ApiPath(Kind.MANIFEST, "..%2f..", "latest"), ApiPath.parse("/v2/..%2f../manifests/latest"));
    assertEquals(new ApiPath(Kind.MANIFEST, "a/../b", "latest"), ApiPath.parse("/v2/a/../b/manifests/latest"));
  }
}
