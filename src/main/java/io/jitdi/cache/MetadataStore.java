package io.jitdi.cache;

import io.jitdi.oci.Digest;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.MediaType;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.Env;
import org.rocksdb.LRUCache;
import org.rocksdb.NativeLibraryLoader;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.SstFileManager;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The RocksDB index under {@code <dir>/index}: blob records (digest → size, times, synced), tag records
 * (upstream/repository/tag/Accept → digest), manifests (digest → media type and exact bytes) and JIT records (tag
 * answers, builds, and the recipe or origin of every blob a JIT image refers to), and the multipart uploads to the
 * shared bucket that are under way (upload id → key), so a restart can abort what a crash left.
 *
 * <p>Every method blocks and must run on a worker thread, never on an event loop. Values carry a version byte so the
 * format can change without misreading old records; a record that cannot be read is treated as absent. After
 * {@link #close()} every method throws {@link IllegalStateException}: native handles are never used once freed.
 */
public final class MetadataStore implements AutoCloseable {
  private static final byte VERSION = 1;
  /** Blob records carry a flags byte from version 2 on. */
  private static final byte BLOB_VERSION = 2;

  /** The block cache all stores of the process share; set once RocksDB's library is loaded. */
  private static LRUCache blockCache;

  private final RocksDB db;
  private final DBOptions options;
  private final ColumnFamilyOptions family;
  private final SstFileManager files;
  private final List<ColumnFamilyHandle> handles;
  private final ColumnFamilyHandle blobs;
  private final ColumnFamilyHandle tags;
  private final ColumnFamilyHandle manifests;
  private final ColumnFamilyHandle jit;
  private final ColumnFamilyHandle uploads;
  private final WriteOptions writeOptions = new WriteOptions();
  private final ReadWriteLock lifecycle = new ReentrantReadWriteLock();
  private volatile boolean open = true;
  private volatile SharedRecords shared;

  private MetadataStore(RocksDB db, DBOptions options, ColumnFamilyOptions family, SstFileManager files,
      List<ColumnFamilyHandle> handles) {
    this.db = db;
    this.options = options;
    this.family = family;
    this.files = files;
    this.handles = handles;
    this.blobs = handles.get(1);
    this.tags = handles.get(2);
    this.manifests = handles.get(3);
    this.jit = handles.get(4);
    this.uploads = handles.get(5);
  }

  /**
   * Opens (creating if needed) the index in {@code dir}. The first call of the process loads RocksDB's JNI library,
   * unpacked into {@code runtimeDir} under its fixed name: left to itself, RocksDB unpacks it into a new temp file in
   * {@code /tmp} at every start and leaves it there (15 MB per start).
   */
  public static MetadataStore open(Path dir, Path runtimeDir) {
    LRUCache shared = blockCache(runtimeDir);
    // the SstFileManager makes RocksDB recover by itself from a full disk once space is freed
    SstFileManager files;
    try {
      files = new SstFileManager(Env.getDefault());
    } catch (RocksDBException e) {
      throw new IllegalStateException("cannot set up the index: " + e.getMessage(), e);
    }
    // Records are small: 4 MiB memtables (RocksDB's 64 MiB default would also preallocate a ~70 MiB WAL) and
    // a small shared block cache keep the index's memory and disk footprint in the low tens of MiB.
    DBOptions options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
        .setMaxOpenFiles(256).setKeepLogFileNum(3).setSstFileManager(files).setMaxTotalWalSize(32L << 20);
    ColumnFamilyOptions family = new ColumnFamilyOptions().setWriteBufferSize(4L << 20).setMaxWriteBufferNumber(2)
        .setTableFormatConfig(new BlockBasedTableConfig().setBlockCache(shared));
    List<ColumnFamilyDescriptor> families = List.of(
        new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, family),
        new ColumnFamilyDescriptor(bytes("blobs"), family),
        new ColumnFamilyDescriptor(bytes("tags"), family),
        new ColumnFamilyDescriptor(bytes("manifests"), family),
        new ColumnFamilyDescriptor(bytes("jit"), family),
        new ColumnFamilyDescriptor(bytes("uploads"), family));
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try {
      RocksDB db = RocksDB.open(options, dir.toString(), families, handles);
      return new MetadataStore(db, options, family, files, handles);
    } catch (RocksDBException e) {
      options.close();
      family.close();
      files.close();
      throw new IllegalStateException("cannot open the index at " + dir + ": " + e.getMessage()
          + (String.valueOf(e.getMessage()).contains("lock") ? " (is another jitdi using this cache dir?)" : ""), e);
    }
  }

  private static synchronized LRUCache blockCache(Path runtimeDir) {
    if (blockCache == null) {
      try {
        Files.createDirectories(runtimeDir);
        NativeLibraryLoader.getInstance().loadLibrary(runtimeDir.toString());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot unpack RocksDB's library into " + runtimeDir, e);
      }
      RocksDB.loadLibrary(); // finds it loaded
      blockCache = new LRUCache(8L << 20);
    }
    return blockCache;
  }

  public boolean isOpen() {
    return open;
  }

  public Optional<BlobRecord> blob(Digest digest) {
    return get(blobs, key(digest)).flatMap(MetadataStore::decodeBlob);
  }

  public void putBlob(Digest digest, BlobRecord record) {
    put(blobs, key(digest), encode(record));
  }

  public void deleteBlob(Digest digest) {
    delete(blobs, key(digest));
  }

  /** Visits every blob record, in digest order. */
  public void forEachBlob(BiConsumer<Digest, BlobRecord> visitor) {
    whileOpen(() -> {
      try (RocksIterator it = db.newIterator(blobs)) {
        for (it.seekToFirst(); it.isValid(); it.next()) {
          Optional<BlobRecord> record = decodeBlob(it.value());
          Optional<Digest> digest = parseKey(it.key());
          if (record.isPresent() && digest.isPresent()) {
            visitor.accept(digest.get(), record.get());
          }
        }
      }
      return null;
    });
  }

  /** Raises the last-access time of each blob that still has a record. */
  public void touch(Map<Digest, Long> accessTimes) {
    whileOpen(() -> {
      try (WriteBatch batch = new WriteBatch()) {
        for (Map.Entry<Digest, Long> e : accessTimes.entrySet()) {
          Optional<BlobRecord> record = blob(e.getKey());
          if (record.isPresent()) {
            batch.put(blobs, key(e.getKey()), encode(record.get().withLastAccess(e.getValue())));
          }
        }
        db.write(writeOptions, batch);
      } catch (RocksDBException e) {
        throw failure(e);
      }
      return null;
    });
  }

  public Optional<TagRecord> tag(String key) {
    return shared(tags, bytes(key), "tags/" + encodeName(key), value -> decodeTag(value).isPresent())
        .flatMap(MetadataStore::decodeTag);
  }

  public void putTag(String key, TagRecord record) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      out.writeUTF(record.digest().toString());
      out.writeUTF(record.mediaType().value());
      out.writeLong(record.size());
      out.writeLong(record.fetchedAt());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    put(tags, bytes(key), bytes.toByteArray());
    share("tags/" + encodeName(key), bytes.toByteArray());
  }

  public void deleteTag(String key) {
    delete(tags, bytes(key));
    unshare("tags/" + encodeName(key));
  }

  public Optional<Manifest> manifest(Digest digest) {
    return shared(manifests, key(digest), "manifests/" + digest.algorithm() + "/" + digest.hex(),
        value -> verifiedManifest(digest, value)).flatMap(value -> decodeManifest(digest, value));
  }

  public void putManifest(Manifest manifest) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(manifest.size() + 64);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      out.writeUTF(manifest.mediaType().value());
      out.write(manifest.bytesUnsafe());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    put(manifests, key(manifest.digest()), bytes.toByteArray());
    share("manifests/" + manifest.digest().algorithm() + "/" + manifest.digest().hex(), bytes.toByteArray());
  }

  /** Visits every stored manifest (its key digest and the stored bytes, not re-verified). */
  public void forEachManifest(BiConsumer<Digest, Manifest> visitor) {
    whileOpen(() -> {
      try (RocksIterator it = db.newIterator(manifests)) {
        for (it.seekToFirst(); it.isValid(); it.next()) {
          Optional<Digest> digest = parseKey(it.key());
          if (digest.isPresent()) {
            decodeManifest(digest.get(), it.value()).ifPresent(m -> visitor.accept(digest.get(), m));
          }
        }
      }
      return null;
    });
  }

  public void deleteManifest(Digest digest) {
    delete(manifests, key(digest));
  }

  /** A JIT record (tag answers, builds, blob recipes), by key. */
  public Optional<byte[]> jit(String key) {
    return shared(jit, bytes(key), "jit/" + encodeName(key), value -> true);
  }

  public void putJit(String key, byte[] value) {
    put(jit, bytes(key), value);
    share("jit/" + encodeName(key), value);
  }

  public void deleteJit(String key) {
    delete(jit, bytes(key));
    unshare("jit/" + encodeName(key));
  }

  /**
   * Records shared with other replicas through a bucket: tag answers, manifests and JIT records are written there
   * too, and a local miss is looked up there (and kept locally when found). Blocking, like the index.
   */
  public interface SharedRecords {
    /** The record {@code name}; empty when absent or when the bucket cannot be read. */
    Optional<byte[]> read(String name);

    /** Writes {@code name}; a failure is logged, not thrown: the local record stands. */
    void write(String name, byte[] value);

    /** Deletes {@code name}, so it does not come back into a local miss; a failure is logged, not thrown. */
    void delete(String name);
  }

  /** Shares tag answers, manifests and JIT records through {@code shared} from now on. */
  public void share(SharedRecords shared) {
    this.shared = shared;
  }

  private Optional<byte[]> shared(ColumnFamilyHandle family, byte[] key, String name,
      java.util.function.Predicate<byte[]> valid) {
    Optional<byte[]> local = get(family, key);
    SharedRecords records = shared;
    if (local.isPresent() || records == null) {
      return local;
    }
    Optional<byte[]> remote = records.read(name).filter(valid);
    remote.ifPresent(value -> put(family, key, value));
    return remote;
  }

  private void unshare(String name) {
    SharedRecords records = shared;
    if (records != null) {
      records.delete(name);
    }
  }

  private void share(String name, byte[] value) {
    SharedRecords records = shared;
    if (records != null) {
      records.write(name, value);
    }
  }

  /**
   * A record key as an object name: its sha256, so a key of any length and characters (Accept sets, separators)
   * is one short segment that any store and its backing file system take.
   */
  private static String encodeName(String key) {
    return Digest.sha256Of(key.getBytes(StandardCharsets.UTF_8)).hex();
  }

  /** Whether a manifest value read from elsewhere holds bytes whose sha256 is {@code digest}. */
  private static boolean verifiedManifest(Digest digest, byte[] value) {
    return decodeManifest(digest, value).map(m -> Digest.sha256Of(m.bytesUnsafe()).equals(digest)).orElse(false);
  }

  /** Records a multipart upload to the shared bucket that this cache started and has not finished. */
  public void putUpload(String uploadId, String key) {
    put(uploads, bytes(uploadId), bytes(key));
  }

  public void deleteUpload(String uploadId) {
    delete(uploads, bytes(uploadId));
  }

  /** The ids of the uploads recorded by {@link #putUpload} and not deleted. */
  public List<String> uploads() {
    return whileOpen(() -> {
      List<String> ids = new ArrayList<>();
      try (RocksIterator it = db.newIterator(uploads)) {
        for (it.seekToFirst(); it.isValid(); it.next()) {
          ids.add(new String(it.key(), StandardCharsets.UTF_8));
        }
      }
      return ids;
    });
  }

  /** Visits every tag record. */
  public void forEachTag(BiConsumer<String, TagRecord> visitor) {
    whileOpen(() -> {
      try (RocksIterator it = db.newIterator(tags)) {
        for (it.seekToFirst(); it.isValid(); it.next()) {
          String key = new String(it.key(), StandardCharsets.UTF_8);
          decodeTag(it.value()).ifPresent(r -> visitor.accept(key, r));
        }
      }
      return null;
    });
  }

  /** Closes the index once every call under way has returned; later calls throw. */
  @Override
  public void close() {
    lifecycle.writeLock().lock();
    try {
      if (!open) {
        return;
      }
      open = false;
      try {
        db.syncWal();
      } catch (RocksDBException ignored) {
        // closing anyway
      }
      handles.forEach(ColumnFamilyHandle::close);
      db.close();
      options.close();
      family.close();
      files.close();
      writeOptions.close();
    } finally {
      lifecycle.writeLock().unlock();
    }
  }

  private <T> T whileOpen(Supplier<T> operation) {
    lifecycle.readLock().lock();
    try {
      if (!open) {
        throw new IllegalStateException("the index is closed");
      }
      return operation.get();
    } finally {
      lifecycle.readLock().unlock();
    }
  }

  private Optional<byte[]> get(ColumnFamilyHandle family, byte[] key) {
    return whileOpen(() -> {
      try {
        return Optional.ofNullable(db.get(family, key));
      } catch (RocksDBException e) {
        throw failure(e);
      }
    });
  }

  private void put(ColumnFamilyHandle family, byte[] key, byte[] value) {
    whileOpen(() -> {
      try {
        db.put(family, writeOptions, key, value);
        return null;
      } catch (RocksDBException e) {
        throw failure(e);
      }
    });
  }

  private void delete(ColumnFamilyHandle family, byte[] key) {
    whileOpen(() -> {
      try {
        db.delete(family, writeOptions, key);
        return null;
      } catch (RocksDBException e) {
        throw failure(e);
      }
    });
  }

  private static IllegalStateException failure(RocksDBException e) {
    return new IllegalStateException("index failure: " + e.getMessage(), e);
  }

  private static byte[] key(Digest digest) {
    return bytes(digest.toString());
  }

  private static Optional<Digest> parseKey(byte[] key) {
    try {
      return Optional.of(Digest.parse(new String(key, StandardCharsets.UTF_8)));
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] encode(BlobRecord record) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(32);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(BLOB_VERSION);
      out.writeLong(record.size());
      out.writeLong(record.created());
      out.writeLong(record.lastAccess());
      out.writeByte((record.synced() ? 1 : 0) | (record.jit() ? 2 : 0));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  static Optional<BlobRecord> decodeBlob(byte[] value) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
      byte version = in.readByte();
      if (version != VERSION && version != BLOB_VERSION) {
        return Optional.empty();
      }
      long size = in.readLong();
      long created = in.readLong();
      long lastAccess = in.readLong();
      int flags = in.readByte();
      return Optional.of(new BlobRecord(size, created, lastAccess, (flags & 1) != 0, version == BLOB_VERSION
          && (flags & 2) != 0));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static Optional<TagRecord> decodeTag(byte[] value) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
      if (in.readByte() != VERSION) {
        return Optional.empty();
      }
      Digest digest = Digest.parse(in.readUTF());
      MediaType type = MediaType.of(in.readUTF());
      return Optional.of(new TagRecord(digest, type, in.readLong(), in.readLong()));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  private static Optional<Manifest> decodeManifest(Digest digest, byte[] value) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
      if (in.readByte() != VERSION) {
        return Optional.empty();
      }
      MediaType type = MediaType.of(in.readUTF());
      byte[] body = in.readAllBytes();
      return Optional.of(Manifest.trusted(body, type, digest));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
