package io.jitdi.bucket;

/** A request to the bucket failed; {@link #reason()} says whether retrying can help. */
public final class BucketException extends RuntimeException {
  /** Why a bucket request failed. */
  public enum Reason {
    /** The store refused the credentials or the request's signature: a configuration error. */
    DENIED,
    /** The bucket does not exist: a configuration error. */
    NO_BUCKET,
    /** The store could not be reached or answered 5xx: retry later. */
    UNAVAILABLE
  }

  private final Reason reason;

  BucketException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
