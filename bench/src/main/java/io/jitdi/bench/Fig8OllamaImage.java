package io.jitdi.bench;

import static io.jitdi.bench.Rig.mib;

import io.jitdi.oci.Digest;
import java.nio.charset.StandardCharsets;

/** Figure 8 (8b on JDK 25): a JIT image from an Ollama model of the big size in the upstream, cold cache. */
final class Fig8OllamaImage extends ModelImageFigure {
  private static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

  Fig8OllamaImage(Rig rig) {
    super(rig, "8", "library/benchmodel", "bench/ollama", "ollama-model.gguf", 8,
        "distribution cold pull of the model blob",
        "the model's fill writes it once, into the layer, hashing it for the model and for the layer; the model is "
            + "kept once, in the layer");
  }

  @Override
  String name(Jdk jdk) {
    return "JIT image from a " + mib(rig.big) + " MiB Ollama model in the upstream, cold cache: first manifest GET "
        + "(the layer built while the model downloads; jitdi on " + jdk.name() + ")";
  }

  @Override
  void pushManifest(String repo, Digest model, long size) {
    byte[] params = "{\"temperature\":0.7}".getBytes(StandardCharsets.UTF_8);
    byte[] config = "{\"model_format\":\"gguf\",\"os\":\"linux\",\"architecture\":\"amd64\"}".getBytes(
        StandardCharsets.UTF_8);
    Digest paramsDigest = rig.upstream().pushBlob(repo, params);
    Digest configDigest = rig.upstream().pushBlob(repo, config);
    String manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + DOCKER_MANIFEST + "\","
        + "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"%s\",\"size\":%d},"
        + "\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"%s\",\"size\":%d},"
        + "{\"mediaType\":\"application/vnd.ollama.image.params\",\"digest\":\"%s\",\"size\":%d}]}").formatted(
        configDigest, config.length, model, size, paramsDigest, params.length);
    rig.upstream().pushManifest(repo, "latest", manifest.getBytes(StandardCharsets.UTF_8), DOCKER_MANIFEST);
  }

  @Override
  String upstreamHost() {
    return "registry.ollama.ai";
  }

  @Override
  String source(String repo) {
    return "ollama: \"registry.ollama.ai/" + repo + ":latest\", layout: files";
  }
}
