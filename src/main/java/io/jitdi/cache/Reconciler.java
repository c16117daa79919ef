package io.jitdi.cache;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the index and the files agree. Runs at start-up (before the server listens) and as {@code jitdi verify}.
 *
 * <ol>
 *   <li>Everything under {@code tmp/} is debris: fills in progress died with the last process.</li>
 *   <li>A record whose file is missing or has the wrong size is bad.</li>
 *   <li>A record not marked synced (the process or machine died before its fsync) is re-hashed; so is every record
 *       in a {@linkplain Mode#FULL full} check.</li>
 *   <li>A file without a record (death between rename and record) is re-hashed: adopted if its content matches its
 *       name, bad otherwise. So is anything under {@code blobs/} not named by a digest.</li>
 *   <li>In a full check, stored manifests are re-hashed too, and tag records pointing at missing manifests are bad.</li>
 * </ol>
 * With {@code fix}, bad entries are removed (record first, then file) and debris deleted; without, they are only
 * reported.
 */
public final class Reconciler {
  private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

  /** How much to re-hash. */
  public enum Mode {
    /** Start-up: re-hash only what is not proven (unsynced records, unindexed files). */
    STARTUP,
    /** {@code jitdi verify}: re-hash every blob and manifest. */
    FULL
  }

  /** One problem found. */
  public record Problem(String what, String why) {
    @Override
    public String toString() {
      return what + ": " + why;
    }
  }

  /** What reconciliation found and did. */
  public record Report(long bytes, long blobs, int tmpRemoved, int recordsDropped, int filesAdopted,
      int filesRemoved, int verified, List<Problem> problems) {}

  private final CacheLayout layout;
  private final MetadataStore index;
  private final Clock clock;
  private final Mode mode;
  private final boolean fix;
  private final List<Problem> problems = new ArrayList<>();
  private int tmpRemoved;
  private int dropped;
  private int removed;
  private int adopted;
  private int verified;
  private long bytes;
  private long count;

  private Reconciler(CacheLayout layout, MetadataStore index, Clock clock, Mode mode, boolean fix) {
    this.layout = layout;
    this.index = index;
    this.clock = clock;
    this.mode = mode;
    this.fix = fix;
  }

  /** Reconciles (blocking). */
  public static Report run(CacheLayout layout, MetadataStore index, Clock clock, Mode mode, boolean fix) throws IOException {
    return new Reconciler(layout, index, clock, mode, fix).run();
  }

  private Report run() throws IOException {
    List<Path> debris = layout.listTmp();
    for (Path p : debris) {
      problems.add(new Problem("tmp/" + p.getFileName(), "left over from an interrupted fill"));
    }
    if (fix) {
      tmpRemoved = layout.clearTmp();
    }
    Map<Digest, BlobRecord> records = new HashMap<>();
    index.forEachBlob(records::put);
    for (Map.Entry<Digest, BlobRecord> e : records.entrySet()) {
      checkRecord(e.getKey(), e.getValue());
    }
    for (Path file : layout.listBlobFiles()) {
      Optional<Digest> digest = layout.digestOf(file);
      if (digest.isPresent() && records.containsKey(digest.get())) {
        continue;
      }
      checkUnindexed(file, digest);
    }
    if (mode == Mode.FULL) {
      checkManifests();
    }
    return new Report(bytes, count, tmpRemoved, dropped, adopted, removed, verified, List.copyOf(problems));
  }

  private void checkRecord(Digest digest, BlobRecord record) throws IOException {
    Path file = layout.blob(digest);
    long size;
    try {
      size = Files.size(file);
    } catch (NoSuchFileException missing) {
      bad(digest, "indexed but its file is missing", false);
      return;
    }
    if (size != record.size()) {
      bad(digest, "file is " + size + " bytes, the index says " + record.size(), true);
      return;
    }
    if (!record.synced() || mode == Mode.FULL) {
      if (!contentMatches(file, digest)) {
        bad(digest, "content does not hash to its digest", true);
        return;
      }
      verified++;
      if (!record.synced() && fix) {
        index.putBlob(digest, record.asSynced());
      }
    }
    bytes += size;
    count++;
  }

  private void bad(Digest digest, String why, boolean deleteFile) throws IOException {
    problems.add(new Problem(digest.toString(), why));
    LOG.warn("blob {}: {}{}", digest, why, fix ? "; removing it" : "");
    if (fix) {
      index.deleteBlob(digest);
      dropped++;
      if (deleteFile) {
        Files.deleteIfExists(layout.blob(digest));
        removed++;
      }
    }
  }

  private void checkUnindexed(Path file, Optional<Digest> digest) throws IOException {
    if (digest.isPresent() && contentMatches(file, digest.get())) {
      long size = Files.size(file);
      if (fix) {
        long now = clock.millis();
        index.putBlob(digest.get(), new BlobRecord(size, now, now, true, false));
        adopted++;
      } else {
        problems.add(new Problem(digest.get().toString(), "verified file without an index record (would be adopted)"));
      }
      bytes += size;
      count++;
      return;
    }
    String name = layout.root().relativize(file).toString();
    problems.add(new Problem(name, digest.isPresent() ? "unindexed and does not hash to its name"
        : "not a blob (its name is not a digest)"));
    LOG.warn("{}: not a verified blob{}", name, fix ? "; removing it" : "");
    if (fix) {
      Files.deleteIfExists(file);
      removed++;
    }
  }

  private void checkManifests() {
    List<Digest> badManifests = new ArrayList<>();
    index.forEachManifest((digest, manifest) -> {
      if (!Digest.sha256Of(manifest.bytesUnsafe()).equals(digest)) {
        badManifests.add(digest);
      } else {
        verified++;
      }
    });
    for (Digest d : badManifests) {
      problems.add(new Problem("manifest " + d, "stored bytes do not hash to their digest"));
      if (fix) {
        index.deleteManifest(d);
      }
    }
    List<String> orphanTags = new ArrayList<>();
    index.forEachTag((key, tag) -> {
      if (index.manifest(tag.digest()).isEmpty()) {
        orphanTags.add(key);
      }
    });
    for (String key : orphanTags) {
      problems.add(new Problem("tag " + key, "points at a manifest that is not stored"));
      if (fix) {
        index.deleteTag(key);
      }
    }
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
