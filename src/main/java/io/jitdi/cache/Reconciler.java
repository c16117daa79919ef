package io.jitdi.cache;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the index and the files agree at start-up (blocking; runs before the server listens).
 *
 * <ol>
 *   <li>Everything under {@code tmp/} is deleted: fills in progress died with the last process.</li>
 *   <li>A record whose file is missing or has the wrong size is dropped.</li>
 *   <li>A record not marked synced (the process or machine died before its fsync) is re-hashed; bad content is
 *       deleted.</li>
 *   <li>A file without a record (death between rename and record) is re-hashed, then adopted if its content matches
 *       its name, and deleted otherwise. So is anything under {@code blobs/} that is not named by a digest.</li>
 * </ol>
 */
final class Reconciler {
  private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

  /** What reconciliation found. */
  record Report(long bytes, long blobs, int tmpRemoved, int recordsDropped, int filesAdopted, int filesRemoved) {}

  private Reconciler() {}

  static Report run(CacheLayout layout, Index index, Clock clock) throws IOException {
    int tmpRemoved = layout.clearTmp();
    Map<Digest, BlobRecord> records = new HashMap<>();
    index.forEachBlob(records::put);
    int dropped = 0;
    int removed = 0;
    int adopted = 0;
    long bytes = 0;
    long count = 0;
    for (Map.Entry<Digest, BlobRecord> e : records.entrySet()) {
      Digest digest = e.getKey();
      BlobRecord record = e.getValue();
      Path file = layout.blob(digest);
      long size;
      try {
        size = Files.size(file);
      } catch (NoSuchFileException missing) {
        index.deleteBlob(digest);
        dropped++;
        continue;
      }
      if (size != record.size() || (!record.synced() && !contentMatches(file, digest))) {
        LOG.warn("blob {} does not verify ({} bytes on disk, {} recorded); removing it", digest, size, record.size());
        index.deleteBlob(digest);
        Files.deleteIfExists(file);
        dropped++;
        removed++;
        continue;
      }
      if (!record.synced()) {
        index.putBlob(digest, record.asSynced());
      }
      bytes += size;
      count++;
    }
    for (Path file : layout.listBlobFiles()) {
      var digest = layout.digestOf(file);
      if (digest.isPresent() && records.containsKey(digest.get()) && index.blob(digest.get()).isPresent()) {
        continue;
      }
      if (digest.isPresent() && contentMatches(file, digest.get())) {
        long size = Files.size(file);
        long now = clock.millis();
        index.putBlob(digest.get(), new BlobRecord(size, now, now, true));
        bytes += size;
        count++;
        adopted++;
      } else {
        LOG.warn("removing {}: not a verified blob", file);
        Files.deleteIfExists(file);
        removed++;
      }
    }
    return new Report(bytes, count, tmpRemoved, dropped, adopted, removed);
  }

  /** Whether the file's sha256 is {@code digest}; fsyncs it when it is, so it is then durable. */
  private static boolean contentMatches(Path file, Digest digest) throws IOException {
    if (!FileDigests.sha256(file).equals(digest)) {
      return false;
    }
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.force(true);
    }
    return true;
  }
}
