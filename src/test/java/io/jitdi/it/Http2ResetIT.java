package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.MessageDigest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Over HTTP/2 a failed blob response is reset as a stream (RST_STREAM), not as the connection: a client that
 * multiplexes a pull's layers on one connection, as containerd does, keeps its other transfers.
 */
class Http2ResetIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static DockerRegistry upstream;
  static FaultRelay relay;
  static Jitdi jitdi;

  @BeforeAll
  static void start() {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    relay = FaultRelay.to(upstream.port());
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(relay.url(), "1GiB"));
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(jitdi, relay, upstream);
  }

  private static Digest push(String repo, long size, long seed) {
    return Images.pushRandomBlob(upstream, dir, repo, size, seed);
  }

  private static HttpRequest get(String path) {
    return HttpRequest.newBuilder(URI.create(jitdi.url() + path)).build();
  }

  @Test
  void aResetStreamLeavesTheOtherStreamsOfItsConnectionAlone() throws Exception {
    Digest good = push("h2/good", 24L << 20, 5);
    assertEquals(good, Http.stream(jitdi.url() + "/v2/h2/good/blobs/" + good).digest(), "cached first");
    Digest bad = push("h2/bad", 8L << 20, 6);
    HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    HttpResponse<InputStream> first = h2.send(get("/v2/h2/good/blobs/" + good),
        HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(HttpClient.Version.HTTP_2, first.version());
    MessageDigest sha256 = Digest.newSha256();
    try (InputStream goodBody = first.body()) {
      sha256.update(goodBody.readNBytes(1 << 20));
      relay.onRequest("/v2/h2/bad/blobs/", FaultRelay.Kind.FLIP, 3L << 20, 0);
      HttpResponse<InputStream> second = h2.send(get("/v2/h2/bad/blobs/" + bad),
          HttpResponse.BodyHandlers.ofInputStream());
      assertEquals(HttpClient.Version.HTTP_2, second.version(), "the same h2c connection");
      boolean reset = false;
      try (InputStream in = second.body()) {
        in.readAllBytes();
      } catch (IOException e) {
        reset = true;
      }
      assertTrue(reset, "the flipped blob's stream is reset");
      sha256.update(goodBody.readAllBytes());
    }
    assertEquals(good, Digest.ofSha256Bytes(sha256.digest()), "the other stream on the connection finished intact");
    assertEquals(200, h2.send(get("/v2/"), HttpResponse.BodyHandlers.ofString()).statusCode(),
        "and the connection takes new requests");
  }
}
