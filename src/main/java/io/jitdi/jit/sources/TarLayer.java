package io.jitdi.jit.sources;

import com.github.luben.zstd.ZstdInputStream;
import io.jitdi.oci.Digest;
import io.jitdi.stream.FileRegionStream;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.LongConsumer;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * A tar layer of an artifact (plain, gzip or zstd), whose files are known only once it is read. A build reads it once,
 * from its first byte to its last, as it arrives ({@link #unpack}); planning does not read it.
 *
 * <p>What is refused, naming the entry: absolute names, {@code ..} components, device files, FIFOs, sparse files,
 * names given twice, and links that leave the layer or lead nowhere. Symbolic and hard links to a file inside the
 * layer become a copy of that file (a runtime reading the path sees the same bytes; the layer holds no link).
 * Directories are implied by the files under them. A leading {@code ./} is dropped. Permission bits are kept, set-id
 * bits are not.
 *
 * <p><b>One pass, whatever the order of the entries.</b> A tar's entries need not be in name order (GNU tar writes
 * them in directory order; Go's {@code filepath.Walk}, which KitOps and modctl use, puts {@code a/b} before
 * {@code a.txt}), while jitdi writes its layer in name order, so a file may be needed after one that comes later in
 * the tar. Rather than read the layer again for it:
 * <ul>
 *   <li>an uncompressed layer's pass reads only the headers and skips each file's content; each file is then a range
 *       of the blob, read in place when the layer is written (the blob stays open, so held in the cache, until the
 *       {@link Unpacked} files are closed);</li>
 *   <li>a compressed layer cannot be read at an offset, so its pass decompresses each file once into the build's
 *       {@link Spool}, and each file is then a range of the spool.</li>
 * </ul>
 * Either way each byte of the blob is read once ({@code read} is told of each, as it is read). The pass reads the blob
 * to its very end, past the tar's end-of-archive records and the compressed stream's end, so it ends only once the
 * content's source says the blob is whole: given a stream that fails at its end when the bytes do not match their
 * digest (the cache's fill does), a flipped byte fails the pass. A tar or decompression error is reported as the
 * failed verification it came from when the blob turns out not to match, and as a bad tar otherwise.
 */
public final class TarLayer {
  static final int MAX_LINK_HOPS = 16;
  private static final int BUFFER = 1 << 16;

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

  /**
   * Opens {@code length} raw (compressed) bytes of the layer from {@code offset}. A stream of the whole layer should
   * end only once the bytes were verified (and fail when they were not).
   */
  @FunctionalInterface
  public interface Content {
    InputStream open(long offset, long length) throws IOException;
  }

  /** The build's scratch file that compressed layers' files are decompressed into, shared by its layers. */
  @FunctionalInterface
  public interface Spool {
    /** The spool, open for writing and reading; created on the first call. New content goes at its end. */
    FileChannel channel() throws IOException;
  }

  /** The files of an unpacked layer, sorted by name; they can be read until this is closed. */
  public static final class Unpacked implements Closeable {
    private final List<SourceFile> files;
    private final long spooled;
    private final Closeable held;

    Unpacked(List<SourceFile> files, long spooled, Closeable held) {
      this.files = List.copyOf(files);
      this.spooled = spooled;
      this.held = held;
    }

    /** Files read from elsewhere (where an earlier build put them), held by {@code held} until this is closed. */
    public static Unpacked of(List<SourceFile> files, Closeable held) {
      return new Unpacked(files, 0, held);
    }

    public List<SourceFile> files() {
      return files;
    }

    /** Bytes this layer added to the spool. */
    public long spooled() {
      return spooled;
    }

    /** Lets go of the blob an uncompressed layer's files are read from. */
    @Override
    public void close() throws IOException {
      held.close();
    }
  }

  /** A refusal of an entry: reported as is, whatever the blob's verification says. */
  private static final class Refused extends IOException {
    private static final long serialVersionUID = 1L;

    Refused(String message) {
      super(message);
    }
  }

  /** A file entry: its content is at {@code offset} of the blob (uncompressed) or of the spool (compressed). */
  private record Found(String name, long size, int mode, long offset) {}

  private record Link(String name, String target, boolean symbolic) {}

  /** What one pass saw: files by name in tar order, directories and links. */
  private static final class Seen {
    final Map<String, Found> files = new LinkedHashMap<>();
    final Set<String> directories = new TreeSet<>();
    final List<Link> links = new ArrayList<>();
  }

  private final String what;
  private final long size;
  private final Compression compression;
  private final Content content;
  private final Optional<Digest> blob;

  /**
   * @param what names the layer in messages (which blob, of which artifact)
   * @param size the layer's (compressed) size
   * @param blob the artifact blob that is this tar, when it is one (a build may drop it once its layer is stored)
   */
  public TarLayer(String what, long size, Compression compression, Content content,
      Optional<Digest> blob) {
    this.what = what;
    this.size = size;
    this.compression = compression;
    this.content = content;
    this.blob = blob;
  }

  /** A tar that is no artifact blob of its own. */
  public TarLayer(String what, long size, Compression compression, Content content) {
    this(what, size, compression, content, Optional.empty());
  }

  /** The artifact blob that is this tar, if it is one. */
  public Optional<Digest> blob() {
    return blob;
  }

  public String what() {
    return what;
  }

  /** The blob's size: the bytes a build reads from it. */
  public long size() {
    return size;
  }

  public Compression compression() {
    return compression;
  }

  /**
   * Reads the layer once, to its end, and gives its files, sorted by name. Blocks while the content arrives.
   *
   * @param spool where a compressed layer's files go (not used for an uncompressed one)
   * @param read told of every byte read from the content, now and when the files are read
   * @throws IOException naming the entry when the layer holds anything refused; naming the layer when its content
   *     failed verification or is not a tar
   */
  public Unpacked unpack(Spool spool, LongConsumer read) throws IOException {
    MeteredInputStream raw = new MeteredInputStream(content.open(0, size), read);
    boolean held = false;
    try {
      Seen seen;
      long spoolStart = 0;
      long spoolEnd = 0;
      FileChannel channel = null;
      if (compression == Compression.none) {
        seen = headers(raw);
      } else {
        channel = spool.channel();
        spoolStart = channel.size();
        seen = new Seen();
        spoolEnd = spooled(raw, channel, spoolStart, seen);
      }
      drain(raw);
      Map<String, Found> resolved = new HashMap<>(seen.files);
      for (Link link : seen.links) {
        resolved.put(link.name(), target(link, seen));
      }
      List<SourceFile> out = new ArrayList<>();
      for (String name : new TreeSet<>(resolved.keySet())) {
        Found f = resolved.get(name);
        out.add(new SourceFile(name, f.size(), f.mode(), opener(f, channel, spoolEnd, read)));
      }
      held = compression == Compression.none;
      return new Unpacked(out, spoolEnd - spoolStart, held ? raw : () -> { });
    } catch (Refused e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw failure(raw, e);
    } finally {
      if (!held) {
        raw.close();
      }
    }
  }

  private SourceFile.Opener opener(Found f, FileChannel spool, long spoolEnd, LongConsumer read) {
    if (spool == null) {
      return () -> new MeteredInputStream(content.open(f.offset(), f.size()), read);
    }
    return () -> new FileRegionStream(spool, f.offset(), f.size(), spoolEnd, () -> { });
  }

  /** An uncompressed layer's entries; each file's content is skipped, not read. */
  private Seen headers(MeteredInputStream raw) throws IOException {
    ContentSkipper skipper = new ContentSkipper(raw);
    TarArchiveInputStream tar = new TarArchiveInputStream(skipper);
    Seen seen = new Seen();
    for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
      if (entry(e, seen, raw.position())) {
        skipper.skipNext(e.getSize());
      }
    }
    return seen;
  }

  /** A compressed layer's entries; each file's content is decompressed into the spool from {@code at} on. */
  private long spooled(MeteredInputStream raw, FileChannel spool, long at, Seen seen) throws IOException {
    // closing the decompressor frees its native memory; raw stays open, to be drained and closed by the caller
    try (InputStream decompressed = decompress(new KeptOpen(raw), compression)) {
      TarArchiveInputStream tar = new TarArchiveInputStream(decompressed);
      byte[] buffer = new byte[BUFFER];
      for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
        if (!entry(e, seen, at)) {
          continue;
        }
        long copied = 0;
        int n;
        while (copied < e.getSize() && (n = tar.read(buffer, 0, (int) Math.min(buffer.length,
            e.getSize() - copied))) > 0) {
          ByteBuffer bytes = ByteBuffer.wrap(buffer, 0, n);
          while (bytes.hasRemaining()) {
            spool.write(bytes, at + copied + bytes.position());
          }
          copied += n;
        }
        if (copied != e.getSize()) {
          throw new IOException("entry " + e.getName() + " ended at " + copied + " of " + e.getSize() + " bytes");
        }
        at += copied;
      }
      // the rest of the compressed stream, then of the blob, is drained by the caller
      return at;
    }
  }

  /**
   * Records entry {@code e} whose content (if it is a file) starts at {@code offset}; true for a file.
   *
   * @throws Refused when the entry is refused
   */
  private boolean entry(TarArchiveEntry e, Seen seen, long offset) throws IOException {
    String name = name(e.getName(), e.isDirectory());
    if (name.isEmpty()) {
      return false;
    }
    if (seen.files.containsKey(name) || seen.directories.contains(name)
        || seen.links.stream().anyMatch(l -> l.name().equals(name))) {
      throw refused(e.getName(), "it appears twice");
    }
    if (e.isDirectory()) {
      seen.directories.add(name);
    } else if (e.isSymbolicLink()) {
      seen.links.add(new Link(name, e.getLinkName(), true));
    } else if (e.isLink()) {
      seen.links.add(new Link(name, e.getLinkName(), false));
    } else if (e.isSparse()) {
      throw refused(e.getName(), "sparse files are not supported");
    } else if (e.getLinkFlag() == TarConstants.LF_NORMAL || e.getLinkFlag() == TarConstants.LF_OLDNORM
        || e.getLinkFlag() == TarConstants.LF_CONTIG) {
      seen.files.put(name, new Found(name, e.getSize(), e.getMode() & 0777, offset));
      return true;
    } else {
      throw refused(e.getName(), "it is a " + (e.isCharacterDevice() ? "character device"
          : e.isBlockDevice() ? "block device" : e.isFIFO() ? "FIFO" : "special file")
          + "; only files, directories and links inside the layer are unpacked");
    }
    return false;
  }

  /**
   * What to report for a pass that failed with {@code e}: the blob's failed verification when its bytes turn out
   * not to match (read to its end, the content says so), else {@code e} as a bad layer.
   */
  private IOException failure(MeteredInputStream raw, Exception e) {
    try {
      drain(raw);
    } catch (IOException | RuntimeException unverified) {
      return new IOException(what + ": " + message(unverified), unverified);
    }
    return new IOException(what + " is not a readable " + (compression == Compression.none ? "tar" : compression
        + " tar") + ": " + message(e), e);
  }

  private static String message(Throwable e) {
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }

  /** Reads {@code raw} to its end: for the cache's fill, the end comes once the blob was verified. */
  private static void drain(InputStream raw) throws IOException {
    byte[] buffer = new byte[BUFFER];
    while (raw.read(buffer, 0, buffer.length) >= 0) {
      // to the end
    }
  }

  /** The file a link leads to, following symbolic links inside the layer. */
  private Found target(Link link, Seen seen) throws IOException {
    Link at = link;
    for (int hop = 0; hop < MAX_LINK_HOPS; hop++) {
      String target;
      if (at.symbolic()) {
        if (at.target().startsWith("/")) {
          throw refused(link.name(), "it links to the absolute path " + at.target() + ", outside the layer");
        }
        int slash = at.name().lastIndexOf('/');
        target = normalize(slash < 0 ? at.target() : at.name().substring(0, slash + 1) + at.target());
      } else {
        target = normalize(at.target().startsWith("./") ? at.target().substring(2) : at.target());
      }
      if (target == null) {
        throw refused(link.name(), "it links to " + at.target() + ", outside the layer");
      }
      Found file = seen.files.get(target);
      if (file != null) {
        return new Found(link.name(), file.size(), file.mode(), file.offset());
      }
      if (seen.directories.contains(target)) {
        throw refused(link.name(), "it links to the directory " + target + "; only links to files are unpacked");
      }
      String next = target;
      Optional<Link> chained = seen.links.stream().filter(l -> l.name().equals(next)).findFirst();
      if (chained.isEmpty()) {
        throw refused(link.name(), "it links to " + at.target() + ", which is not in the layer");
      }
      at = chained.get();
    }
    throw refused(link.name(), "more than " + MAX_LINK_HOPS + " links in a row");
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
  private String name(String raw, boolean directory) throws IOException {
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
      throw refused(raw, "absolute paths are refused");
    }
    try {
      SourcePaths.checkRelative(name);
    } catch (IllegalArgumentException e) {
      throw refused(raw, e.getMessage());
    }
    return name;
  }

  private Refused refused(String entry, String why) {
    return new Refused(what + ": entry \"" + entry + "\" is refused: " + why);
  }

  private static InputStream decompress(InputStream raw, Compression compression) throws IOException {
    return switch (compression) {
      case none -> raw;
      case gzip -> new GZIPInputStream(raw, BUFFER);
      case zstd -> new BufferedInputStream(new ZstdInputStream(raw), BUFFER);
    };
  }

  /** A stream whose close does not close what it reads. */
  private static final class KeptOpen extends FilterInputStream {
    KeptOpen(InputStream in) {
      super(in);
    }

    @Override
    public void close() {
      // the owner closes the stream underneath
    }
  }

  /**
   * Skips what it is told is file content instead of reading it (the tar reader reads through content it does not
   * want); reads everything else.
   */
  private static final class ContentSkipper extends FilterInputStream {
    private long skip;

    ContentSkipper(InputStream in) {
      super(in);
    }

    /** The next {@code n} bytes are a file's content: skip them. */
    void skipNext(long n) {
      skip = n;
    }

    @Override
    public int read() throws IOException {
      return Streams.readOne(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (skip <= 0 || len == 0) {
        return in.read(b, off, len);
      }
      int want = (int) Math.min(len, skip);
      long n = in.skip(want);
      if (n <= 0) {
        n = in.read(b, off, want);
        if (n < 0) {
          return -1;
        }
      }
      skip -= n;
      return (int) n;
    }
  }
}
