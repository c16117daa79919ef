package io.jitdi.oci;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * A failure that a registry client is told about as OCI error JSON
 * ({@code {"errors":[{"code","message","detail"}]}}) with {@link #status()}.
 *
 * <p>Every request failure in jitdi ends up as one of these; anything else is a bug and is answered as
 * {@link ErrorCode#UNKNOWN}. {@link #retryAfter()} is sent as {@code Retry-After} when present.
 */
public final class RegistryException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;
  private final int status;
  private final transient Map<String, Object> detail;
  private final transient Duration retryAfter;

  public RegistryException(ErrorCode code, int status, String message, Map<String, Object> detail,
      Duration retryAfter, Throwable cause) {
    super(message, cause, false, false);
    this.code = code;
    this.status = status;
    this.detail = detail == null ? Map.of() : Map.copyOf(detail);
    this.retryAfter = retryAfter;
  }

  public RegistryException(ErrorCode code, String message) {
    this(code, code.defaultStatus(), message, null, null, null);
  }

  public RegistryException(ErrorCode code, String message, Map<String, Object> detail) {
    this(code, code.defaultStatus(), message, detail, null, null);
  }

  public static RegistryException withStatus(ErrorCode code, int status, String message) {
    return new RegistryException(code, status, message, null, null, null);
  }

  public ErrorCode code() {
    return code;
  }

  public int status() {
    return status;
  }

  public Map<String, Object> detail() {
    return detail;
  }

  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }

  /** This failure with a Retry-After hint. */
  public RegistryException retryAfter(Duration after) {
    return new RegistryException(code, status, getMessage(), detail, after, getCause());
  }
}
