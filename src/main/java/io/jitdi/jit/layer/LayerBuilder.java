package io.jitdi.jit.layer;

import com.github.luben.zstd.ZstdOutputStream;
import io.jitdi.config.ImageRuleConfig.Compression;
import io.jitdi.jit.sources.SourceFile;
import io.jitdi.jit.sources.SourcePaths;
import io.jitdi.oci.Digest;
import io.jitdi.oci.MediaType;
import io.jitdi.stream.Envelope;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.Executor;
import java.util.function.LongConsumer;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Builds one image layer from files, deterministically: the same files (by path, content and mode) give the same
 * bytes, whatever order they come in, whatever their mtimes and owners on disk, on every node.
 *
 * <ul>
 *   <li>Entries are sorted by path; every parent directory is an explicit entry (mode 0755).</li>
 *   <li>mtime is 1 second past the epoch for every entry (0 reads as "unset" to some tools); no atime or ctime is
 *       written.</li>
 *   <li>uid and gid are 0, user and group names empty; file modes come from the rule (default 0644).</li>
 *   <li>Names of 100+ characters and files of 8 GiB and more use PAX records, whose header names are fixed
 *       ({@code ./PaxHeaders.X/...}), never per-process.</li>
 *   <li>gzip: level 6, header mtime 0, no file name. zstd: level 3, no checksum, one frame. none: the tar itself
 *       (the default; model weights do not compress).</li>
 * </ul>
 * The content is streamed once from each source: read, tarred, compressed, hashed and written, never held in memory.
 */
public final class LayerBuilder {
  /** The fixed modification time of every entry, in milliseconds. */
  static final long MTIME_MILLIS = 1000;
  static final int DEFAULT_FILE_MODE = 0644;
  static final int DIRECTORY_MODE = 0755;
  /** The tar record size; headers and padded content are whole records. */
  private static final int RECORD = 512;

  /** A file in the layer: its absolute path in the image, and its content. */
  public record Entry(String path, SourceFile file, int mode) {}

  /**
   * The built layer.
   *
   * @param placed where each file's content starts in the layer blob, for an uncompressed layer (empty otherwise):
   *     the bytes of a file are then bytes {@code [offset, offset + size)} of the layer
   */
  public record Built(Digest digest, Digest diffId, long size, MediaType mediaType, List<Placed> placed) {}

  /**
   * A file's content at {@code offset} of an uncompressed layer.
   *
   * @param path its path in the layer, without the leading {@code /}
   * @param blob the artifact blob that is exactly this content, if its source says so
   */
  public record Placed(String path, long offset, long size, java.util.Optional<Digest> blob) {}

  private LayerBuilder() {}

  /** Where {@code entry} is in the layer: its path without the leading {@code /}, as {@link Placed#path()} says. */
  public static String pathInLayer(Entry entry) {
    return entry.path().startsWith("/") ? entry.path().substring(1) : entry.path();
  }

  public static MediaType mediaType(Compression compression) {
    return switch (compression) {
      case none -> MediaType.OCI_LAYER;
      case gzip -> MediaType.OCI_LAYER_GZIP;
      case zstd -> MediaType.OCI_LAYER_ZSTD;
    };
  }

  /** As {@link #build(List, Compression, FileChannel, Executor, LongConsumer)}, into a new file {@code out}. */
  public static Built build(List<Entry> entries, Compression compression, Path out, Executor pool,
      LongConsumer progress) throws IOException {
    try (FileChannel channel = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      return build(entries, compression, channel, pool, progress);
    }
  }

