package io.jitdi.cache;

import io.jitdi.cache.BlobStore.TempBlob;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jitdi.oci.Descriptor;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ImageReference;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.MediaType;
import io.jitdi.oci.RegistryException;
import io.jitdi.stream.DigestingFileSink;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Moves images between the cache and OCI image layouts (a directory, or an {@code oci-archive} tar of one), for nodes
 * without a network: {@code skopeo copy docker://X oci:DIR:X} on a connected machine, {@code jitdi cache import DIR}
 * on the node. Runs against a stopped cache (the index allows one process at a time).
 *
 * <p>Contract: each image in the layout's {@code index.json} is named by its {@code org.opencontainers.image.ref.name}
 * annotation, which must be a full reference ({@code docker.io/library/busybox:latest}) whose registry is a configured
 * upstream. Everything is checked before anything is written: the names, that every blob the images refer to is
 * there, that every manifest parses, and that the bytes fit in {@code cache.maxSize}. Blobs are then hashed as they are
 * copied into {@code tmp/} and renamed into place; a blob whose bytes do not match its name fails the import, and what
 * was already imported stays (it is verified). Imported tags are answered like a cached tag fetched at import time:
 * fresh for {@code cache.manifestTtl}, then revalidated upstream, and served as they are when the upstream cannot be
 * reached. Nothing is written outside the cache directory, except the layout an export is asked to write.
 */
public final class OciLayoutTransfer {
  public static final String REF_NAME = "org.opencontainers.image.ref.name";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern BLOB_PATH = Pattern.compile("blobs/sha256/[a-f0-9]{64}");

  /** One image of a layout: its name and its top manifest. */
  public record Entry(ImageReference name, Digest digest, MediaType mediaType, long size) {}

  /** What an import or export moved. */
  public record Report(List<Entry> images, int blobs, long bytes, int manifests) {}

  private final CacheLayout cache;
  private final MetadataStore index;
  private final BlobStore store;
  private final Set<String> registries;
  private final long maxSize;
  private final Clock clock;

  /** Made by {@link CacheDirectory#transfer}. */
  OciLayoutTransfer(CacheLayout cache, MetadataStore index, BlobStore store, Set<String> registries, long maxSize,
      Clock clock) {
    this.cache = cache;
    this.index = index;
    this.store = store;
    this.registries = registries;
    this.maxSize = maxSize;
    this.clock = clock;
  }

  /**
   * Imports every named image of {@code source}, an OCI layout directory or an {@code oci-archive} tar.
   *
   * @throws IOException naming what is wrong with the layout, or when the cache cannot be written
   */
  public Report importFrom(Path source) throws IOException {
    if (Files.isDirectory(source)) {
      return importDirectory(source, false);
    }
    if (!Files.isRegularFile(source)) {
      throw new IOException(source + " is neither an OCI layout directory nor an oci-archive tar");
    }
    Path unpacked = cache.tmpDir().resolve("import-" + System.nanoTime());
    try {
      untar(source, unpacked);
      return importDirectory(unpacked, true);
    } finally {
      CacheLayout.deleteTree(unpacked);
    }
  }

  private Report importDirectory(Path layout, boolean moveBlobs) throws IOException {
    JsonNode top = readLayoutIndex(layout);
    List<Entry> images = new ArrayList<>();
    Map<Digest, Manifest> manifests = new LinkedHashMap<>();
    Set<Digest> blobs = new LinkedHashSet<>();
    for (JsonNode d : top.path("manifests")) {
      String ref = d.path("annotations").path(REF_NAME).asText("");
      ImageReference name = parseName(layout, ref);
      Digest digest;
      try {
        digest = sha256Only(layout, Descriptor.of(d).digest());
      } catch (RegistryException e) {
        throw new IOException(layout + "/index.json: " + e.getMessage());
      }
      if (name.reference().isDigest()) {
        throw new IOException(layout + "/index.json: " + REF_NAME + " \"" + ref + "\" names a digest; name the image "
            + "by tag");
      }
      Manifest manifest = walk(layout, digest, d.path("mediaType").asText(""), manifests, blobs);
      images.add(new Entry(name, digest, manifest.mediaType(), manifest.size()));
    }
    if (images.isEmpty()) {
      throw new IOException(layout + "/index.json lists no images");
    }
    long incoming = 0;
    for (Digest b : blobs) {
      Path file = blobFile(layout, b);
      if (!Files.isRegularFile(file)) {
        throw new IOException(layout + " is incomplete: " + b + " is referred to but blobs/sha256/" + b.hex()
            + " is missing");
      }
      if (index.blob(b).isEmpty()) {
        incoming += Files.size(file);
      }
    }
    long[] committed = {0};
    index.forEachBlob((digest, record) -> committed[0] += record.size());
    if (committed[0] + incoming > maxSize) {
      throw new IOException("the import needs " + incoming + " more bytes but cache.maxSize is " + maxSize + " with "
          + committed[0] + " in use; raise cache.maxSize or import fewer images");
    }

    int copied = 0;
    long bytes = 0;
    for (Digest b : blobs) {
      if (index.blob(b).isPresent() && Files.exists(cache.blob(b))) {
        continue;
      }
      bytes += storeBlob(blobFile(layout, b), b, moveBlobs);
      copied++;
    }
    for (Manifest m : manifests.values()) {
      index.putManifest(m);
    }
    long now = clock.millis();
    for (Entry e : images) {
      index.putTag(TagKey.imported(e.name().registry(), e.name().repository(),
          e.name().reference().tag().orElseThrow()).encoded(), new TagRecord(e.digest(), e.mediaType(), e.size(), now));
    }
    return new Report(images, copied, bytes, manifests.size());
  }

  private ImageReference parseName(Path layout, String ref) throws IOException {
    if (ref.isEmpty() || ref.indexOf('/') < 0) {
      throw new IOException(layout + "/index.json: an image is named \"" + ref + "\"; " + REF_NAME + " must be the "
          + "full reference, e.g. skopeo copy docker://docker.io/library/busybox:latest oci:DIR:docker.io/library/"
          + "busybox:latest");
    }
    ImageReference name;
    try {
      name = ImageReference.parse(ref);
    } catch (RegistryException e) {
      throw new IOException(layout + "/index.json: " + REF_NAME + " \"" + ref + "\": " + e.getMessage());
    }
    if (!registries.contains(name.registry())) {
      throw new IOException(layout + "/index.json: " + ref + " is from " + name.registry() + ", which is not in "
          + "upstreams (" + String.join(", ", registries) + "); add it to the config to serve its images");
    }
    return name;
  }

  /** Reads and checks {@code digest} as a manifest, collecting it and every blob and manifest it refers to. */
  private Manifest walk(Path layout, Digest digest, String mediaType, Map<Digest, Manifest> manifests,
      Set<Digest> blobs) throws IOException {
    Manifest known = manifests.get(digest);
    if (known != null) {
      return known;
    }
    Path file = blobFile(layout, digest);
    if (!Files.isRegularFile(file) || Files.size(file) > Manifest.MAX_BYTES) {
      throw new IOException(layout + " is incomplete or wrong: manifest " + digest + " is missing or too big");
    }
    byte[] bytes = Files.readAllBytes(file);
    Manifest manifest;
    try {
      manifest = Manifest.parse(bytes, mediaType);
    } catch (IllegalArgumentException e) {
      throw new IOException(layout + ": blob " + digest + " is not a manifest: " + e.getMessage());
    }
    if (!manifest.digest().equals(digest)) {
      throw new IOException(layout + ": blobs/sha256/" + digest.hex() + " hashes to " + manifest.digest());
    }
    manifests.put(digest, manifest);
    List<Descriptor> children;
    List<Descriptor> parts;
    try {
      children = manifest.children();
      parts = manifest.blobs();
    } catch (RegistryException e) {
      throw new IOException(layout + ": manifest " + digest + " has a bad descriptor: " + e.getMessage());
    }
    for (Descriptor child : children) {
      Digest d = sha256Only(layout, child.digest());
      // an exported index keeps naming the platforms the exporting node never pulled; they are not in the layout
      if (Files.isRegularFile(blobFile(layout, d))) {
        walk(layout, d, child.mediaType(), manifests, blobs);
      }
    }
    for (Descriptor blob : parts) {
      blobs.add(sha256Only(layout, blob.digest()));
    }
    return manifest;
  }

  private static Digest sha256Only(Path layout, Digest d) throws IOException {
    if (!d.algorithm().equals("sha256")) {
      throw new IOException(layout + ": only sha256 digests are supported, not " + d);
    }
    return d;
  }

  private static JsonNode readLayoutIndex(Path layout) throws IOException {
    Path marker = layout.resolve("oci-layout");
    if (!Files.isRegularFile(marker)) {
      throw new IOException(layout + " is not an OCI image layout (no oci-layout file); write one with skopeo copy "
          + "... oci:" + layout + ":NAME");
    }
    JsonNode version = JSON.readTree(marker.toFile()).path("imageLayoutVersion");
    if (!version.asText("").startsWith("1.")) {
      throw new IOException(marker + ": imageLayoutVersion " + version + " is not supported (1.x is)");
    }
    return JSON.readTree(layout.resolve("index.json").toFile());
  }

  private static Path blobFile(Path layout, Digest digest) {
    return layout.resolve("blobs").resolve("sha256").resolve(digest.hex());
  }

  /**
   * Copies (or, from an unpacked archive, moves) one blob into the cache through a {@link TempBlob}: verified against
   * its digest, then committed. Returns its size.
   */
  private long storeBlob(Path from, Digest digest, boolean move) throws IOException {
    MessageDigest sha256 = Digest.newSha256();
    long size = 0;
    try (TempBlob temp = move ? store.adoptTemp(from) : store.newTemp()) {
      ByteBuffer buffer = ByteBuffer.allocate(1 << 20);
      try (FileChannel in = move ? null : FileChannel.open(from, StandardOpenOption.READ)) {
        FileChannel source = move ? temp.channel() : in;
        long at = 0;
        int n;
        while ((n = source.read(buffer, at)) >= 0) {
          buffer.flip();
          sha256.update(buffer.duplicate());
          if (!move) {
            while (buffer.hasRemaining()) {
              temp.channel().write(buffer);
            }
          }
          buffer.clear();
          at += n;
        }
        size = at;
      }
      try {
        temp.commit(digest, -1, new DigestingFileSink.Written(Digest.ofSha256Bytes(sha256.digest()), size));
      } catch (TempBlob.MismatchException e) {
        throw new IOException(from + " should hold " + digest + " but hashes to " + e.actual().digest()
            + "; the layout is damaged");
      }
    }
    return size;
  }

  /** Unpacks an oci-archive into {@code into} (under the cache's tmp/), refusing any other path than a layout's. */
  private static void untar(Path archive, Path into) throws IOException {
    Files.createDirectories(into.resolve("blobs/sha256"));
    try (TarArchiveInputStream tar = new TarArchiveInputStream(Files.newInputStream(archive))) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        String name = e.getName().startsWith("./") ? e.getName().substring(2) : e.getName();
        if (e.isDirectory() || name.isEmpty()) {
          continue;
        }
        if (!(name.equals("oci-layout") || name.equals("index.json") || BLOB_PATH.matcher(name).matches())
            || !e.isFile()) {
          throw new IOException(archive + ": \"" + e.getName() + "\" has no place in an OCI layout");
        }
        Files.copy(tar, into.resolve(name), StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IllegalArgumentException e) {
      throw new IOException(archive + " is not a tar: " + e.getMessage());
    }
  }


  /**
   * Writes {@code names} (full references) from the cache into an OCI layout at {@code target} (created if needed;
   * images already in it stay). A name's manifest is the newest cached answer for that tag.
   *
   * @throws IOException naming an image that is not cached (whole or in part)
   */
  public Report exportTo(List<String> names, Path target) throws IOException {
    List<Entry> images = new ArrayList<>();
    Map<Digest, Manifest> manifests = new LinkedHashMap<>();
    Set<Digest> blobs = new LinkedHashSet<>();
    for (String text : names) {
      ImageReference name;
      try {
        name = ImageReference.parse(text);
      } catch (RegistryException e) {
        throw new IOException("\"" + text + "\" is not an image reference: " + e.getMessage());
      }
      if (name.reference().isDigest()) {
        throw new IOException("\"" + text + "\" names a digest; export images by tag (NAME:TAG)");
      }
      TagRecord record = cachedTag(name).orElseThrow(() -> new IOException(name + " is not in the cache; pull it "
          + "through jitdi first"));
      Manifest manifest = cachedWalk(name, record.digest(), manifests, blobs);
      images.add(new Entry(name, record.digest(), manifest.mediaType(), manifest.size()));
    }
    Path blobDir = Files.createDirectories(target.resolve("blobs/sha256"));
    Files.writeString(target.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    long bytes = 0;
    for (Manifest m : manifests.values()) {
      Files.write(blobDir.resolve(m.digest().hex()), m.bytesUnsafe());
    }
    for (Digest b : blobs) {
      Path to = blobDir.resolve(b.hex());
      if (!Files.exists(to)) {
        Path tmp = blobDir.resolve("." + b.hex() + ".tmp");
        Files.copy(cache.blob(b), tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, to, StandardCopyOption.ATOMIC_MOVE);
      }
      bytes += Files.size(to);
    }
    ObjectNode top = JSON.createObjectNode().put("schemaVersion", 2)
        .put("mediaType", MediaType.OCI_INDEX.value());
    ArrayNode list = top.putArray("manifests");
    Path existing = target.resolve("index.json");
    Set<String> written = new LinkedHashSet<>();
    for (Entry e : images) {
      written.add(e.name().toString());
      ObjectNode d = list.addObject().put("mediaType", e.mediaType().value()).put("digest", e.digest().toString())
          .put("size", e.size());
      d.putObject("annotations").put(REF_NAME, e.name().toString());
    }
    if (Files.exists(existing)) {
      for (JsonNode old : JSON.readTree(existing.toFile()).path("manifests")) {
        if (!written.contains(old.path("annotations").path(REF_NAME).asText(""))) {
          list.add(old);
        }
      }
    }
    Path tmpIndex = target.resolve(".index.json.tmp");
    Files.write(tmpIndex, JSON.writeValueAsBytes(top));
    Files.move(tmpIndex, existing, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return new Report(images, blobs.size(), bytes, manifests.size());
  }

  /** The newest cached answer for a tag: a cached answer for any Accept set, or an imported one. */
  private Optional<TagRecord> cachedTag(ImageReference name) {
    TagKey imported = TagKey.imported(name.registry(), name.repository(), name.reference().tag().orElseThrow());
    TagRecord[] newest = {index.tag(imported.encoded()).orElse(null)};
    index.forEachTag((key, record) -> {
      if (imported.sameTag(key) && (newest[0] == null || record.fetchedAt() > newest[0].fetchedAt())) {
        newest[0] = record;
      }
    });
    return Optional.ofNullable(newest[0]);
  }

  private Manifest cachedWalk(ImageReference name, Digest digest, Map<Digest, Manifest> manifests, Set<Digest> blobs)
      throws IOException {
    Manifest known = manifests.get(digest);
    if (known != null) {
      return known;
    }
    Manifest manifest = index.manifest(digest).orElseThrow(() -> new IOException(name + ": manifest " + digest
        + " is not in the cache; pull the image through jitdi first"));
    manifests.put(digest, manifest);
    for (Descriptor child : manifest.children()) {
      Digest d = child.digest();
      if (index.manifest(d).isPresent()) {
        cachedWalk(name, d, manifests, blobs);
      }
      // platforms never pulled through this node are left out: the exported index still names them
    }
    for (Descriptor r : manifest.blobs()) {
      Digest d = r.digest();
      if (index.blob(d).isEmpty() || !Files.exists(cache.blob(d))) {
        throw new IOException(name + ": blob " + d + " is not in the cache (evicted, or never pulled); pull the "
            + "image through jitdi again");
      }
      blobs.add(d);
    }
    return manifest;
  }
}
