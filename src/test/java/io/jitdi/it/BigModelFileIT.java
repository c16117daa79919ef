package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model file of 8 GiB and more, past what the 11 octal digits of a tar header's size field hold, so that its size
 * travels in a PAX record: GNU tar, skopeo and containerd read the JIT layer back with the file's size and sha256.
 *
 * <p>The source is a sparse file of 8 GiB + 4097 bytes, with 1 MiB of random bytes at the start, across 2 GiB and
 * 4 GiB (int and unsigned-int offsets), and across 8 GiB up to the last byte: a block misplaced or cut anywhere
 * changes the sha256. The source costs a few MiB of disk; the readers' copies are real. jitdi's layer plus one
 * reader's copy at a time are on disk (about 17 GB at the peak), and every copy is removed after its step, and in
 * {@link #stop()} whatever happened.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class) // containerd last only saves a build: each test stands alone
class BigModelFileIT {
  static final long SIZE = (8L << 30) + 4097;
  /** Two copies of the layer at the peak, and room to spare. */
  static final long NEEDS_FREE = 19_000_000_000L;
  static final int BLOCK = 1 << 20;
  static final long[] BLOCKS = {0, (2L << 30) - 4321, (4L << 30) - 54321, SIZE - BLOCK};
  static final String IMAGE = "jit.local/big/model.gguf:v1";
  static final String FILE = "models/model.gguf";
  static final String ACCEPT = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static Path models;
  static Jitdi jitdi;
  static Containerd containerd;
  static Digest expected;
  static Digest layer;
  static long layerSize;

  @BeforeAll
  static void start() throws Exception {
    long free = Files.getFileStore(dir).getUsableSpace();
    assertTrue(free > NEEDS_FREE, "BigModelFileIT needs " + NEEDS_FREE / 1_000_000_000 + " GB free under " + dir
        + " (two copies of an 8.6 GB layer); there are " + free / 1_000_000_000 + " GB: free some disk first");
    models = dir.resolve("models");
    Files.createDirectories(models);
    Path source = models.resolve("model.gguf");
    try (RandomAccessFile file = new RandomAccessFile(source.toFile(), "rw")) {
      file.setLength(SIZE);
      SplittableRandom random = new SplittableRandom(8);
      byte[] block = new byte[BLOCK];
      for (long offset : BLOCKS) {
        random.nextBytes(block);
        file.seek(offset);
        file.write(block);
      }
    }
    assertEquals(SIZE, Files.size(source));
    jitdi = Jitdi.start(dir.resolve("jitdi"), """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 12GiB}
        upstreams:
          docker.io: {url: "%1$s"}
        jit:
          fileRoots: [%2$s]
        images:
          - name: big
            match: "big/{file}:{tag}"
            registry: jit.local
            files: [{source: "%2$s/{file}", destination: /models/}]
        """.formatted(Ports.deadEnd(), models));
    // the build (8 GiB read, tarred, hashed and written) runs while the test hashes the source
    assertEquals(202, Http.post(jitdi.url() + "/_jitdi/prefetch?image=" + IMAGE).status());
    try (FileChannel in = FileChannel.open(source)) {
      expected = sha256(in);
    }
    JsonObject last = JitIT.lastLayer(manifest());
    layer = Digest.parse(last.getString("digest"));
    layerSize = last.getLong("size");
    assertEquals("application/vnd.oci.image.layer.v1.tar", last.getString("mediaType"));
  }

  @AfterAll
  static void stop() {
    if (containerd != null && Files.exists(mountPoint())) {
      containerd.exec("images", "unmount", "--rm", mountPoint().toString());
    }
    Tools.closeAll(containerd, jitdi); // containerd's close unmounts whatever is left under its directory
    // the copies are removed even when a test failed (the logs stay with the temp dir then)
    for (String big : List.of("models", "jitdi/cache", "skopeo", "ctrd/root", "ctrd/mnt")) {
      try {
        deleteTree(dir.resolve(big));
      } catch (UncheckedIOException e) {
        System.err.println(e + ": " + e.getCause());
      }
    }
  }

  /** The amd64 manifest of {@link #IMAGE}, once its build is done. */
  static JsonObject manifest() {
    String url = jitdi.url() + "/v2/big/model.gguf/manifests/v1?ns=jit.local";
    Http.Text index = Http.get(url, Map.of("Accept", ACCEPT));
    long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    while (index.status() == 429 && System.nanoTime() < deadline) {
      Proc.sleep(500);
      index = Http.get(url, Map.of("Accept", ACCEPT));
    }
    assertEquals(200, index.status(), index.body());
    String amd64 = new JsonObject(index.body()).getJsonArray("manifests").getJsonObject(0).getString("digest");
    Http.Text manifest = Http.get(jitdi.url() + "/v2/big/model.gguf/manifests/" + amd64 + "?ns=jit.local",
        Map.of("Accept", ACCEPT));
    assertEquals(200, manifest.status(), manifest.body());
    return new JsonObject(manifest.body());
  }

  /** Where containerd mounts the image: under its own directory, which its close() unmounts. */
  static Path mountPoint() {
    return dir.resolve("ctrd/mnt");
  }

  /**
   * Waits for the image to be built (again, if a test emptied jitdi's cache) and returns the URL of its layer, which
   * is the same layer, bytes and digest, as the first build's.
   */
  static String builtLayer() {
    assertEquals(layer.toString(), JitIT.lastLayer(manifest()).getString("digest"), "the same layer");
    return blobUrl();
  }

  static String blobUrl() {
    return jitdi.url() + "/v2/big/model.gguf/blobs/" + layer + "?ns=jit.local";
  }

  @Test
  @Order(1)
  void gnuTarReadsTheSizeFromThePaxRecordAndTheFileHasTheSourcesSha256() throws Exception {
    String url = builtLayer();
    Http.Bytes head = Http.getBytes(url, Map.of("Range", "bytes=0-4095"));
    assertEquals(206, head.status());
    assertTrue(new String(head.body(), StandardCharsets.ISO_8859_1).contains(" size=" + SIZE + "\n"),
        "the layer's headers carry a PAX size record");
    Path listing = dir.resolve("tar.listing");
    Path errors = dir.resolve("curl.err");
    // curl streams the layer from jitdi into tar, which writes the file to stdout and its listing to stderr
    Process p = new ProcessBuilder("bash", "-c", "set -o pipefail; curl -sSf '" + url + "' 2>" + errors
        + " | tar -xvvO -f - " + FILE + " 2>" + listing).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    Digest extracted;
    long[] count = {0};
    try (InputStream out = p.getInputStream()) {
      extracted = sha256(out, count);
    }
    assertEquals(0, p.waitFor(), "curl | tar: " + Files.readString(errors) + Files.readString(listing));
    String line = Files.readString(listing).strip();
    assertTrue(line.matches("-rw-r--r-- 0/0 +" + SIZE + " .* " + FILE), "tar lists the file with its size: " + line);
    assertEquals(SIZE, count[0], "bytes tar extracted");
    assertEquals(expected, extracted, "sha256 of the file tar extracted");
  }

  @Test
  @Order(2)
  void aRangePast8GiBAnswersTheFilesBytesThere() throws Exception {
    String url = builtLayer();
    // the layer ends with the file, its padding to 512 bytes, and two zero records
    long end = layerSize - 1024 - (512 - SIZE % 512) % 512;
    Http.Bytes tail = Http.getBytes(url, Map.of("Range", "bytes=" + (end - BLOCK) + "-" + (end - 1)));
    assertEquals(206, tail.status());
    assertEquals("bytes " + (end - BLOCK) + "-" + (end - 1) + "/" + layerSize,
        tail.headers().firstValue("Content-Range").orElse(null));
    byte[] source = new byte[BLOCK];
    try (RandomAccessFile file = new RandomAccessFile(models.resolve("model.gguf").toFile(), "r")) {
      file.seek(SIZE - BLOCK);
      file.readFully(source);
    }
    assertArrayEquals(source, tail.body(), "the last MiB of the file, at offset " + (end - BLOCK) + " of the layer");
  }

  @Test
  @Order(3)
  void skopeoCopiesTheLayerWithTheManifestsDigestAndSize() throws Exception {
    builtLayer();
    Path copy = dir.resolve("skopeo");
    try {
      Proc.run(Duration.ofMinutes(5), List.of("skopeo", "copy", "--src-tls-verify=false",
          "docker://" + jitdi.hostPort() + "/" + IMAGE, "dir:" + copy));
      JsonObject copied = new JsonObject(Files.readString(copy.resolve("manifest.json")));
      JsonObject last = JitIT.lastLayer(copied);
      assertEquals(layer.toString(), last.getString("digest"), "skopeo kept the layer as it is");
      Path blob = copy.resolve(layer.hex());
      assertEquals(last.getLong("size"), Files.size(blob), "the copied layer's size is the manifest's");
      try (FileChannel in = FileChannel.open(blob)) {
        assertEquals(layer, sha256(in), "the copied layer's sha256 is the manifest's digest");
      }
    } finally {
      deleteTree(copy);
    }
  }

  @Test
  @Order(4)
  void containerdUnpacksTheFileWithItsSizeAndSha256() throws Exception {
    containerd = Containerd.start(dir.resolve("ctrd"));
    containerd.mirror("jit.local", jitdi.url(), Ports.deadEnd());
    builtLayer();
    long served = wholeLayersServed();
    containerd.check(containerd.exec("content", "fetch", "--hosts-dir", containerd.certsDir().toString(), IMAGE),
        "content fetch " + IMAGE);
    String content = containerd.check(containerd.exec("content", "ls", "-q"), "content ls");
    assertTrue(content.lines().anyMatch(layer.toString()::equals), "containerd holds the layer, verified: " + content);
    assertEquals(served + 1, wholeLayersServed(), "containerd fetched the whole layer from jitdi");
    // a pull is a fetch and then an unpack; in between, jitdi's copy goes, so that two copies are on disk at most
    // (jitdi starts again on an empty cache: a test after this one builds the layer again)
    jitdi.stop();
    deleteTree(jitdi.cacheDir());
    jitdi.startAgain();
    Path mnt = mountPoint();
    Files.createDirectories(mnt);
    containerd.check(containerd.exec("images", "mount", IMAGE, mnt.toString()), "images mount " + IMAGE);
    try {
      Path file = mnt.resolve(FILE);
      assertEquals(SIZE, Files.size(file), "size of the unpacked file");
      try (FileChannel in = FileChannel.open(file)) {
        assertEquals(expected, sha256(in), "sha256 of the unpacked file");
      }
    } finally {
      containerd.check(containerd.exec("images", "unmount", "--rm", mnt.toString()), "images unmount");
    }
    containerd.remove(IMAGE);
  }

  /** How many times jitdi's access log says it sent the whole layer. */
  static long wholeLayersServed() {
    return jitdi.log().lines().filter(l -> l.contains(" GET /v2/{name}/blobs/{digest} 200 bytes=" + layerSize + " "))
        .count();
  }

  static Digest sha256(FileChannel in) throws IOException {
    MessageDigest sha256 = Digest.newSha256();
    ByteBuffer buffer = ByteBuffer.allocateDirect(BLOCK);
    while (in.read(buffer) >= 0) {
      buffer.flip();
      sha256.update(buffer);
      buffer.clear();
    }
    return Digest.ofSha256Bytes(sha256.digest());
  }

  static Digest sha256(InputStream in, long[] count) throws IOException {
    MessageDigest sha256 = Digest.newSha256();
    byte[] buffer = new byte[BLOCK];
    int n;
    while ((n = in.read(buffer)) >= 0) {
      sha256.update(buffer, 0, n);
      count[0] += n;
    }
    return Digest.ofSha256Bytes(sha256.digest());
  }

  static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + root, e);
    }
  }
}
