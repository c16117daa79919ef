package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** containerd pulls JIT images through a hosts.toml mirror and runs them; evicted JIT layers are built again. */
class JitContainerdIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  static Path models;
  static DockerRegistry upstream;
  static Jitdi jitdi;
  static Containerd containerd;
  static Digest model;

  @BeforeAll
  static void start() throws Exception {
    upstream = DockerRegistry.start(dir.resolve("upstream"));
    Images.pushBusybox(upstream, "library/busybox", "latest");
    models = dir.resolve("models");
    Files.createDirectories(models.resolve("7b"));
    model = Images.randomFile(models.resolve("7b/llama-2-7b-chat.Q4_K_M.gguf"), 32L << 20, 9);
    for (int i = 0; i < 7; i++) {
      Images.randomFile(models.resolve("filler-" + i + ".bin"), 12L << 20, 20 + i);
    }
    jitdi = Jitdi.start(dir.resolve("jitdi"), """
        server: {listen: 127.0.0.1:PORT}
        cache: {dir: CACHE_DIR, maxSize: 48MiB}
        upstreams:
          docker.io: {url: "%1$s"}
        jit:
          fileRoots: [%2$s]
        images:
          - name: llama
            match: "llama-cpp/llama-2:{size}b-chat-{quant}-gguf"
            registry: jit.local
            base: docker.io/library/busybox:latest
            files: [{source: "%2$s/{size}b/llama-2-{size}b-chat.{quant}.gguf", destination: "/models/{size}b/"}]
          - name: filler
            match: "filler/{n}:{tag}"
            registry: jit.local
            files: [{source: "%2$s/filler-{n}.bin", destination: /models/}]
        """.formatted(upstream.url(), models));
    containerd = Containerd.start(dir.resolve("ctrd"));
    containerd.mirror("jit.local", jitdi.url(), Ports.deadEnd());
  }

  @AfterAll
  static void stop() {
    Tools.closeAll(containerd, jitdi, upstream);
  }

  @Test
  void containerdPullsAndRunsAJitImageAndSeesTheModelsHash() {
    String image = "jit.local/llama-cpp/llama-2:7b-chat-Q4_K_M-gguf";
    containerd.pull(image);
    String out = containerd.run(image, "jit-run-1", "/bin/sha256sum", "/models/7b/llama-2-7b-chat.Q4_K_M.gguf");
    assertTrue(out.startsWith(model.hex()), "sha256sum in the container: " + out + " expected " + model.hex());
    assertTrue(jitdi.log().contains("ns=jit.local"), "containerd asked with ?ns=jit.local");
    containerd.pull("jit.local/filler/0:v1");
  }

  @Test
  void anEvictedJitLayerIsBuiltAgainAndMatchesItsDigest() throws Exception {
    String base = jitdi.url() + "/v2/filler/3/manifests/v1?ns=jit.local";
    String accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";
    JsonObject index = new JsonObject(Http.get(base, Map.of("Accept", accept)).body());
    JsonObject manifest = new JsonObject(Http.get(jitdi.url() + "/v2/filler/3/manifests/"
        + index.getJsonArray("manifests").getJsonObject(0).getString("digest") + "?ns=jit.local",
        Map.of("Accept", accept)).body());
    JsonArray layers = manifest.getJsonArray("layers");
    String layer = layers.getJsonObject(layers.size() - 1).getString("digest");
    Path file = jitdi.cacheDir().resolve("blobs/sha256/" + layer.substring(7, 9) + "/" + layer.substring(7));
    // more 12 MiB layers in a budget of 48 MiB, until filler 3's layer (the least recently used) is evicted
    for (int i = 4; i < 7 && Files.exists(file); i++) {
      assertEquals(200, Http.head(jitdi.url() + "/v2/filler/" + i + "/manifests/v1?ns=jit.local",
          Map.of("Accept", accept)).status());
    }
    assertFalse(Files.exists(file), "the layer was evicted");
    Http.Streamed pull = Http.stream(jitdi.url() + "/v2/filler/3/blobs/" + layer + "?ns=jit.local");
    assertEquals(200, pull.status());
    assertFalse(pull.broken());
    assertEquals(layer, pull.digest().toString(), "built again, with the same digest");
    assertTrue(jitdi.log().contains("blob " + layer + " of jit.local/filler/3:v1 was evicted; building it again"),
        "rebuilt from its recipe");
  }
}
