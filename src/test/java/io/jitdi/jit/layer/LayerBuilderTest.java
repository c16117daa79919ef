package io.jitdi.jit.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.config.ImageRuleConfig.Compression;
import io.jitdi.jit.sources.FileSource;
import io.jitdi.jit.sources.Listing;
import io.jitdi.jit.sources.SourceFile;
import io.jitdi.oci.Digest;
import io.jitdi.oci.MediaType;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** As Jib's ReproducibleLayerBuilderTest: same files, different order, mtimes and directories, same bytes. */
class LayerBuilderTest {
  @TempDir
  Path dir;
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  private Path tree(String name, long mtime, byte[] big) throws Exception {
    Path root = dir.resolve(name);
    Files.createDirectories(root.resolve("sub/deeper"));
    Files.write(root.resolve("model.gguf"), big);
    Files.writeString(root.resolve("sub/config.json"), "{\"a\":1}");
    Files.writeString(root.resolve("sub/deeper/" + "long-name-".repeat(12) + ".txt"), "long");
    try (var walk = Files.walk(root)) {
      for (Path p : walk.toList()) {
        Files.setLastModifiedTime(p, FileTime.fromMillis(mtime));
      }
    }
    return root;
  }

  private List<LayerBuilder.Entry> entries(Path root, boolean reversed) throws Exception {
    Listing listing = new FileSource("test", root, List.of(dir)).list();
    List<LayerBuilder.Entry> entries = new ArrayList<>();
    for (SourceFile f : listing.files()) {
      entries.add(new LayerBuilder.Entry("/models/7b/" + f.name(), f, -1));
    }
    if (reversed) {
      Collections.reverse(entries);
    }
    return entries;
  }

  @Test
  void theSameFilesGiveTheSameBytesWhateverTheOrderMtimesAndDirectory() throws Exception {
    byte[] big = new byte[3_000_017];
    new Random(3).nextBytes(big);
    for (Compression c : Compression.values()) {
      LayerBuilder.Built a = LayerBuilder.build(entries(tree("a-" + c, 1_600_000_000_000L, big), false), c,
          dir.resolve("a-" + c + ".layer"), pool, n -> { });
      LayerBuilder.Built b = LayerBuilder.build(entries(tree("b-" + c, 1_700_000_000_000L, big), true), c,
          dir.resolve("b-" + c + ".layer"), pool, n -> { });
      assertEquals(a, b, c.name());
      assertArrayEquals(Files.readAllBytes(dir.resolve("a-" + c + ".layer")),
          Files.readAllBytes(dir.resolve("b-" + c + ".layer")), c.name());
      assertEquals(a.digest(), Digest.sha256Of(Files.readAllBytes(dir.resolve("a-" + c + ".layer"))));
      assertEquals(Files.size(dir.resolve("a-" + c + ".layer")), a.size());
      assertEquals(LayerBuilder.mediaType(c), a.mediaType());
    }
  }

