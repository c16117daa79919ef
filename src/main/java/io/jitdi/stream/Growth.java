package io.jitdi.stream;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.util.Optional;

/**
 * How far a file that is still being written may be read. Implemented by a blob fill; read by
 * {@link GrowingFileSender}.
 */
public interface Growth {
  /** Bytes from the start of the file that may be read now. Never decreases. */
  long readable();

  /**
   * Completes with the new {@link #readable()} once it exceeds {@code position}; completes with {@code -1} when the
   * content is complete and ends at {@code position}; fails when the content failed (a cut or a digest mismatch).
   */
  Future<Long> awaitBeyond(long position);

  /**
   * Up to {@code max} readable bytes at {@code position} if they are still held in memory; empty when they must be
   * read from the file.
   */
  default Optional<Buffer> recent(long position, int max) {
    return Optional.empty();
  }

  /** A file that is already complete at {@code size} bytes. */
  static Growth complete(long size) {
    return new Growth() {
      @Override
      public long readable() {
        return size;
      }

      @Override
      public Future<Long> awaitBeyond(long position) {
        return Future.succeededFuture(position < size ? size : -1L);
      }
    };
  }
}