  /**
   * Writes the layer into {@code channel} from its position on; the channel stays open.
   *
   * @param progress told the bytes of file content written so far
   * @throws IOException when a source fails or gives other than its declared size, or on a path conflict
   */
  public static Built build(List<Entry> entries, Compression compression, FileChannel channel, Executor pool,
      LongConsumer progress) throws IOException {
    TreeMap<String, Object> sorted = sorted(entries);
    HashingFileWriter file = new HashingFileWriter(channel, pool);
    MessageDigest tarDigest = compression == Compression.none ? null : Digest.newSha256();
    CountingStream counted = new CountingStream(file);
    List<Placed> placed = new java.util.ArrayList<>();
    OutputStream compressed = switch (compression) {
      case none -> counted;
      case gzip -> new DeterministicGzip(file);
      case zstd -> new ZstdOutputStream(file, 3).setChecksum(false).setCloseFrameOnFlush(false);
    };
    OutputStream tarBytes = tarDigest == null ? compressed : new DigestOutputStream(compressed, tarDigest);
    try (TarArchiveOutputStream tar = tarStream(tarBytes)) {
      byte[] buffer = new byte[HashingFileWriter.CHUNK];
      long done = 0;
      for (var item : sorted.entrySet()) {
        TarArchiveEntry entry = header(item.getKey(), item.getValue());
        tar.putArchiveEntry(entry);
        if (item.getValue() instanceof Entry e) {
          if (compression == Compression.none) {
            // headers are whole 512-byte records, so everything before this file's content has reached the file
            placed.add(new Placed(item.getKey(), counted.count, e.file().size(), e.file().blob()));
          }
          long before = done;
          done += copy(item.getKey(), e.file(), tar, buffer, n -> progress.accept(before + n));
        }
        tar.closeArchiveEntry();
      }
      tar.finish();
    }
    Digest digest = file.finish();
    Digest diffId = tarDigest == null ? digest : Digest.ofSha256Bytes(tarDigest.digest());
    return new Built(digest, diffId, file.size(), mediaType(compression), List.copyOf(placed));
  }

  /**
   * An uncompressed layer made around one of its files: the envelope, and where each file's content is in the layer.
   */
  public record Enveloped(Envelope envelope, List<Placed> placed) {}

  /**
   * The uncompressed layer of {@code entries} as an envelope around the content of {@code inside}, one of them:
   * {@link #build} of the same entries with compression none writes exactly the head, that content and the tail. So
   * a model blob fetched into this envelope is that layer. The other files are read here, into the head and tail:
   * keep them small.
   *
   * @throws IOException when a file cannot be read or gives other than its declared size, or on a path conflict
   */
  public static Enveloped envelope(List<Entry> entries, Entry inside) throws IOException {
    String insideName = pathInLayer(inside);
    java.io.ByteArrayOutputStream head = new java.io.ByteArrayOutputStream();
    CountingStream out = new CountingStream(head);
    // the tar before the file's content; abandoned at its header (closing would finish the archive there)
    TarArchiveOutputStream tar = tarStream(out);
    java.io.ByteArrayOutputStream tail = null;
    long tailOffset = 0;
    List<Placed> placed = new java.util.ArrayList<>();
    byte[] buffer = new byte[1 << 16];
    for (var item : sorted(entries).entrySet()) {
      tar.putArchiveEntry(header(item.getKey(), item.getValue()));
      if (item.getValue() instanceof Entry e) {
        placed.add(new Placed(item.getKey(), tailOffset + out.count, e.file().size(), e.file().blob()));
        if (tail == null && item.getKey().equals(insideName)) {
          long size = e.file().size();
          tailOffset = out.count + size;
          tail = new java.io.ByteArrayOutputStream();
          out = new CountingStream(tail);
          // the content's padding to a whole record, then the rest of the archive in a tar stream of its own
          out.write(new byte[(int) ((RECORD - size % RECORD) % RECORD)]);
          tar = tarStream(out);
          continue;
        }
        copy(item.getKey(), e.file(), tar, buffer, n -> { });
      }
      tar.closeArchiveEntry();
    }
    if (tail == null) {
      throw new IllegalArgumentException(inside.path() + " is not one of the layer's files");
    }
    tar.finish();
    if (head.size() % RECORD != 0) {
      throw new IllegalStateException("the layer's bytes before " + inside.path() + " are not whole records");
    }
    return new Enveloped(new Envelope(head.toByteArray(), inside.file().size(), tail.toByteArray()),
        List.copyOf(placed));
  }

