package io.jitdi.it;

import com.github.luben.zstd.ZstdOutputStream;
import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/** Model artifacts as their tools push them: Ollama models, CNCF ModelPack models and KitOps ModelKits. */
public final class ModelArtifacts {
  public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

  /** A layer to push: media type, content, annotations (may be empty). */
  public record Layer(String mediaType, byte[] content, Map<String, String> annotations) {
    public Layer(String mediaType, byte[] content) {
      this(mediaType, content, Map.of());
    }
  }

  /** What was pushed: the manifest's exact bytes and digest, and every blob by digest. */
  public record Pushed(byte[] manifest, Digest digest, Map<Digest, byte[]> blobs) {}

  private ModelArtifacts() {}

  /** A file that starts like GGUF v3 (magic, version) followed by seeded random bytes. */
  public static byte[] gguf(int size, long seed) {
    byte[] bytes = Images.randomBytes(size, seed);
    byte[] head = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
    System.arraycopy(head, 0, bytes, 0, head.length);
    return bytes;
  }

  /** An Ollama model as registry.ollama.ai serves one: a docker v2 manifest with Ollama layer types. */
  public static Pushed pushOllama(DockerRegistry registry, String repo, String tag, byte[] model, String template,
      String params) {
    byte[] config = new JsonObject().put("model_format", "gguf").put("model_family", "llama")
        .put("model_families", new JsonArray().add("llama")).put("model_type", "1B").put("file_type", "Q4_K_M")
        .put("architecture", "amd64").put("os", "linux").put("rootfs", new JsonObject().put("type", "layers")
            .put("diff_ids", new JsonArray())).encode().getBytes(StandardCharsets.UTF_8);
    return push(registry, repo, tag, DOCKER_MANIFEST, null, "application/vnd.docker.container.image.v1+json", config,
        List.of(new Layer("application/vnd.ollama.image.model", model),
            new Layer("application/vnd.ollama.image.template", template.getBytes(StandardCharsets.UTF_8)),
            new Layer("application/vnd.ollama.image.params", params.getBytes(StandardCharsets.UTF_8))));
  }

  /** Pushes the blobs and then the manifest; {@code artifactType} may be null. */
  public static Pushed push(DockerRegistry registry, String repo, String tag, String manifestType,
      String artifactType, String configType, byte[] config, List<Layer> layers) {
    Map<Digest, byte[]> blobs = new LinkedHashMap<>();
    Digest configDigest = registry.pushBlob(repo, config);
    blobs.put(configDigest, config);
    JsonObject manifest = new JsonObject().put("schemaVersion", 2).put("mediaType", manifestType);
    if (artifactType != null) {
      manifest.put("artifactType", artifactType);
    }
    manifest.put("config", new JsonObject().put("mediaType", configType).put("digest", configDigest.toString())
        .put("size", config.length));
    JsonArray descriptors = new JsonArray();
    for (Layer l : layers) {
      Digest d = registry.pushBlob(repo, l.content());
      blobs.put(d, l.content());
      JsonObject descriptor = new JsonObject().put("mediaType", l.mediaType()).put("digest", d.toString())
          .put("size", l.content().length);
      if (!l.annotations().isEmpty()) {
        descriptor.put("annotations", new JsonObject(new LinkedHashMap<>(l.annotations())));
      }
      descriptors.add(descriptor);
    }
    manifest.put("layers", descriptors);
    byte[] bytes = manifest.encode().getBytes(StandardCharsets.UTF_8);
    Digest digest = registry.pushManifest(repo, tag, bytes, manifestType);
    return new Pushed(bytes, digest, blobs);
  }

  /** A tar built entry by entry, as kit or modctl write them (directories first, relative names). */
  public static final class Tar {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final TarArchiveOutputStream out = new TarArchiveOutputStream(bytes);
    private final List<String> names = new ArrayList<>();

    public Tar() {
      out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    }

    public Tar dir(String name) {
      return entry(new TarArchiveEntry(name, TarConstants.LF_DIR, true), null);
    }

    public Tar file(String name, byte[] content, int mode) {
      TarArchiveEntry e = new TarArchiveEntry(name, true);
      e.setSize(content.length);
      e.setMode(0100000 | mode);
      return entry(e, content);
    }

    public Tar symlink(String name, String target) {
      TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
      e.setLinkName(target);
      return entry(e, null);
    }

    private Tar entry(TarArchiveEntry e, byte[] content) {
      try {
        out.putArchiveEntry(e);
        if (content != null) {
          out.write(content);
        }
        out.closeArchiveEntry();
        names.add(e.getName());
        return this;
      } catch (IOException x) {
        throw new UncheckedIOException(x);
      }
    }

    public byte[] tar() {
      try {
        out.finish();
        return bytes.toByteArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    public byte[] gzip() {
      return compress(tar(), false);
    }

    public byte[] zstd() {
      return compress(tar(), true);
    }

    private static byte[] compress(byte[] tar, boolean zstd) {
      ByteArrayOutputStream packed = new ByteArrayOutputStream();
      try (OutputStream c = zstd ? new ZstdOutputStream(packed) : new GZIPOutputStream(packed)) {
        c.write(tar);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return packed.toByteArray();
    }
  }
}
