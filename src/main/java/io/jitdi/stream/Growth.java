package io.jitdi.stream;

import io.vertx.core.Future;

/**
 * How far the content of a file that may still be being written can be read, and whether it is verified yet.
 * Implemented by a blob fill; a committed blob is {@link #complete(long) complete}.
 *
 * <p>Readers must not let a client take unverified bytes for a complete answer: whatever they send from this file, they
 * hold back the last byte of their response until {@link #verified()} has succeeded, and reset the response if it
 * fails.
 */
public interface Growth {
  /** Bytes from the start of the file that are written and may be read now (not necessarily verified). */
  long readable();

  /**
   * Completes once the whole content was verified against its digest and size (then {@link #readable()} is the
   * content's size); fails when the content failed (a cut it could not recover from, or a mismatch).
   */
  Future<Void> verified();

  /**
   * Completes once {@link #readable()} exceeds {@code position} or the content is verified (nothing more will come);
   * fails when the content failed.
   */
  Future<Void> awaitBeyond(long position);

  /** A file that is already complete and verified at {@code size} bytes. */
  static Growth complete(long size) {
    return complete(size, Future.succeededFuture());
  }

  /** A file that is already complete at {@code size} bytes, verified once {@code verification} succeeds. */
  static Growth complete(long size, Future<Void> verification) {
    return new Growth() {
      @Override
      public long readable() {
        return size;
      }

      @Override
      public Future<Void> verified() {
        return verification;
      }

      @Override
      public Future<Void> awaitBeyond(long position) {
        return Future.succeededFuture();
      }
    };
  }
}