  /** Copies {@code file}'s content into {@code tar}, telling {@code progress} the bytes copied so far. */
  private static long copy(String name, SourceFile file, OutputStream tar, byte[] buffer, LongConsumer progress)
      throws IOException {
    long copied = 0;
    try (InputStream in = file.opener().open()) {
      int n;
      while ((n = in.read(buffer, 0, (int) Math.min(buffer.length, file.size() - copied + 1))) > 0) {
        if (copied + n > file.size()) {
          throw new IOException("/" + name + " is longer than its declared " + file.size() + " bytes");
        }
        tar.write(buffer, 0, n);
        copied += n;
        progress.accept(copied);
      }
    }
    if (copied != file.size()) {
      throw new IOException("/" + name + " ended at " + copied + " of " + file.size() + " bytes");
    }
    return copied;
  }

  /** Every entry and its parent directories (as their modes), by path in the layer; checked. */
  private static TreeMap<String, Object> sorted(List<Entry> entries) throws IOException {
    TreeMap<String, Object> sorted = new TreeMap<>();
    for (Entry e : entries) {
      String name = pathInLayer(e);
      try {
        SourcePaths.checkRelative(name);
      } catch (IllegalArgumentException bad) {
        throw new IOException("cannot place a file at " + e.path() + ": " + bad.getMessage());
      }
      if (sorted.put(name, e) != null) {
        throw new IOException("two files would be written at /" + name);
      }
      for (int slash = name.indexOf('/'); slash >= 0; slash = name.indexOf('/', slash + 1)) {
        sorted.putIfAbsent(name.substring(0, slash + 1), DIRECTORY_MODE);
      }
    }
    for (String name : sorted.keySet()) {
      if (!name.endsWith("/") && sorted.containsKey(name + "/")) {
        throw new IOException("/" + name + " would be both a file and a directory");
      }
    }
    return sorted;
  }

  /** A tar stream of 512-byte records, PAX for long and non-ASCII names and big sizes. */
  private static TarArchiveOutputStream tarStream(OutputStream out) {
    TarArchiveOutputStream tar = new TarArchiveOutputStream(out, RECORD);
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    tar.setAddPaxHeadersForNonAsciiNames(true);
    return tar;
  }

  /** The tar header of {@code name}: a file ({@link Entry}) or a directory (its mode). */
  private static TarArchiveEntry header(String name, Object value) {
    TarArchiveEntry entry = new TarArchiveEntry(name, true);
    entry.setModTime(MTIME_MILLIS);
    entry.setUserId(0);
    entry.setGroupId(0);
    entry.setUserName("");
    entry.setGroupName("");
    if (value instanceof Entry e) {
      entry.setMode(0100000 | (e.mode() >= 0 ? e.mode() : e.file().mode() >= 0 ? e.file().mode()
          : DEFAULT_FILE_MODE));
      entry.setSize(e.file().size());
    } else {
      entry.setMode(040000 | DIRECTORY_MODE);
    }
    return entry;
  }

  /** Counts the bytes written through it. */
  private static final class CountingStream extends java.io.FilterOutputStream {
    long count;

    CountingStream(OutputStream out) {
      super(out);
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      count += len;
    }
  }

  /** gzip at a fixed level, with the JDK's fixed header (mtime 0, no name); closing it ends the stream. */
  private static final class DeterministicGzip extends GZIPOutputStream {
    DeterministicGzip(OutputStream out) throws IOException {
      super(out, 1 << 16);
      def.setLevel(6);
      def.setStrategy(Deflater.DEFAULT_STRATEGY);
    }

    @Override
    public void close() throws IOException {
      finish();
      out.close();
    }
  }
}
