package io.jitdi.cache;

import io.jitdi.concurrent.Io;
import io.jitdi.metrics.JitdiMetrics;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Set;

/**
 * A cache directory opened by a command while no server runs on it ({@code jitdi verify}, {@code jitdi cache}); the
 * index allows one process at a time. Close it to flush pending fsyncs and release the index.
 */
public final class CacheDirectory implements AutoCloseable {
  private final CacheLayout layout;
  private final MetadataStore index;
  private final Io io = new Io();

  private CacheDirectory(CacheLayout layout, MetadataStore index) {
    this.layout = layout;
    this.index = index;
  }

  /**
   * Opens (and creates, if missing) the cache at {@code dir}.
   *
   * @throws IllegalStateException when another process holds the index
   */
  public static CacheDirectory open(Path dir) {
    CacheLayout layout = new CacheLayout(dir);
    layout.create();
    return new CacheDirectory(layout, MetadataStore.open(layout.indexDir(), layout.runtimeDir()));
  }

  public Path root() {
    return layout.root();
  }

  /** Re-hashes every blob and manifest and reports what is bad; with {@code fix}, removes it. */
  public Reconciler.Report verify(Clock clock, boolean fix) throws IOException {
    return Reconciler.run(layout, index, clock, Reconciler.Mode.FULL, fix);
  }

  /**
   * Imports into and exports from this cache.
   *
   * @param registries the configured upstream keys: an imported name must belong to one
   * @param maxSize {@code cache.maxSize}
   */
  public OciLayoutTransfer transfer(Set<String> registries, long maxSize, Clock clock) {
    BlobStore store = new BlobStore(layout, index, io, clock, new JitdiMetrics(), maxSize);
    return new OciLayoutTransfer(layout, index, store, registries, maxSize, clock);
  }

  @Override
  public void close() {
    try {
      io.close();
    } finally {
      index.close();
    }
  }
}
