package io.jitdi.cache;

/**
 * What the index knows of a committed blob.
 *
 * @param size bytes, verified at commit
 * @param created epoch millis of the commit
 * @param lastAccess epoch millis of the last time it was served (flushed in batches, so it may lag a few seconds)
 * @param synced whether the file was fsynced; an unsynced blob is re-verified at start-up, since a power cut may have
 *     lost its bytes
 * @param jit whether jitdi built it (a JIT layer or config) rather than fetched it
 */
public record BlobRecord(long size, long created, long lastAccess, boolean synced, boolean jit) {
  BlobRecord withLastAccess(long at) {
    return new BlobRecord(size, created, Math.max(lastAccess, at), synced, jit);
  }

  BlobRecord asSynced() {
    return new BlobRecord(size, created, lastAccess, true, jit);
  }
}
