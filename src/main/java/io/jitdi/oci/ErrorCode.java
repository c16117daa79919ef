package io.jitdi.oci;

/**
 * Error codes of the OCI distribution spec (plus distribution's {@code UNAVAILABLE}), each with the HTTP status
 * jitdi answers it with unless a caller picks another.
 *
 * @see <a href="https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes">error codes</a>
 */
public enum ErrorCode {
  BLOB_UNKNOWN(404),
  DIGEST_INVALID(400),
  MANIFEST_UNKNOWN(404),
  MANIFEST_INVALID(400),
  NAME_INVALID(400),
  NAME_UNKNOWN(404),
  TAG_INVALID(400),
  SIZE_INVALID(400),
  RANGE_INVALID(416),
  UNAUTHORIZED(401),
  DENIED(403),
  UNSUPPORTED(405),
  TOOMANYREQUESTS(429),
  /** The upstream failed or could not be reached. */
  UNAVAILABLE(503),
  UNKNOWN(500);

  private final int defaultStatus;

  ErrorCode(int defaultStatus) {
    this.defaultStatus = defaultStatus;
  }

  public int defaultStatus() {
    return defaultStatus;
  }
}
