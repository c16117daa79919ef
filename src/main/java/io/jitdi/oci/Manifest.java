package io.jitdi.oci;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A manifest or index as the exact bytes a registry served, with its media type and digest.
 *
 * <p>The bytes are never re-serialized: a digest is the sha256 of the exact bytes, so changing one space would change
 * the identity of the image. Size is capped at {@link #MAX_BYTES} (4 MiB), the limit registries apply.
 *
 * <p>Example ({@code application/vnd.oci.image.manifest.v1+json}):
 * <pre>{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 *  "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:...","size":123},
 *  "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:...","size":456}]}</pre>
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/manifest.md">image manifest</a>
 */
public final class Manifest {
  public static final int MAX_BYTES = 4 * 1024 * 1024;
  static final ObjectMapper JSON = JsonMapper.builder()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .build();

  static {
    JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build());
  }

  private final byte[] bytes;
  private volatile JsonNode parsed;
  private final MediaType mediaType;
  private final Digest digest;

  private Manifest(byte[] bytes, MediaType mediaType, Digest digest) {
    this.bytes = bytes;
    this.mediaType = mediaType;
    this.digest = digest;
  }

  /** A manifest whose type and digest are already known (read back from jitdi's own store). */
  public static Manifest trusted(byte[] bytes, MediaType mediaType, Digest digest) {
    return new Manifest(bytes, mediaType, digest);
  }

  /**
   * Checks that {@code bytes} are a JSON manifest and works out its media type: the body's {@code mediaType} field
   * wins, then a manifest type in {@code declaredType} (the Content-Type it came with), then the shape of the JSON.
   *
   * @throws IllegalArgumentException saying why the bytes are not a manifest
   */
  public static Manifest parse(byte[] bytes, String declaredType) {
    if (bytes.length > MAX_BYTES) {
      throw new IllegalArgumentException("manifest is " + bytes.length + " bytes, over the 4 MiB limit");
    }
    JsonNode root;
    try {
      root = JSON.readTree(bytes);
    } catch (IOException e) {
      throw new IllegalArgumentException("manifest is not valid JSON: " + firstLine(e.getMessage()));
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException("manifest is not a JSON object");
    }
    JsonNode schemaVersion = root.get("schemaVersion");
    if (schemaVersion == null || !schemaVersion.isInt()) {
      throw new IllegalArgumentException("manifest has no integer schemaVersion");
    }
    MediaType type = typeOf(root, schemaVersion.intValue(), declaredType);
    return new Manifest(bytes.clone(), type, Digest.sha256Of(bytes));
  }

  private static MediaType typeOf(JsonNode root, int schemaVersion, String declaredType) {
    JsonNode field = root.get("mediaType");
    if (field != null && field.isTextual()) {
      MediaType fromBody = MediaType.parse(field.textValue())
          .orElseThrow(() -> new IllegalArgumentException("manifest mediaType is not a media type"));
      if (!fromBody.isManifest()) {
        throw new IllegalArgumentException("manifest mediaType " + fromBody + " is not a manifest type");
      }
      return fromBody;
    }
    Optional<MediaType> declared = MediaType.parse(declaredType).filter(MediaType::isManifest);
    if (declared.isPresent()) {
      return declared.get();
    }
    if (schemaVersion == 1) {
      return root.has("signatures") ? MediaType.DOCKER_SCHEMA1_SIGNED : MediaType.DOCKER_SCHEMA1;
    }
    if (root.has("manifests")) {
      return MediaType.OCI_INDEX;
    }
    if (root.has("config") || root.has("layers")) {
      return MediaType.OCI_MANIFEST;
    }
    throw new IllegalArgumentException("cannot tell the manifest's media type");
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  /**
   * The manifests an index lists; empty for an image manifest.
   *
   * @throws RegistryException {@link ErrorCode#MANIFEST_INVALID} when a descriptor is malformed
   */
  public List<Descriptor> children() {
    return descriptors("manifests");
  }

  /** An image manifest's config descriptor; empty for an index (or a schema 1 manifest). */
  public Optional<Descriptor> config() {
    return descriptors("config").stream().findFirst();
  }

  /** An image manifest's layers, in order; empty for an index. */
  public List<Descriptor> layers() {
    return descriptors("layers");
  }

  /** An image manifest's config and layers, config first; empty for an index. */
  public List<Descriptor> blobs() {
    List<Descriptor> out = new ArrayList<>(descriptors("config"));
    out.addAll(descriptors("layers"));
    return out;
  }

  /** The parsed JSON of the exact bytes, read once; callers must not modify it. */
  public JsonNode json() {
    JsonNode root = parsed;
    if (root == null) {
      try {
        root = JSON.readTree(bytes);
      } catch (IOException e) {
        throw new IllegalStateException("manifest " + digest + " is not JSON", e);
      }
      parsed = root;
    }
    return root;
  }

  /** The descriptor or array of descriptors under {@code field}, as a list. */
  private List<Descriptor> descriptors(String field) {
    JsonNode node = json().get(field);
    if (node == null || node.isNull()) {
      return List.of();
    }
    List<Descriptor> out = new ArrayList<>();
    if (node.isArray()) {
      node.forEach(d -> out.add(Descriptor.of(d)));
    } else {
      out.add(Descriptor.of(node));
    }
    return out;
  }

  /** A copy of the exact bytes. */
  public byte[] bytes() {
    return bytes.clone();
  }

  /** The exact bytes, not copied; callers must not modify them. */
  public byte[] bytesUnsafe() {
    return bytes;
  }

  public int size() {
    return bytes.length;
  }

  public MediaType mediaType() {
    return mediaType;
  }

  public Digest digest() {
    return digest;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Manifest m && m.digest.equals(digest) && Arrays.equals(m.bytes, bytes);
  }

  @Override
  public int hashCode() {
    return digest.hashCode();
  }
}