  @Test
  void entriesAreSortedWithParentsFixedTimesAndRootOwnership() throws Exception {
    byte[] big = "weights".getBytes(StandardCharsets.UTF_8);
    Path layer = dir.resolve("l.tar");
    LayerBuilder.Built built = LayerBuilder.build(entries(tree("t", 123_456_789L, big), true), Compression.none, layer,
        pool, n -> { });
    assertEquals(built.digest(), built.diffId(), "uncompressed: the diffId is the digest");
    List<String> names = new ArrayList<>();
    try (TarArchiveInputStream tar = new TarArchiveInputStream(Files.newInputStream(layer))) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        names.add(e.getName());
        assertEquals(1000, e.getModTime().getTime(), e.getName());
        assertEquals(0, e.getLongUserId());
        assertEquals(0, e.getLongGroupId());
        assertEquals("", e.getUserName());
        assertEquals(e.isDirectory() ? 040755 : 0100644, e.getMode(), e.getName());
        assertTrue(e.getLastAccessTime() == null && e.getCreationTime() == null, "no atime or ctime");
      }
    }
    List<String> expected = new ArrayList<>(names);
    Collections.sort(expected);
    assertEquals(expected, names);
    assertEquals("models/", names.get(0));
    assertTrue(names.contains("models/7b/sub/deeper/"));
    assertTrue(names.stream().anyMatch(n -> n.length() > 100), "a long name survives through PAX");
  }

  @Test
  void anUncompressedLayerSaysWhereEachFilesBytesAre() throws Exception {
    Random random = new Random(7);
    List<LayerBuilder.Entry> entries = new ArrayList<>();
    java.util.Map<String, byte[]> contents = new java.util.HashMap<>();
    // odd sizes (padding), a name long enough for a PAX header, nested directories
    for (String name : List.of("a/odd.bin", "b/" + "long-name-".repeat(12) + ".gguf", "c/d/e.json", "z")) {
      byte[] bytes = new byte[random.nextInt(70_000) + 1];
      random.nextBytes(bytes);
      contents.put(name, bytes);
      entries.add(new LayerBuilder.Entry("/models/" + name, new SourceFile(name.substring(name.lastIndexOf('/') + 1),
          bytes.length, -1, () -> new ByteArrayInputStream(bytes)), -1));
    }
    Path out = dir.resolve("placed.tar");
    LayerBuilder.Built built = LayerBuilder.build(entries, Compression.none, out, pool, n -> { });
    byte[] layer = Files.readAllBytes(out);
    assertEquals(entries.size(), built.placed().size());
    for (LayerBuilder.Placed p : built.placed()) {
      byte[] expected = contents.get(p.path().substring("models/".length()));
      assertEquals(expected.length, p.size(), p.path());
      assertArrayEquals(expected, java.util.Arrays.copyOfRange(layer, (int) p.offset(), (int) (p.offset() + p.size())),
          p.path());
    }
    assertTrue(LayerBuilder.build(entries, Compression.gzip, dir.resolve("placed.tgz"), pool, n -> { }).placed()
        .isEmpty(), "a compressed layer has no addressable files");
  }

  @Test
  void gzipHasAFixedHeaderAndUnpacksToTheSameTar() throws Exception {
    byte[] big = new byte[100_000];
    List<LayerBuilder.Entry> entries = entries(tree("g", 5, big), false);
    LayerBuilder.Built none = LayerBuilder.build(entries, Compression.none, dir.resolve("n.tar"), pool, n -> { });
    LayerBuilder.Built gzip = LayerBuilder.build(entries, Compression.gzip, dir.resolve("g.tgz"), pool, n -> { });
    assertEquals(MediaType.OCI_LAYER_GZIP, gzip.mediaType());
    assertEquals(none.diffId(), gzip.diffId(), "the diffId is the digest of the uncompressed tar");
    assertNotEquals(gzip.digest(), gzip.diffId());
    byte[] header = java.util.Arrays.copyOf(Files.readAllBytes(dir.resolve("g.tgz")), 10);
    // magic, deflate, no flags (so no name), mtime 0, no extra flags, OS 255 (unknown): the JDK's fixed header
    assertArrayEquals(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff}, header);
    try (InputStream in = new GZIPInputStream(Files.newInputStream(dir.resolve("g.tgz")))) {
      assertArrayEquals(Files.readAllBytes(dir.resolve("n.tar")), in.readAllBytes());
    }
  }

  @Test
  void aSourceThatLiesAboutItsSizeFailsTheBuild() {
    SourceFile shortFile = new SourceFile("x", 10, -1, () -> new ByteArrayInputStream(new byte[5]));
    assertThrows(java.io.IOException.class, () -> LayerBuilder.build(List.of(new LayerBuilder.Entry("/x", shortFile,
        -1)), Compression.none, dir.resolve("s"), pool, n -> { }));
    SourceFile longFile = new SourceFile("y", 3, -1, () -> new ByteArrayInputStream(new byte[5]));
    assertThrows(java.io.IOException.class, () -> LayerBuilder.build(List.of(new LayerBuilder.Entry("/y", longFile,
        -1)), Compression.none, dir.resolve("l"), pool, n -> { }));
  }

  @Test
  void conflictingPathsAreRefused() {
    SourceFile f = new SourceFile("x", 1, -1, () -> new ByteArrayInputStream(new byte[1]));
    assertThrows(java.io.IOException.class, () -> LayerBuilder.build(List.of(new LayerBuilder.Entry("/a", f, -1),
        new LayerBuilder.Entry("/a", f, -1)), Compression.none, dir.resolve("c1"), pool, n -> { }));
    assertThrows(java.io.IOException.class, () -> LayerBuilder.build(List.of(new LayerBuilder.Entry("/a", f, -1),
        new LayerBuilder.Entry("/a/b", f, -1)), Compression.none, dir.resolve("c2"), pool, n -> { }));
    assertThrows(java.io.IOException.class, () -> LayerBuilder.build(List.of(new LayerBuilder.Entry("/a/../etc", f,
        -1)), Compression.none, dir.resolve("c3"), pool, n -> { }));
  }

  /**
   * The bytes of a layer never change across jitdi versions (a layer evicted on one node is rebuilt to the digest
   * another node serves, and recipes rebuild to recorded digests): pinned here for files of every kind of header
   * (PAX long and non-ASCII names, sizes around a record, an empty file, modes), in each compression.
   */
  @Test
  void theBytesOfALayerArePinnedAcrossVersions() throws Exception {
    Random random = new Random(42);
    List<LayerBuilder.Entry> entries = new ArrayList<>();
    int[] sizes = {0, 1, 511, 512, 513, 4096, 1 << 20, (1 << 20) + 7};
    for (int i = 0; i < sizes.length; i++) {
      byte[] content = new byte[sizes[i]];
      random.nextBytes(content);
      entries.add(new LayerBuilder.Entry("/m/f" + i + ".bin", file("f" + i + ".bin", content), i % 2 == 0 ? -1
          : 0755));
    }
    entries.add(new LayerBuilder.Entry("/m/" + "long-name-".repeat(15) + "/x.txt", file("x.txt",
        "long".getBytes(StandardCharsets.UTF_8)), -1));
    entries.add(new LayerBuilder.Entry("/m/\u00fcn\u00efc\u00f6de.txt", file("u.txt", "\u00fc".getBytes(
        StandardCharsets.UTF_8)), 0600));
    java.util.Map<Compression, String> pinned = java.util.Map.of(
        Compression.none, "sha256:bb62047dba380aa7173ede552b54daae41148ff29b1603b05abd8c691dfb5cd3",
        Compression.gzip, "sha256:993e3087d22d2ef85012d07d9e39efa1912466d27be3406c295ef8bd1b5acbcc",
        Compression.zstd, "sha256:215920470464f1bbdce5bd44ea7b558d7e520e89e95e81105c8a0bd8d148f537");
    for (Compression c : Compression.values()) {
      Path out = dir.resolve("pinned-" + c);
      LayerBuilder.Built built = LayerBuilder.build(entries, c, out, pool, n -> { });
      assertEquals(Digest.sha256Of(Files.readAllBytes(out)), built.digest());
      assertEquals(pinned.get(c), built.digest().toString(), c.toString());
    }
  }

  /**
   * A layer made as an envelope around one of its files' bytes (a model fetched straight into its layer) is the layer
   * {@code build} writes: the same bytes, every file at the same offset; for names and sizes that take PAX records,
   * sizes around a record, and the file first, last, alone or between others.
   */
  @Test
  void aLayerMadeAroundOneFileIsTheLayerBuiltFromAllOfThem() throws Exception {
    Random random = new Random(5);
    String[] paths = {"/model.gguf", "/models/llama/7b/model.gguf", "/m/" + "long-name-".repeat(15) + "/x.bin",
        "/m/\u00fcn\u00efc\u00f6de.bin"};
    int[] sizes = {0, 1, 511, 512, 513, 70_001};
    List<List<String>> others = List.of(List.of(), List.of("/a/first.json", "/zz/last.txt"),
        List.of("/models/llama/7b/config.json", "/models/llama/7b/tokenizer.model", "/m/" + "long-".repeat(30)));
    int n = 0;
    for (String path : paths) {
      for (int size : sizes) {
        for (List<String> around : others) {
          byte[] content = new byte[size];
          random.nextBytes(content);
          LayerBuilder.Entry inside = new LayerBuilder.Entry(path, file("f", content), size % 2 == 0 ? -1 : 0600);
          List<LayerBuilder.Entry> entries = new ArrayList<>(List.of(inside));
          for (String other : around) {
            byte[] small = new byte[random.nextInt(1500)];
            random.nextBytes(small);
            entries.add(new LayerBuilder.Entry(other, file("o", small), -1));
          }
          Collections.shuffle(entries, random);
          Path out = dir.resolve("around-" + n++);
          LayerBuilder.Built built = LayerBuilder.build(entries, Compression.none, out, pool, x -> { });
          LayerBuilder.Enveloped made = LayerBuilder.envelope(entries, inside);
          java.io.ByteArrayOutputStream enveloped = new java.io.ByteArrayOutputStream();
          enveloped.write(made.envelope().head());
          enveloped.write(content);
          enveloped.write(made.envelope().tail());
          String what = path + " of " + size + " bytes among " + around;
          assertArrayEquals(Files.readAllBytes(out), enveloped.toByteArray(), what);
          assertEquals(built.size(), made.envelope().size(), what);
          assertEquals(built.placed(), made.placed(), what);
          assertEquals(built.placed().stream().filter(p -> p.path().equals(path.substring(1))).findFirst()
              .orElseThrow().offset(), made.envelope().blobOffset(), what);
        }
      }
    }
  }

  /** The header of a file of 8 GiB or more carries its size in a PAX record, in an envelope as in a built layer. */
  @Test
  void anEnvelopeOfAFileOfEightGibOrMoreSaysItsSizeInAPaxRecord() throws Exception {
    long size = 8L * 1024 * 1024 * 1024 + 3;
    LayerBuilder.Entry entry = new LayerBuilder.Entry("/model.gguf", new SourceFile("model.gguf", size, -1,
        () -> InputStream.nullInputStream()), -1);
    io.jitdi.stream.Envelope envelope = LayerBuilder.envelope(List.of(entry), entry).envelope();
    try (TarArchiveInputStream tar = new TarArchiveInputStream(new ByteArrayInputStream(envelope.head()))) {
      TarArchiveEntry read = tar.getNextTarEntry();
      assertEquals("model.gguf", read.getName());
      assertEquals(size, read.getSize());
    }
    assertEquals(509 + 1024, envelope.tail().length, "the content's padding, then the archive's two end records");
  }

  private static SourceFile file(String name, byte[] content) {
    return new SourceFile(name, content.length, -1, () -> new ByteArrayInputStream(content));
  }
}
