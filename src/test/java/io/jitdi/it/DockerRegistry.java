package io.jitdi.it;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A real CNCF distribution ({@code docker-registry} 2.8) on a free loopback port, with its access log captured so tests
 * can count what the upstream was asked.
 */
public final class DockerRegistry implements AutoCloseable {
  private final Proc proc;
  private final int port;
  private final Path dir;

  private DockerRegistry(Proc proc, int port, Path dir) {
    this.proc = proc;
    this.port = port;
    this.dir = dir;
  }

  /** An ordinary registry storing under {@code dir}. */
  public static DockerRegistry start(Path dir) {
    return start(dir, null);
  }

  /** A registry in proxy (pull-through) mode in front of {@code remoteUrl}, when that is not null. */
  public static DockerRegistry start(Path dir, String remoteUrl) {
    return start(dir, remoteUrl == null ? "" : "proxy: {remoteurl: " + remoteUrl + "}\n", 200);
  }

  /**
   * A registry storing under {@code dir} with extra top-level config (e.g. {@code auth:}); it is ready when
   * {@code /v2/} answers {@code readyStatus} (401 with auth on).
   */
  public static DockerRegistry start(Path dir, String extraConfig, int readyStatus) {
    Tools.require();
    return Ports.withFreePort(port -> start(dir, extraConfig, readyStatus, port));
  }

  private static DockerRegistry start(Path dir, String extraConfig, int readyStatus, int port) {
    try {
      Files.createDirectories(dir);
      String config = "version: 0.1\n"
          + "log: {level: info, accesslog: {disabled: false}}\n"
          + "storage: {filesystem: {rootdirectory: " + dir.resolve("storage") + "}, delete: {enabled: true}}\n"
          + "http: {addr: 127.0.0.1:" + port + "}\n"
          + extraConfig;
      Files.writeString(dir.resolve("registry-" + port + ".yml"), config);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Proc proc = Proc.start("docker-registry", dir.resolve("registry-" + port + ".log"), Map.of(),
        List.of("docker-registry", "serve", dir.resolve("registry-" + port + ".yml").toString()));
    DockerRegistry registry = new DockerRegistry(proc, port, dir);
    try {
      proc.await("docker-registry to answer /v2/", Duration.ofSeconds(30),
          () -> Http.answers(registry.url() + "/v2/", readyStatus));
    } catch (RuntimeException | AssertionError e) {
      proc.close();
      throw e;
    }
    return registry;
  }

  public String url() {
    return "http://127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  public Proc proc() {
    return proc;
  }

  /** How many requests of {@code method} for paths starting with {@code pathPrefix} the access log shows. */
  public long requests(String method, String pathPrefix) {
    String needle = "\"" + method + " " + pathPrefix;
    return proc.log().lines().filter(l -> l.contains(needle)).count();
  }

  /** How many GETs of {@code /v2/<repo>/blobs/<digest>} the upstream served. */
  public long blobGets(String repo, Digest digest) {
    return requests("GET", "/v2/" + repo + "/blobs/" + digest);
  }

  /** Total bytes the upstream sent for blob GETs of {@code digest} (from the access log's size column). */
  public long blobBytesSent(Digest digest) {
    long total = 0;
    for (String line : proc.log().lines().filter(l -> l.contains("\"GET /v2/") && l.contains("/blobs/" + digest))
        .toList()) {
      int q = line.indexOf("\" ", line.indexOf("HTTP/1"));
      String[] after = line.substring(q + 2).trim().split(" ");
      try {
        total += Long.parseLong(after[1]);
      } catch (RuntimeException ignored) {
        // "-" for no body
      }
    }
    return total;
  }

  /** Pushes {@code content} as a blob of {@code repo}. */
  public Digest pushBlob(String repo, byte[] content) {
    Digest digest = Digest.sha256Of(content);
    String location = startUpload(repo);
    Http.Text r = Http.put(location + (location.contains("?") ? "&" : "?") + "digest=" + digest,
        Map.of("Content-Type", "application/octet-stream"), content);
    check(r, 201, "blob upload");
    return digest;
  }

  /** Pushes a file as a blob of {@code repo} without reading it into memory. */
  public void pushBlobFile(String repo, Path file, Digest digest) {
    String location = startUpload(repo);
    Http.Text r = Http.putFile(location + (location.contains("?") ? "&" : "?") + "digest=" + digest,
        Map.of("Content-Type", "application/octet-stream"), file);
    check(r, 201, "blob upload");
  }

  /** Pushes a manifest under {@code reference} (a tag or its digest) and returns its digest. */
  public Digest pushManifest(String repo, String reference, byte[] manifest, String mediaType) {
    Http.Text r = Http.put(url() + "/v2/" + repo + "/manifests/" + reference, Map.of("Content-Type", mediaType),
        manifest);
    check(r, 201, "manifest push");
    return Digest.sha256Of(manifest);
  }

  private String startUpload(String repo) {
    Http.Text r = Http.post(url() + "/v2/" + repo + "/blobs/uploads/");
    check(r, 202, "upload start");
    String location = r.header("Location");
    return location.startsWith("http") ? location : url() + location;
  }

  private static void check(Http.Text r, int status, String what) {
    if (r.status() != status) {
      throw new AssertionError(what + " answered " + r.status() + ": " + r.body());
    }
  }

  public Path dir() {
    return dir;
  }

  /** Where this registry's filesystem driver keeps the bytes of a blob. */
  public Path blobData(Digest digest) {
    return dir.resolve("storage/docker/registry/v2/blobs/sha256/" + digest.hex().substring(0, 2) + "/" + digest.hex()
        + "/data");
  }

  @Override
  public void close() {
    proc.close();
  }
}
