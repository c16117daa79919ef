package io.jitdi.bench.harness;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * CNCF distribution (Debian's {@code docker-registry}) as a process on a free loopback port, storing under its
 * directory: the bench's upstream, and in proxy mode the peer it compares jitdi with. Its {@link #log()} holds the
 * access log, one Apache-style line a request, user agent included.
 */
public final class DockerRegistry extends ServerProcess {
  private final Path dir;

  private DockerRegistry(Proc proc, int port, Path dir) {
    super(proc, port);
    this.dir = dir;
  }

  /** An ordinary registry storing under {@code dir}; ready when {@code /v2/} answers. */
  public static DockerRegistry start(Path dir) {
    return start(dir, null);
  }

  /** A registry in proxy (pull-through) mode in front of {@code remoteUrl}, or an ordinary one when it is null. */
  public static DockerRegistry start(Path dir, String remoteUrl) {
    return Ports.withFreePort(port -> start(dir, remoteUrl, port));
  }

  private static DockerRegistry start(Path dir, String remoteUrl, int port) {
    Path config = dir.resolve("registry-" + port + ".yml");
    try {
      Files.createDirectories(dir);
      Files.writeString(config, "version: 0.1\n"
          + "log: {level: info, accesslog: {disabled: false}}\n"
          + "storage: {filesystem: {rootdirectory: " + dir.resolve("storage") + "}, delete: {enabled: true}}\n"
          + "http: {addr: 127.0.0.1:" + port + "}\n"
          + (remoteUrl == null ? "" : "proxy: {remoteurl: " + remoteUrl + "}\n"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Proc proc = Proc.start("docker-registry", dir.resolve("registry-" + port + ".log"), Map.of(),
        List.of("docker-registry", "serve", config.toString()), "docker-registry to answer /v2/",
        Duration.ofSeconds(30), () -> Http.status(Ports.url(port) + "/v2/") == 200);
    return new DockerRegistry(proc, port, dir);
  }

  /** Pushes {@code content} as a blob of {@code repo} and returns its digest. */
  public Digest pushBlob(String repo, byte[] content) {
    Digest digest = Digest.sha256Of(content);
    expect(Http.put(uploadUrl(repo, digest), Map.of("Content-Type", "application/octet-stream"), content), 201,
        "blob upload");
    return digest;
  }

  /** Pushes {@code file}, whose digest is {@code digest}, as a blob of {@code repo} without reading it into memory. */
  public void pushBlobFile(String repo, Path file, Digest digest) {
    expect(Http.putFile(uploadUrl(repo, digest), Map.of("Content-Type", "application/octet-stream"), file), 201,
        "blob upload");
  }

  /** Pushes a manifest as {@code repo:tag}. */
  public void pushManifest(String repo, String tag, byte[] manifest, String mediaType) {
    expect(Http.put(url() + "/v2/" + repo + "/manifests/" + tag, Map.of("Content-Type", mediaType), manifest), 201,
        "manifest push");
  }

  /** Starts a monolithic upload: the URL to PUT the blob to. */
  private String uploadUrl(String repo, Digest digest) {
    Http.Response r = Http.post(url() + "/v2/" + repo + "/blobs/uploads/");
    expect(r, 202, "upload start");
    String location = r.header("Location");
    location = location.startsWith("http") ? location : url() + location;
    return location + (location.contains("?") ? "&" : "?") + "digest=" + digest;
  }

  private static void expect(Http.Response r, int status, String what) {
    if (r.status() != status) {
      throw new IllegalStateException(what + " answered " + r.status() + ": " + r.body());
    }
  }

  /** Where the filesystem driver keeps the bytes of blob {@code digest}. */
  public Path blobData(Digest digest) {
    return dir.resolve("storage/docker/registry/v2/blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex()
        + "/data");
  }
}
