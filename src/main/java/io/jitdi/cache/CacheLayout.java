package io.jitdi.cache;

import io.jitdi.oci.Digest;
import io.jitdi.oci.RegistryException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The on-disk layout of the cache: the only class that builds paths under the cache directory.
 *
 * <pre>
 * &lt;dir&gt;/blobs/sha256/&lt;first 2 hex&gt;/&lt;hex&gt;   committed, verified content; the name is the truth
 * &lt;dir&gt;/tmp/&lt;random&gt;                        fills in progress; deleted at start-up
 * &lt;dir&gt;/index/                              RocksDB: blob, tag and manifest records
 * &lt;dir&gt;/runtime/                            what the process unpacks for itself: RocksDB's JNI library (one
 *                                                fixed name, replaced at each start) and Vert.x's file cache
 * </pre>
 *
 * <p>State machine of a blob: it is written under {@code tmp/} while its sha256 and size are computed; only when both
 * match the digest is it renamed into {@code blobs/} (an atomic rename within one filesystem), and only then is its
 * index record written. Eviction deletes the record first and the file second. So the index may lag the files (a
 * crash between rename and record leaves an unindexed file, re-verified at start-up) but never leads them. A reader
 * holds an open file descriptor, so a blob deleted under it still reads to the end.
 *
 * <p>Every path this class returns is checked to be under the cache directory; digests are validated values, so no
 * request can name a path outside it.
 */
final class CacheLayout {
  private final Path root;
  private final Path blobs;
  private final Path tmp;
  private final Path index;
  private final Path runtime;

  public CacheLayout(Path root) {
    this.root = root.toAbsolutePath().normalize();
    this.blobs = this.root.resolve("blobs").resolve(Digest.SHA256);
    this.tmp = this.root.resolve("tmp");
    this.index = this.root.resolve("index");
    this.runtime = this.root.resolve("runtime");
  }

  /** Creates the directories if missing (blocking). */
  public void create() {
    try {
      Files.createDirectories(blobs);
      Files.createDirectories(tmp);
      Files.createDirectories(index);
      Files.createDirectories(runtime);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the cache directories under " + root, e);
    }
  }

  public Path root() {
    return root;
  }

  public Path indexDir() {
    return index;
  }

  public Path tmpDir() {
    return tmp;
  }

  /** Where the process unpacks native libraries and Vert.x caches its files: never {@code /tmp}. */
  public Path runtimeDir() {
    return runtime;
  }

  /** Where the committed blob {@code digest} lives. */
  public Path blob(Digest digest) {
    return inside(blobs.resolve(digest.hex().substring(0, 2)).resolve(digest.hex()));
  }

  /** A fresh, not yet existing path under {@code tmp/}. */
  public Path newTempFile() {
    return inside(tmp.resolve(UUID.randomUUID().toString()));
  }

  /** Creates the parent directory of {@link #blob(Digest)} if missing (blocking). */
  void createBlobParent(Digest digest) throws IOException {
    Files.createDirectories(blob(digest).getParent());
  }

  /** The digest a path under {@code blobs/} stands for, if it is well-formed. */
  public Optional<Digest> digestOf(Path file) {
    Path relative = blobs.relativize(file.toAbsolutePath().normalize());
    if (relative.getNameCount() != 2) {
      return Optional.empty();
    }
    String dir = relative.getName(0).toString();
    String name = relative.getName(1).toString();
    if (!name.startsWith(dir)) {
      return Optional.empty();
    }
    try {
      return Optional.of(Digest.parse(Digest.SHA256 + ":" + name));
    } catch (RegistryException e) {
      return Optional.empty();
    }
  }

  /** Every regular file under {@code blobs/} (blocking). */
  public List<Path> listBlobFiles() throws IOException {
    List<Path> files = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(blobs)) {
      walk.filter(Files::isRegularFile).forEach(files::add);
    }
    return files;
  }

  /** Every entry directly under {@code tmp/} (blocking). */
  public List<Path> listTmp() throws IOException {
    try (Stream<Path> list = Files.list(tmp)) {
      return list.toList();
    }
  }

  /** Deletes everything under {@code tmp/} (blocking); returns how many entries were removed. */
  public int clearTmp() throws IOException {
    int removed = 0;
    try (Stream<Path> walk = Files.walk(tmp)) {
      List<Path> all = walk.filter(p -> !p.equals(tmp)).sorted((a, b) -> b.getNameCount() - a.getNameCount())
          .toList();
      for (Path p : all) {
        Files.deleteIfExists(p);
        removed++;
      }
    }
    return removed;
  }

  /** {@code p}, normalized, if it lies under the cache root; every path this class builds goes through here. */
  Path inside(Path p) {
    Path normalized = p.toAbsolutePath().normalize();
    if (!normalized.startsWith(root)) {
      throw new IllegalStateException("path " + normalized + " is outside the cache directory " + root);
    }
    return normalized;
  }

  /** Deletes {@code dir} and everything under it, if it is there (blocking). */
  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
