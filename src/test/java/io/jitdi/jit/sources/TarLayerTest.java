package io.jitdi.jit.sources;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The one pass over an artifact's tar layer: its files, what it refuses, and that each byte is read once. */
class TarLayerTest {
  /** A tar built entry by entry. */
  static final class Tar {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final TarArchiveOutputStream out = new TarArchiveOutputStream(bytes);

    Tar() {
      out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    }

    Tar file(String name, String content, int mode) throws IOException {
      byte[] data = content.getBytes(StandardCharsets.UTF_8);
      TarArchiveEntry e = new TarArchiveEntry(name, true);
      e.setSize(data.length);
      e.setMode(0100000 | mode);
      out.putArchiveEntry(e);
      out.write(data);
      out.closeArchiveEntry();
      return this;
    }

    Tar entry(String name, byte type, Consumer<TarArchiveEntry> setup) throws IOException {
      TarArchiveEntry e = new TarArchiveEntry(name, type, true);
      setup.accept(e);
      out.putArchiveEntry(e);
      out.closeArchiveEntry();
      return this;
    }

    Tar dir(String name) throws IOException {
      return entry(name, TarConstants.LF_DIR, e -> { });
    }

    Tar symlink(String name, String target) throws IOException {
      return entry(name, TarConstants.LF_SYMLINK, e -> e.setLinkName(target));
    }

    Tar hardlink(String name, String target) throws IOException {
      return entry(name, TarConstants.LF_LINK, e -> e.setLinkName(target));
    }

    byte[] bytes(TarLayer.Compression compression) throws IOException {
      out.finish();
      ByteArrayOutputStream packed = new ByteArrayOutputStream();
      try (OutputStream c = switch (compression) {
        case none -> packed;
        case gzip -> new GZIPOutputStream(packed);
        case zstd -> new ZstdOutputStream(packed);
      }) {
        c.write(bytes.toByteArray());
      }
      return packed.toByteArray();
    }
  }

  @TempDir
  Path tmp;
  private final List<FileChannel> spools = new ArrayList<>();

  @AfterEach
  void closeSpools() throws IOException {
    for (FileChannel spool : spools) {
      spool.close();
    }
  }

  /** A spool in the test's directory. */
  TarLayer.Spool spool() {
    return () -> {
      FileChannel channel = FileChannel.open(tmp.resolve("spool-" + spools.size()), StandardOpenOption.CREATE_NEW,
          StandardOpenOption.READ, StandardOpenOption.WRITE);
      spools.add(channel);
      return channel;
    };
  }

  /** The layer's bytes as content, counting opens; the whole layer's stream ends with {@code atEnd}. */
  static TarLayer.Content content(byte[] layer, AtomicInteger opens, Runnable atEnd) {
    return (offset, length) -> {
      opens.incrementAndGet();
      InputStream bytes = new ByteArrayInputStream(layer, (int) offset, (int) length);
      if (offset != 0 || length != layer.length) {
        return bytes;
      }
      return new java.io.FilterInputStream(bytes) {
        @Override
        public int read(byte[] b, int off, int len) throws IOException {
          int n = super.read(b, off, len);
          if (n < 0) {
            try {
              atEnd.run();
            } catch (UncheckedIOException e) {
              throw e.getCause();
            }
          }
          return n;
        }
      };
    };
  }

  List<SourceFile> list(byte[] layer, TarLayer.Compression compression) throws IOException {
    return new TarLayer("test layer", layer.length, compression, content(layer, new AtomicInteger(), () -> { }))
        .unpack(spool(), n -> { }).files();
  }

