package io.jitdi.bench.harness;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;

/** The images the bench pushes to its upstream: generated blobs wrapped in images, and a runnable busybox. */
public final class Images {
  public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

  private Images() {}

  /** A pushed image: its repository and its one layer. */
  public record Pushed(String repo, Digest layer) {
    /** {@code /v2/<repo>/blobs/<layer>}. */
    public String blobPath() {
      return "/v2/" + repo + "/blobs/" + layer;
    }
  }

  /** Writes {@code size} pseudo-random bytes, the same for the same {@code seed}, to {@code file}; their digest. */
  public static Digest randomFile(Path file, long size, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    MessageDigest sha256 = Digest.newSha256();
    byte[] chunk = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(file)) {
      for (long left = size; left > 0; ) {
        int n = (int) Math.min(chunk.length, left);
        for (int i = 0; i < n; i += 8) {
          long v = random.nextLong();
          for (int j = 0; j < 8 && i + j < n; j++) {
            chunk[i + j] = (byte) (v >>> (8 * j));
          }
        }
        sha256.update(chunk, 0, n);
        out.write(chunk, 0, n);
        left -= n;
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return Digest.ofSha256Bytes(sha256.digest());
  }

  /**
   * Pushes {@code repo:tag}, an OCI image whose one layer is {@code size} random bytes (not a tar: fine for blob GETs,
   * not for running); the layer's file is made under {@code work} and deleted after the push.
   */
  public static Pushed pushRandomImage(DockerRegistry registry, Path work, String repo, String tag, long size,
      long seed) {
    Path layer = work.resolve("layer-" + repo.replace('/', '_') + "-" + tag + "-" + seed);
    Pushed pushed = pushImage(registry, repo, tag, layer, randomFile(layer, size, seed));
    delete(layer);
    return pushed;
  }

  /** Pushes {@code repo:tag}, an OCI image for linux/amd64 whose one layer is {@code layer} (its digest given). */
  public static Pushed pushImage(DockerRegistry registry, String repo, String tag, Path layer, Digest digest) {
    try {
      registry.pushBlobFile(repo, layer, digest);
      byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\""
          + digest + "\"]},\"config\":{}}").getBytes(StandardCharsets.UTF_8);
      Digest configDigest = registry.pushBlob(repo, config);
      byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
          + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest + "\",\"size\":"
          + config.length + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\""
          + digest + "\",\"size\":" + Files.size(layer) + "}]}").getBytes(StandardCharsets.UTF_8);
      registry.pushManifest(repo, tag, manifest, OCI_MANIFEST);
      return new Pushed(repo, digest);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Pushes {@code repo:tag}, a runnable busybox (OCI manifest, {@code /bin/sh} and a few applets, PATH=/bin) made with
   * umoci under {@code work} and copied with skopeo.
   */
  public static void pushBusybox(DockerRegistry registry, Path work, String repo, String tag) {
    Path img = work.resolve("busybox/img");
    Path bundle = work.resolve("busybox/bundle");
    Duration t = Duration.ofMinutes(2);
    Proc.run(t, List.of("umoci", "init", "--layout", img.toString()));
    Proc.run(t, List.of("umoci", "new", "--image", img + ":latest"));
    Proc.run(t, List.of("umoci", "unpack", "--image", img + ":latest", bundle.toString()));
    try {
      Path bin = bundle.resolve("rootfs/bin");
      Files.createDirectories(bin);
      Files.copy(Tools.which("busybox"), bin.resolve("busybox"));
      for (String applet : List.of("sh", "ls", "cat", "echo", "sha256sum", "wc", "test")) {
        Files.createSymbolicLink(bin.resolve(applet), Path.of("busybox"));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Proc.run(t, List.of("umoci", "repack", "--image", img + ":latest", bundle.toString()));
    // after repack, or the config ends up empty
    Proc.run(t, List.of("umoci", "config", "--image", img + ":latest", "--config.cmd=/bin/sh", "--config.env",
        "PATH=/bin"));
    Proc.run(t, List.of("umoci", "gc", "--layout", img.toString()));
    Proc.run(t, List.of("skopeo", "copy", "--dest-tls-verify=false", "oci:" + img + ":latest",
        "docker://127.0.0.1:" + registry.port() + "/" + repo + ":" + tag));
  }

  private static void delete(Path file) {
    try {
      Files.delete(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
