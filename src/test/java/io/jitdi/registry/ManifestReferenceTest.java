package io.jitdi.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import org.junit.jupiter.api.Test;

/** What a manifest request's reference means; the invalid-tag case is the OCI conformance suite's. */
class ManifestReferenceTest {
  @Test
  void anInvalidTagNamesNoManifestAnd404sLikeDistribution() {
    RegistryException e = assertThrows(RegistryException.class,
        () -> ManifestEndpoint.manifestReference(".INVALID_MANIFEST_NAME"));
    assertEquals(ErrorCode.MANIFEST_UNKNOWN, e.code());
    assertEquals(404, e.status());
  }

  @Test
  void aMalformedDigestStaysA400() {
    RegistryException e = assertThrows(RegistryException.class, () -> ManifestEndpoint.manifestReference("sha256:xyz"));
    assertEquals(ErrorCode.DIGEST_INVALID, e.code());
    assertEquals(400, e.status());
  }

  @Test
  void tagsAndDigestsParse() {
    assertEquals("v1.2", ManifestEndpoint.manifestReference("v1.2").toString());
    String digest = "sha256:" + "a".repeat(64);
    assertEquals(digest, ManifestEndpoint.manifestReference(digest).toString());
  }
}
