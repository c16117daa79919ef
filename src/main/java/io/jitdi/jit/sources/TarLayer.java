package io.jitdi.jit.sources;

import com.github.luben.zstd.ZstdInputStream;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * The files in a tar layer of an artifact (plain, gzip or zstd), as source files under the destination.
 *
 * <p>What is refused, naming the entry: absolute names, {@code ..} components, device files, FIFOs, sparse files,
 * names given twice, and links that leave the layer or lead nowhere. Symbolic and hard links to a file inside the
 * layer become a copy of that file (a runtime reading the path sees the same bytes; the layer holds no link).
 * Directories are implied by the files under them. A leading {@code ./} is dropped. Permission bits are kept, set-id
 * bits are not.
 *
 * <p>An uncompressed layer is read in place: each file is a range of the blob. A compressed one is decompressed in
 * one pass when its files are read in tar order (see {@link Sequential}); out of order, from the start up to the
 * file.
 */
public final class TarLayer {
  static final int MAX_LINK_HOPS = 16;

  /** How the tar stream is compressed. */
  public enum Compression {
    none, gzip, zstd;

    /** From a media type's suffix ({@code .tar}, {@code .tar+gzip}, {@code .tar+zstd}); empty when not a tar. */
    public static Optional<Compression> ofMediaType(String mediaType) {
      if (mediaType.endsWith(".tar") || mediaType.endsWith(".tar.v1")) {
        return Optional.of(none);
      }
      if (mediaType.endsWith(".tar+gzip") || mediaType.endsWith(".tar.gzip")) {
        return Optional.of(gzip);
      }
      if (mediaType.endsWith(".tar+zstd") || mediaType.endsWith(".tar.zstd")) {
        return Optional.of(zstd);
      }
      return Optional.empty();
    }
  }

  /** Opens {@code length} raw (compressed) bytes of the layer from {@code offset}. */
  @FunctionalInterface
  public interface Content {
    InputStream open(long offset, long length) throws IOException;
  }

  private record Found(String name, long size, int mode, long offset, int ordinal) {}

  private record Link(String name, String target, boolean symbolic) {}

  private TarLayer() {}

