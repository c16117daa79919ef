package io.jitdi.it;

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

/** Real images for tests: a runnable busybox built with umoci, and images wrapping generated random blobs. */
public final class Images {
  private static Path busyboxLayout;

  private Images() {}

  /** A pushed image: its manifest digest, and its single layer and config. */
  public record Pushed(String repo, String tag, Digest manifest, Digest layer, long layerSize, Digest config) {}

  /**
   * Pushes a runnable busybox image (OCI manifest, {@code /bin/sh} and friends, PATH=/bin) as {@code repo:tag}, and
   * the same image as a Docker schema2 manifest under {@code repo:tag-v2s2}.
   */
  public static synchronized void pushBusybox(DockerRegistry registry, String repo, String tag) {
    Path layout = busyboxLayout();
    String ref = "oci:" + layout + ":latest";
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--dest-tls-verify=false", ref,
        "docker://127.0.0.1:" + registry.port() + "/" + repo + ":" + tag));
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--format", "v2s2", "--dest-tls-verify=false", ref,
        "docker://127.0.0.1:" + registry.port() + "/" + repo + ":" + tag + "-v2s2"));
  }

  private static Path busyboxLayout() {
    if (busyboxLayout != null) {
      return busyboxLayout;
    }
    try {
      Path work = Tools.scratchDir(null, "jitdi-busybox");
      Path img = work.resolve("img");
      Path bundle = work.resolve("bundle");
      Duration t = Duration.ofMinutes(2);
      Proc.run(t, List.of("umoci", "init", "--layout", img.toString()));
      Proc.run(t, List.of("umoci", "new", "--image", img + ":latest"));
      Proc.run(t, List.of("umoci", "unpack", "--image", img + ":latest", bundle.toString()));
      Path bin = bundle.resolve("rootfs/bin");
      Files.createDirectories(bin);
      Files.copy(Tools.which("busybox"), bin.resolve("busybox"));
      for (String applet : List.of("sh", "ls", "cat", "echo", "sha256sum", "wc", "test")) {
        Files.createSymbolicLink(bin.resolve(applet), Path.of("busybox"));
      }
      Proc.run(t, List.of("umoci", "repack", "--image", img + ":latest", bundle.toString()));
      Proc.run(t, List.of("umoci", "config", "--image", img + ":latest", "--config.cmd=/bin/sh",
          "--config.env", "PATH=/bin"));
      Proc.run(t, List.of("umoci", "gc", "--layout", img.toString()));
      busyboxLayout = img;
      return img;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Pushes a two-platform busybox (linux/amd64 and linux/arm64, each its own manifest) and an OCI index of both as
   * {@code repo:tag}; returns the index digest.
   */
  public static synchronized Digest pushMultiArch(DockerRegistry registry, String repo, String tag) {
    Path layout = busyboxLayout();
    Path arm = Tools.scratchDir(null, "jitdi-arm64");
    Proc.run(Duration.ofMinutes(2), List.of("cp", "-a", layout + "/.", arm.toString()));
    Proc.run(Duration.ofMinutes(1), List.of("umoci", "config", "--image", arm + ":latest", "--architecture",
        "arm64"));
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--dest-tls-verify=false", "oci:" + layout + ":latest",
        "docker://127.0.0.1:" + registry.port() + "/" + repo + ":" + tag + "-amd64"));
    Proc.run(Duration.ofMinutes(2), List.of("skopeo", "copy", "--dest-tls-verify=false", "oci:" + arm + ":latest",
        "docker://127.0.0.1:" + registry.port() + "/" + repo + ":" + tag + "-arm64"));
    StringBuilder index = new StringBuilder("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
        + "\"manifests\":[");
    String sep = "";
    for (String arch : List.of("amd64", "arm64")) {
      Http.Text head = Http.head(registry.url() + "/v2/" + repo + "/manifests/" + tag + "-" + arch,
          java.util.Map.of("Accept", "application/vnd.oci.image.manifest.v1+json"));
      index.append(sep).append("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"")
          .append(head.header("Docker-Content-Digest")).append("\",\"size\":").append(head.header("Content-Length"))
          .append(",\"platform\":{\"architecture\":\"").append(arch).append("\",\"os\":\"linux\"}}");
      sep = ",";
    }
    index.append("]}");
    return registry.pushManifest(repo, tag, index.toString().getBytes(StandardCharsets.UTF_8),
        "application/vnd.oci.image.index.v1+json");
  }

  /** {@code size} reproducible pseudo-random bytes. */
  public static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new java.util.Random(seed).nextBytes(bytes);
    return bytes;
  }

  /**
   * Pushes {@code size} reproducible pseudo-random bytes to {@code repo} as a blob (its file kept under {@code work})
   * and returns their digest.
   */
  public static Digest pushRandomBlob(DockerRegistry registry, Path work, String repo, long size, long seed) {
    Path file = work.resolve(repo.replace('/', '_'));
    Digest digest = randomFile(file, size, seed);
    registry.pushBlobFile(repo, file, digest);
    return digest;
  }

  /** Writes {@code size} reproducible pseudo-random bytes to {@code file} and returns their digest. */
  public static Digest randomFile(Path file, long size, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    MessageDigest sha256 = Digest.newSha256();
    byte[] chunk = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(file)) {
      long left = size;
      while (left > 0) {
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
   * Pushes an OCI image whose single layer is {@code size} random bytes (not a tar: fine for blob-level tests and
   * skopeo copies, not for running).
   */
  public static Pushed pushRandomImage(DockerRegistry registry, Path work, String repo, String tag, long size,
      long seed) {
    try {
      Path layer = work.resolve("layer-" + repo.replace('/', '_') + "-" + tag + "-" + seed);
      Digest layerDigest = randomFile(layer, size, seed);
      registry.pushBlobFile(repo, layer, layerDigest);
      Files.delete(layer);
      byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\""
          + layerDigest + "\"]},\"config\":{}}").getBytes(StandardCharsets.UTF_8);
      Digest configDigest = registry.pushBlob(repo, config);
      byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
          + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest
          + "\",\"size\":" + config.length + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
          + "\"digest\":\"" + layerDigest + "\",\"size\":" + size + "}]}").getBytes(StandardCharsets.UTF_8);
      Digest manifestDigest = registry.pushManifest(repo, tag, manifest, "application/vnd.oci.image.manifest.v1+json");
      return new Pushed(repo, tag, manifestDigest, layerDigest, size, configDigest);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
