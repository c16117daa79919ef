package io.jitdi.stream;

import io.vertx.core.buffer.Buffer;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The most recent bytes of a file being written, kept in memory so that readers close behind the writer are served
 * without reading the file back.
 *
 * <p>Buffers are added in file order and must not be modified afterwards. The oldest are dropped once this window holds
 * more than its own budget, or once all windows sharing a {@link Pool} hold more than the pool's; the newest buffer is
 * always kept. {@link #clear()} gives everything back to the pool. Thread-safe.
 */
public final class RecentBytes {
  /** A byte budget shared by many windows, so that many fills at once cannot hold more heap than this. */
  public static final class Pool {
    private final long cap;
    private final AtomicLong held = new AtomicLong();

    public Pool(long cap) {
      this.cap = cap;
    }

    /** Bytes held by all windows of this pool. */
    public long held() {
      return held.get();
    }
  }

  private record Piece(long offset, Buffer data) {
    long end() {
      return offset + data.length();
    }
  }

  private final long budget;
  private final Pool pool;
  private final ArrayDeque<Piece> pieces = new ArrayDeque<>();
  private long held;

  /**
   * @param budget bytes this window keeps at most (beyond its newest buffer)
   * @param pool the budget shared with other windows
   */
  public RecentBytes(long budget, Pool pool) {
    this.budget = budget;
    this.pool = pool;
  }

  /** Adds the bytes at {@code offset}, which must be where the previous buffer ended (or anywhere after a gap). */
  public synchronized void add(long offset, Buffer data) {
    if (data.length() == 0) {
      return;
    }
    Piece last = pieces.peekLast();
    if (last != null && last.end() != offset) {
      clear();
    }
    pieces.addLast(new Piece(offset, data));
    held += data.length();
    pool.held.addAndGet(data.length());
    while ((held > budget || pool.held.get() > pool.cap) && pieces.size() > 1) {
      int dropped = pieces.removeFirst().data().length();
      held -= dropped;
      pool.held.addAndGet(-dropped);
    }
  }

  /**
   * Up to {@code max} bytes starting at {@code position}, if they are held, never extending past {@code limit}.
   * The result shares memory with what was added.
   */
  public synchronized Optional<Buffer> read(long position, long limit, int max) {
    if (position >= limit || pieces.isEmpty() || position < pieces.peekFirst().offset()
        || position >= pieces.peekLast().end()) {
      return Optional.empty();
    }
    for (Piece p : pieces) {
      if (position < p.end()) {
        int from = (int) (position - p.offset());
        int to = (int) Math.min(p.data().length(), Math.min(limit - p.offset(), (long) from + max));
        return Optional.of(p.data().slice(from, to));
      }
    }
    return Optional.empty();
  }

  /** Drops everything held and gives it back to the pool. */
  public synchronized void clear() {
    pieces.clear();
    pool.held.addAndGet(-held);
    held = 0;
  }
}
