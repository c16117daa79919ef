package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** Bad requests get the right OCI error and status, contact nobody, and write nothing. */
class BadInputIT {
  static final String DIGEST = "sha256:" + "a".repeat(64);

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static MisbehavingRegistry misbehaving;
  /** In front of the misbehaving upstream: records every request line jitdi sends it. */
  static FaultRelay badRelay;
  /** jitdi's working directory, empty at start; nothing may appear in it. */
  static Path workDir;
  static Jitdi jitdi;
  static ServerSocket bystander;
  static final AtomicInteger bystanderConnections = new AtomicInteger();

  @BeforeAll
  static void start() throws IOException {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    misbehaving = MisbehavingRegistry.start();
    badRelay = FaultRelay.to(java.net.URI.create(misbehaving.url()).getPort());
    workDir = Files.createDirectories(dir.resolve("workdir"));
    jitdi = Jitdi.startIn(workDir, dir.resolve("jitdi"), Jitdi.config(upstream.url(), "256MiB").replace(
        "defaultUpstream:", "  bad.local:\n    url: " + badRelay.url() + "\ndefaultUpstream:"));
    bystander = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(() -> {
      while (!bystander.isClosed()) {
        try (Socket s = bystander.accept()) {
          bystanderConnections.incrementAndGet();
        } catch (IOException e) {
          return;
        }
      }
    });
    t.setDaemon(true);
    t.start();
  }

  @AfterAll
  static void stop() throws IOException {
    bystander.close();
    jitdi.close();
    badRelay.close();
    misbehaving.close();
    upstream.close();
  }

  /** Sends a raw request line, so nothing in a client library normalizes the path first. */
  static Http.Text raw(String method, String target) {
    return raw(method, target, "");
  }

