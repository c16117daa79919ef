package io.jitdi.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class UpstreamErrorsTest {
  @Test
  void mapsUpstreamStatusesToOciCodes() {
    assertEquals(ErrorCode.MANIFEST_UNKNOWN, build(UpstreamErrors.Subject.manifest, 404).code());
    assertEquals(ErrorCode.BLOB_UNKNOWN, build(UpstreamErrors.Subject.blob, 404).code());
    assertEquals(ErrorCode.NAME_UNKNOWN, build(UpstreamErrors.Subject.tags, 404).code());
    assertEquals(ErrorCode.UNAUTHORIZED, build(UpstreamErrors.Subject.blob, 401).code());
    assertEquals(ErrorCode.DENIED, build(UpstreamErrors.Subject.blob, 403).code());
    RegistryException limited = build(UpstreamErrors.Subject.manifest, 429);
    assertEquals(ErrorCode.TOOMANYREQUESTS, limited.code());
    assertEquals(429, limited.status());
    assertEquals(503, build(UpstreamErrors.Subject.blob, 503).status());
    assertEquals(502, build(UpstreamErrors.Subject.blob, 500).status());
    assertEquals(ErrorCode.UNAVAILABLE, build(UpstreamErrors.Subject.blob, 504).code());
  }

  @Test
  void keepsRetryAfterInSecondsOrAsADate() {
    RegistryException e = UpstreamErrors.build("docker.io", UpstreamErrors.Subject.manifest, 429, null,
        UpstreamErrors.retryAfter("30"));
    assertEquals(Optional.of(Duration.ofSeconds(30)), e.retryAfter());
    assertTrue(UpstreamErrors.retryAfter("Wed, 21 Oct 2099 07:28:00 GMT").orElseThrow().toDays() > 1000);
    assertTrue(UpstreamErrors.retryAfter("soon").isEmpty());
  }

  private static RegistryException build(UpstreamErrors.Subject subject, int status) {
    return UpstreamErrors.build("docker.io", subject, status, "said so", Optional.empty());
  }
}