  static Map<String, String> contents(List<SourceFile> files) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    for (SourceFile f : files) {
      try (InputStream in = f.opener().open()) {
        byte[] data = in.readNBytes((int) f.size() + 1);
        assertEquals(f.size(), data.length, f.name());
        out.put(f.name(), new String(data, StandardCharsets.UTF_8));
      }
    }
    return out;
  }

  @ParameterizedTest
  @EnumSource(TarLayer.Compression.class)
  void listsEveryFileSortedWithItsContentAndMode(TarLayer.Compression compression) throws IOException {
    byte[] layer = new Tar().dir("./").dir("./models/").file("./models/z.gguf", "weights".repeat(1000), 0644)
        .file("./models/a.json", "{}", 0644).file("run.sh", "#!/bin/sh", 04755)
        .file("long/" + "d".repeat(120) + "/x", "deep", 0600).bytes(compression);
    List<SourceFile> files = list(layer, compression);
    assertEquals(List.of("long/" + "d".repeat(120) + "/x", "models/a.json", "models/z.gguf", "run.sh"),
        files.stream().map(SourceFile::name).toList());
    Map<String, String> contents = contents(files);
    assertEquals("weights".repeat(1000), contents.get("models/z.gguf"));
    assertEquals("{}", contents.get("models/a.json"));
    assertEquals("deep", contents.get("long/" + "d".repeat(120) + "/x"));
    assertEquals(0755, files.get(3).mode(), "permission bits kept, set-id dropped");
  }

  @ParameterizedTest
  @EnumSource(TarLayer.Compression.class)
  void aLayerOutOfNameOrderIsReadOnceEachByteOnce(TarLayer.Compression compression) throws IOException {
    Tar tar = new Tar();
    for (int i = 19; i >= 0; i--) {
      tar.file(String.format("data/part-%02d.jsonl", i), ("row " + i + "\n").repeat(500 + i), 0644);
    }
    byte[] layer = tar.dir("data/").bytes(compression);
    AtomicInteger opens = new AtomicInteger();
    AtomicLong read = new AtomicLong();
    TarLayer.Unpacked unpacked = new TarLayer("counted layer", layer.length, compression, content(layer, opens,
        () -> { })).unpack(spool(), read::addAndGet);
    assertEquals(1, opens.get(), "one pass over the layer");
    List<SourceFile> files = unpacked.files();
    assertEquals("data/part-00.jsonl", files.get(0).name(), "files in name order, the tar's last first");
    Map<String, String> contents = contents(files);
    assertEquals(("row 7\n").repeat(507), contents.get("data/part-07.jsonl"));
    assertEquals(compression == TarLayer.Compression.none ? 1 + 20 : 1, opens.get(),
        compression == TarLayer.Compression.none ? "each file read in place, a range of the blob"
            : "the files read from the spool, the layer not opened again");
    assertEquals(layer.length, read.get(), "every byte of the layer read once (headers in the pass, contents then "
        + "or from the blob when the file is read)");
    assertEquals(compression == TarLayer.Compression.none ? 0 : contents.values().stream()
        .mapToLong(String::length).sum(), unpacked.spooled());
    unpacked.close();
  }

  @ParameterizedTest
  @EnumSource(TarLayer.Compression.class)
  void thePassReadsTheContentToItsEndSoAFailedVerificationFailsIt(TarLayer.Compression compression)
      throws IOException {
    byte[] layer = new Tar().file("model.gguf", "weights".repeat(1000), 0644).bytes(compression);
    TarLayer tar = new TarLayer("layer sha256:abc", layer.length, compression, content(layer, new AtomicInteger(),
        () -> {
          throw new UncheckedIOException(new IOException("blob sha256:abc does not match its digest"));
        }));
    IOException e = assertThrows(IOException.class, () -> tar.unpack(spool(), n -> { }));
    assertTrue(e.getMessage().contains("layer sha256:abc") && e.getMessage().contains("does not match its digest"),
        e.getMessage());
  }

  @Test
  void bytesAfterTheCompressedStreamAreReadTooSoTheVerificationIsAwaited() throws IOException {
    byte[] gzip = new Tar().file("model.gguf", "weights".repeat(1000), 0644).bytes(TarLayer.Compression.gzip);
    // padded, as a tool writing whole blocks would: GZIPInputStream stops at the member's end, before the padding
    byte[] layer = java.util.Arrays.copyOf(gzip, gzip.length + 4096);
    AtomicLong read = new AtomicLong();
    TarLayer tar = new TarLayer("layer sha256:abc", layer.length, TarLayer.Compression.gzip, content(layer,
        new AtomicInteger(), () -> {
          throw new UncheckedIOException(new IOException("blob sha256:abc does not match its digest"));
        }));
    IOException e = assertThrows(IOException.class, () -> tar.unpack(spool(), read::addAndGet));
    assertTrue(e.getMessage().contains("does not match its digest"), e.getMessage());
    assertEquals(layer.length, read.get(), "read to the end, padding included");
  }

  @ParameterizedTest
  @EnumSource(value = TarLayer.Compression.class, names = {"gzip", "zstd"})
  void aBrokenCompressedStreamIsReportedAsTheFailedVerificationItCameFrom(TarLayer.Compression compression)
      throws IOException {
    byte[] layer = new Tar().file("model.gguf", "weights ".repeat(20_000) + "end", 0644).bytes(compression);
    byte[] flipped = layer.clone();
    for (int i = 20; i < flipped.length - 20; i += 7) {
      flipped[i] ^= 0x55;
    }
    IOException unverified = assertThrows(IOException.class, () -> new TarLayer("layer sha256:abc", flipped.length,
        compression, content(flipped, new AtomicInteger(), () -> {
          throw new UncheckedIOException(new IOException("blob sha256:abc does not match its digest"));
        })).unpack(spool(), n -> { }));
    assertTrue(unverified.getMessage().contains("does not match its digest"), unverified.getMessage());
    IOException bad = assertThrows(IOException.class, () -> new TarLayer("layer sha256:abc", flipped.length,
        compression, content(flipped, new AtomicInteger(), () -> { })).unpack(spool(), n -> { }));
    assertTrue(bad.getMessage().contains("layer sha256:abc is not a readable " + compression + " tar"),
        bad.getMessage());
  }

  @Test
  void linksToFilesInsideBecomeCopies() throws IOException {
    byte[] layer = new Tar().file("models/model.gguf", "weights", 0644).symlink("models/current.gguf", "model.gguf")
        .symlink("latest", "models/current.gguf").hardlink("again.gguf", "./models/model.gguf")
        .bytes(TarLayer.Compression.none);
    Map<String, String> contents = contents(list(layer, TarLayer.Compression.none));
    assertEquals(Map.of("again.gguf", "weights", "latest", "weights", "models/current.gguf", "weights",
        "models/model.gguf", "weights"), contents);
  }

  @Test
  void refusesEverythingThatCouldLeaveTheDestination() throws IOException {
    assertRefused(new Tar().file("../escape", "x", 0644), "../escape");
    assertRefused(new Tar().file("models/../../escape", "x", 0644), "..");
    assertRefused(new Tar().file("/etc/passwd", "x", 0644), "absolute");
    assertRefused(new Tar().symlink("models/link", "../../etc/passwd"), "outside the layer");
    assertRefused(new Tar().symlink("link", "/etc/passwd"), "absolute path");
    assertRefused(new Tar().file("a", "x", 0644).hardlink("b", "../a"), "outside the layer");
    assertRefused(new Tar().symlink("dangling", "nothing"), "not in the layer");
    assertRefused(new Tar().dir("d/").symlink("to-dir", "d"), "directory");
    assertRefused(new Tar().symlink("a", "b").symlink("b", "a"), "links in a row");
    assertRefused(new Tar().entry("dev/sda", TarConstants.LF_BLK, e -> { }), "block device");
    assertRefused(new Tar().entry("dev/tty", TarConstants.LF_CHR, e -> { }), "character device");
    assertRefused(new Tar().entry("pipe", TarConstants.LF_FIFO, e -> { }), "FIFO");
    assertRefused(new Tar().file("twice", "a", 0644).file("twice", "b", 0644), "twice");
  }

  private void assertRefused(Tar tar, String why) throws IOException {
    byte[] layer = tar.bytes(TarLayer.Compression.none);
    IOException e = assertThrows(IOException.class, () -> list(layer, TarLayer.Compression.none));
    assertTrue(e.getMessage().contains("refused") && e.getMessage().contains(why), e.getMessage());
  }

  @Test
  void knowsTarMediaTypesOfEveryFamily() {
    assertEquals(TarLayer.Compression.none, TarLayer.Compression.ofMediaType(
        "application/vnd.cncf.model.weight.v1.tar").orElseThrow());
    assertEquals(TarLayer.Compression.zstd, TarLayer.Compression.ofMediaType(
        "application/vnd.cncf.model.dataset.v1.tar+zstd").orElseThrow());
    assertEquals(TarLayer.Compression.gzip, TarLayer.Compression.ofMediaType(
        "application/vnd.kitops.modelkit.model.v1.tar+gzip").orElseThrow());
    assertEquals(TarLayer.Compression.gzip, TarLayer.Compression.ofMediaType(
        "application/vnd.docker.image.rootfs.diff.tar.gzip").orElseThrow());
    assertTrue(TarLayer.Compression.ofMediaType("application/vnd.cncf.model.weight.v1.raw").isEmpty());
  }
}