  static Http.Text raw(String method, String target, String extraHeaders) {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), jitdi.port())) {
      OutputStream out = s.getOutputStream();
      out.write((method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extraHeaders + "\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      int status = Integer.parseInt(response.substring(9, 12));
      String body = response.substring(response.indexOf("\r\n\r\n") + 4);
      return new Http.Text(status, null, body);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  static void expect(int status, String code, Http.Text r, String what) {
    assertEquals(status, r.status(), what + ": " + r.body());
    assertTrue(r.body().contains("\"code\":\"" + code + "\""), what + ": " + r.body());
    assertTrue(r.body().startsWith("{\"errors\":[{"), what + ": " + r.body());
  }

  @Test
  void traversalLookingNamesAreNameInvalid() {
    for (String path : List.of("/v2/../../etc/passwd/manifests/latest", "/v2/a/../b/manifests/latest",
        "/v2/%2e%2e/%2e%2e/etc/manifests/latest", "/v2/a%2fb/manifests/latest", "/v2/a%2F..%2Fb/blobs/" + DIGEST,
        "/v2/a\\..\\b/manifests/latest", "/v2/..%5c..%5cb/manifests/latest", "/v2/A/manifests/latest",
        "/v2//a/manifests/latest", "/v2/a//b/blobs/" + DIGEST, "/v2/./a/manifests/latest")) {
      expect(400, "NAME_INVALID", raw("GET", path), path);
    }
  }

  @Test
  void badDigestsAreDigestInvalid() {
    for (String digest : List.of("sha256:" + "A".repeat(64), "sha256:abc", "sha512:" + "a".repeat(128),
        "md5:" + "a".repeat(32), "sha256:" + "a".repeat(65), "sha256:" + "g".repeat(64), "nodigest")) {
      expect(400, "DIGEST_INVALID", raw("GET", "/v2/library/busybox/blobs/" + digest), digest);
    }
    expect(400, "DIGEST_INVALID", raw("GET", "/v2/library/busybox/manifests/sha256:XYZ"), "manifest digest");
  }

  /** As distribution answers, and as the OCI conformance suite expects: a string that cannot be a tag tags nothing. */
  @Test
  void overlongAndMalformedTagsNameNoManifest() {
    expect(404, "MANIFEST_UNKNOWN", raw("GET", "/v2/library/busybox/manifests/" + "a".repeat(129)), "129 chars");
    expect(404, "MANIFEST_UNKNOWN", raw("GET", "/v2/library/busybox/manifests/.hidden"), ".hidden");
    expect(404, "MANIFEST_UNKNOWN", raw("GET", "/v2/library/busybox/manifests/-x"), "-x");
  }

  @Test
  void anUnconfiguredNsIsNameUnknownAndContactsNobody() {
    String ns = "127.0.0.1:" + bystander.getLocalPort();
    expect(404, "NAME_UNKNOWN", raw("GET", "/v2/library/busybox/manifests/latest?ns=" + ns), "ns");
    expect(404, "NAME_UNKNOWN", raw("GET", "/v2/library/busybox/blobs/" + DIGEST + "?ns=" + ns), "ns blob");
    expect(404, "NAME_UNKNOWN", raw("GET", "/v2/quay.io/org/img/manifests/latest"), "host prefix");
    assertEquals(0, bystanderConnections.get(), "jitdi is not an open proxy");
  }

  @Test
  void otherMethodsAreUnsupported() {
    for (String method : List.of("PUT", "POST", "DELETE", "PATCH")) {
      expect(405, "UNSUPPORTED", raw(method, "/v2/library/busybox/manifests/latest"), method);
    }
    expect(405, "UNSUPPORTED", raw("POST", "/v2/library/busybox/blobs/uploads/"), "push");
    expect(404, "UNSUPPORTED", raw("GET", "/nope"), "unknown endpoint");
  }

  @Test
  void oversizedRequestLinesAndHeadersGetOciErrors() {
    expect(414, "NAME_INVALID", raw("GET", "/v2/" + "a/".repeat(5000) + "b/manifests/latest"), "long line");
    expect(431, "UNSUPPORTED", raw("GET", "/v2/library/busybox/manifests/latest", "X-Big: " + "x".repeat(20000)
        + "\r\n"), "big header");
  }

  @Test
  void unknownContentIsReportedAsUnknown() {
    expect(404, "MANIFEST_UNKNOWN", raw("GET", "/v2/library/nothing/manifests/latest"), "manifest");
    expect(404, "BLOB_UNKNOWN", raw("GET", "/v2/library/nothing/blobs/" + DIGEST), "blob");
    Http.Text head = Http.head(jitdi.url() + "/v2/library/nothing/blobs/" + DIGEST, Map.of());
    assertEquals(404, head.status());
  }

  @Test
  void anUpstreamThatBreaksTheRulesGetsOciErrorsAndNothingIsCached() {
    String bad = "?ns=bad.local";
    expect(502, "MANIFEST_INVALID", raw("GET", "/v2/bad/huge/manifests/v1" + bad), "manifest over 4 MiB");
    expect(502, "MANIFEST_INVALID", raw("GET", "/v2/bad/hugechunked/manifests/v1" + bad), "chunked, over 4 MiB");
    Http.Text json = raw("GET", "/v2/bad/json/manifests/v1" + bad);
    expect(502, "MANIFEST_INVALID", json, "malformed JSON");
    assertTrue(json.body().contains("not valid JSON"), json.body());
    double mismatches = jitdi.metrics().value("jitdi_digest_mismatch_total", "upstream", "bad.local");
    expect(502, "MANIFEST_INVALID", raw("GET", "/v2/bad/lying/manifests/v1" + bad), "lying digest header");
    assertEquals(mismatches + 1, jitdi.metrics().value("jitdi_digest_mismatch_total", "upstream", "bad.local"));
    expect(502, "MANIFEST_INVALID", raw("GET", "/v2/bad/swapped/manifests/sha256:" + "c".repeat(64) + bad),
        "other bytes for a requested digest");
    assertEquals(mismatches + 2, jitdi.metrics().value("jitdi_digest_mismatch_total", "upstream", "bad.local"));
    Http.Text loop = raw("GET", "/v2/bad/loop/blobs/" + DIGEST + bad);
    expect(502, "UNAVAILABLE", loop, "redirect loop");
    assertTrue(loop.body().contains("redirected more than 5 times"), loop.body());
    expect(502, "UNAVAILABLE", raw("GET", "/v2/bad/loop/manifests/v1" + bad), "manifest redirect loop");
    Http.Text limited = Http.get(jitdi.url() + "/v2/bad/limited/manifests/v1" + bad);
    expect(429, "TOOMANYREQUESTS", limited, "rate limited");
    assertEquals("17", limited.header("Retry-After"), "Retry-After kept");
    Http.Text down = Http.get(jitdi.url() + "/v2/bad/down/blobs/" + DIGEST + bad);
    expect(503, "UNAVAILABLE", down, "maintenance");
    assertEquals("5", down.header("Retry-After"));
    expect(502, "UNAVAILABLE", raw("GET", "/v2/bad/broken/manifests/v1" + bad), "500");
    assertEquals(0, jitdi.bytesUnder("blobs"), "nothing cached from a misbehaving upstream");

    // manifests live in the index, not in blobs/: asked again, jitdi must ask the upstream again
    for (String path : List.of("/v2/bad/huge/manifests/v1", "/v2/bad/hugechunked/manifests/v1",
        "/v2/bad/json/manifests/v1", "/v2/bad/lying/manifests/v1", "/v2/bad/loop/manifests/v1",
        "/v2/bad/broken/manifests/v1")) {
      long before = badRelay.requests("GET", path);
      Http.Text again = raw("GET", path + bad);
      assertTrue(again.status() >= 500, path + " is not served from a cache: " + again.status() + " " + again.body());
      assertTrue(badRelay.requests("GET", path) > before, path + " asked again: the upstream is asked again, "
          + "nothing was cached (" + badRelay.requestLines() + ")");
    }
  }

  @Test
  void anUpstreamThatSendsNoBytesForABlobGetsNoCleanAnswer() {
    // a 0-byte answer has no last byte to hold back until the digest is checked: it must be refused up front
    double mismatches = jitdi.metrics().value("jitdi_digest_mismatch_total", "upstream", "bad.local");
    expect(502, "DIGEST_INVALID", raw("GET", "/v2/bad/empty/blobs/" + DIGEST + "?ns=bad.local"),
        "a GET of a blob the upstream says is empty");
    assertTrue(jitdi.metrics().value("jitdi_digest_mismatch_total", "upstream", "bad.local") > mismatches,
        "counted as a digest mismatch");
  }

  @Test
  void afterAllOfItNothingIsWrittenOutsideTheCacheAndJitdiStillServes() throws IOException {
    traversalLookingNamesAreNameInvalid();
    badDigestsAreDigestInvalid();
    anUnconfiguredNsIsNameUnknownAndContactsNobody();
    anUpstreamThatBreaksTheRulesGetsOciErrorsAndNothingIsCached();
    Path jitdiDir = dir.resolve("jitdi");
    try (Stream<Path> files = Files.walk(jitdiDir)) {
      List<Path> outside = files.filter(Files::isRegularFile)
          .filter(p -> !p.startsWith(jitdi.cacheDir()))
          .filter(p -> !p.getFileName().toString().matches("jitdi(-\\d+)?\\.(log|yaml)"))
          .toList();
      assertEquals(List.of(), outside);
    }
    try (Stream<Path> files = Files.walk(workDir)) {
      assertEquals(List.of(workDir), files.toList(), "nothing written in jitdi's working directory");
    }
    assertEquals(200, Http.get(jitdi.url() + "/v2/").status());
    assertTrue(jitdi.proc().alive());
  }
}