  /**
   * Reads the layer's headers and lists its files, sorted by name.
   *
   * @param what names the layer in messages
   * @param size the layer's (compressed) size
   * @throws IOException naming the entry when the layer holds anything refused
   */
  public static List<SourceFile> files(String what, Content content, long size, Compression compression)
      throws IOException {
    Map<String, Found> files = new LinkedHashMap<>();
    Set<String> directories = new TreeSet<>();
    List<Link> links = new ArrayList<>();
    try (CountingInputStream raw = new CountingInputStream(decompress(content.open(0, size), compression));
        TarArchiveInputStream tar = new TarArchiveInputStream(raw)) {
      int ordinal = -1;
      for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
        ordinal++;
        String name = name(what, e.getName(), e.isDirectory());
        if (name.isEmpty()) {
          continue;
        }
        if (files.containsKey(name) || directories.contains(name)
            || links.stream().anyMatch(l -> l.name().equals(name))) {
          throw refused(what, e.getName(), "it appears twice");
        }
        if (e.isDirectory()) {
          directories.add(name);
        } else if (e.isSymbolicLink()) {
          links.add(new Link(name, e.getLinkName(), true));
        } else if (e.isLink()) {
          links.add(new Link(name, e.getLinkName(), false));
        } else if (e.isSparse()) {
          throw refused(what, e.getName(), "sparse files are not supported");
        } else if (e.getLinkFlag() == TarConstants.LF_NORMAL || e.getLinkFlag() == TarConstants.LF_OLDNORM
            || e.getLinkFlag() == TarConstants.LF_CONTIG) {
          files.put(name, new Found(name, e.getSize(), e.getMode() & 0777, raw.count(), ordinal));
        } else {
          throw refused(what, e.getName(), "it is a " + (e.isCharacterDevice() ? "character device"
              : e.isBlockDevice() ? "block device" : e.isFIFO() ? "FIFO" : "special file")
              + "; only files, directories and links inside the layer are unpacked");
        }
      }
    }
    Map<String, Found> resolved = new HashMap<>(files);
    for (Link link : links) {
      resolved.put(link.name(), target(what, link, files, directories, links));
    }
    Sequential reader = compression == Compression.none ? null : new Sequential(what, content, size, compression,
        resolved.values().stream().mapToInt(Found::ordinal).max().orElse(-1));
    List<SourceFile> out = new ArrayList<>();
    for (String name : new TreeSet<>(resolved.keySet())) {
      Found f = resolved.get(name);
      out.add(new SourceFile(name, f.size(), f.mode(), () -> reader == null ? content.open(f.offset(), f.size())
          : reader.open(f)));
    }
    return out;
  }

  /**
   * Reads the files of a compressed layer. A stream that was read up to entry k and closed is kept, so opening a later
   * entry goes on from there instead of decompressing from the start again: files opened in tar order (the usual
   * case, as both jitdi's layer builder and the packing tools sort by name) cost one pass in all. The kept stream
   * holds its blob open; it is closed when the last file is done, when an earlier entry is asked for, or when the
   * listing is no longer reachable.
   */
  private static final class Sequential {
    private static final Cleaner CLEANER = Cleaner.create();
    private final String what;
    private final Content content;
    private final long size;
    private final Compression compression;
    private final int lastOrdinal;
    private final Parked parked = new Parked();

    /** The kept stream and the entry it was left at; closes it when the reader becomes unreachable. */
    private static final class Parked implements Runnable {
      private TarArchiveInputStream tar;
      private int at = -1;

      synchronized TarArchiveInputStream take(int ordinal, int[] at) {
        TarArchiveInputStream kept = tar;
        tar = null;
        if (kept != null && this.at < ordinal) {
          at[0] = this.at;
          return kept;
        }
        closeQuietly(kept);
        return null;
      }

      synchronized void park(TarArchiveInputStream stream, int ordinal) {
        closeQuietly(tar);
        tar = stream;
        at = ordinal;
      }

      @Override
      public synchronized void run() {
        closeQuietly(tar);
        tar = null;
      }
    }

    Sequential(String what, Content content, long size, Compression compression, int lastOrdinal) {
      this.what = what;
      this.content = content;
      this.size = size;
      this.compression = compression;
      this.lastOrdinal = lastOrdinal;
      CLEANER.register(this, parked);
    }

    InputStream open(Found f) throws IOException {
      int[] at = {-1};
      TarArchiveInputStream tar = parked.take(f.ordinal(), at);
      if (tar == null) {
        tar = new TarArchiveInputStream(decompress(content.open(0, size), compression));
      }
      try {
        TarArchiveEntry e = null;
        for (int i = at[0]; i < f.ordinal(); i++) {
          e = tar.getNextEntry();
          if (e == null) {
            throw new IOException(what + " ended before entry " + f.name());
          }
        }
        if (e == null || e.getSize() != f.size()) {
          throw new IOException(what + " changed: entry " + f.ordinal() + " is not " + f.name() + " any more");
        }
      } catch (IOException | RuntimeException x) {
        tar.close();
        throw x;
      }
      TarArchiveInputStream entry = tar;
      return new FilterInputStream(entry) {
        private boolean closed;

        @Override
        public void close() throws IOException {
          if (closed) {
            return;
          }
          closed = true;
          if (f.ordinal() >= lastOrdinal) {
            entry.close();
          } else {
            parked.park(entry, f.ordinal());
          }
        }
      };
    }

    private static void closeQuietly(InputStream in) {
      if (in != null) {
        try {
          in.close();
        } catch (IOException ignored) {
          // a read-only stream of a local blob
        }
      }
    }
  }

  /** The file a link leads to, following symbolic links inside the layer. */
  private static Found target(String what, Link link, Map<String, Found> files, Set<String> directories,
      List<Link> links) throws IOException {
    Link at = link;
    for (int hop = 0; hop < MAX_LINK_HOPS; hop++) {
      String target;
      if (at.symbolic()) {
        if (at.target().startsWith("/")) {
          throw refused(what, link.name(), "it links to the absolute path " + at.target() + ", outside the layer");
        }
        int slash = at.name().lastIndexOf('/');
        target = normalize(slash < 0 ? at.target() : at.name().substring(0, slash + 1) + at.target());
      } else {
        target = normalize(at.target().startsWith("./") ? at.target().substring(2) : at.target());
      }
      if (target == null) {
        throw refused(what, link.name(), "it links to " + at.target() + ", outside the layer");
      }
      Found file = files.get(target);
      if (file != null) {
        return new Found(link.name(), file.size(), file.mode(), file.offset(), file.ordinal());
      }
      if (directories.contains(target)) {
        throw refused(what, link.name(), "it links to the directory " + target + "; only links to files are "
            + "unpacked");
      }
      String next = target;
      Optional<Link> chained = links.stream().filter(l -> l.name().equals(next)).findFirst();
      if (chained.isEmpty()) {
        throw refused(what, link.name(), "it links to " + at.target() + ", which is not in the layer");
      }
      at = chained.get();
    }
    throw refused(what, link.name(), "more than " + MAX_LINK_HOPS + " links in a row");
  }

  /** Resolves {@code .} and {@code ..}; null when the path climbs above the top. */
  private static String normalize(String path) {
    List<String> parts = new ArrayList<>();
    for (String p : path.split("/")) {
      if (p.isEmpty() || p.equals(".")) {
        continue;
      }
      if (p.equals("..")) {
        if (parts.isEmpty()) {
          return null;
        }
        parts.remove(parts.size() - 1);
      } else {
        parts.add(p);
      }
    }
    return parts.isEmpty() ? null : String.join("/", parts);
  }

  /** The entry's path relative to the layer ("" for the layer's own top directory). */
  private static String name(String what, String raw, boolean directory) throws IOException {
    String name = raw;
    while (name.startsWith("./")) {
      name = name.substring(2);
    }
    if (directory && name.endsWith("/")) {
      name = name.substring(0, name.length() - 1);
    }
    if (name.isEmpty() || name.equals(".")) {
      return "";
    }
    if (name.startsWith("/")) {
      throw refused(what, raw, "absolute paths are refused");
    }
    try {
      SourcePaths.checkRelative(name);
    } catch (IllegalArgumentException e) {
      throw refused(what, raw, e.getMessage());
    }
    return name;
  }

  private static IOException refused(String what, String entry, String why) {
    return new IOException(what + ": entry \"" + entry + "\" is refused: " + why);
  }

  private static InputStream decompress(InputStream raw, Compression compression) throws IOException {
    return switch (compression) {
      case none -> raw;
      case gzip -> new GZIPInputStream(raw, 1 << 16);
      case zstd -> new BufferedInputStream(new ZstdInputStream(raw), 1 << 16);
    };
  }

  /** Counts the bytes read through it, so that an uncompressed entry's data offset is known. */
  private static final class CountingInputStream extends FilterInputStream {
    private long count;

    CountingInputStream(InputStream in) {
      super(in);
    }

    long count() {
      return count;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        count++;
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        count += n;
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long skipped = super.skip(n);
      count += skipped;
      return skipped;
    }
  }
}
