package io.jitdi.bench;

import static io.jitdi.bench.Rig.mib;

import io.jitdi.bench.harness.Images;
import io.jitdi.oci.Digest;
import java.nio.charset.StandardCharsets;

/**
 * Figure 8m (the "8b"; 8m-b on JDK 25): the same as figure 8 for a CNCF ModelPack artifact whose weight is
 * one raw layer, against distribution's cold pull of that layer.
 */
final class Fig8mModelPackImage extends ModelImageFigure {
  Fig8mModelPackImage(Rig rig) {
    super(rig, "8m", "models/benchpack", "bench/pack", "modelpack-weights.safetensors", 9,
        "distribution cold pull of the weight layer", "the weight layer's fill writes it once, into the image's layer");
  }

  @Override
  String name(Jdk jdk) {
    return "JIT image from a " + mib(rig.big) + " MiB ModelPack artifact (one raw weight layer) in the upstream, "
        + "cold cache: first manifest GET (jitdi on " + jdk.name() + ")";
  }

  @Override
  void pushManifest(String repo, Digest weights, long size) {
    byte[] config = "{\"descriptor\":{\"name\":\"benchpack\"},\"config\":{\"format\":\"safetensors\"}}"
        .getBytes(StandardCharsets.UTF_8);
    Digest configDigest = rig.upstream().pushBlob(repo, config);
    String manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + Images.OCI_MANIFEST + "\","
        + "\"artifactType\":\"application/vnd.cncf.model.manifest.v1+json\","
        + "\"config\":{\"mediaType\":\"application/vnd.cncf.model.config.v1+json\",\"digest\":\"%s\",\"size\":%d},"
        + "\"layers\":[{\"mediaType\":\"application/vnd.cncf.model.weight.v1.raw\",\"digest\":\"%s\",\"size\":%d,"
        + "\"annotations\":{\"org.cncf.model.filepath\":\"model.safetensors\"}}]}").formatted(configDigest,
        config.length, weights, size);
    rig.upstream().pushManifest(repo, "v1", manifest.getBytes(StandardCharsets.UTF_8), Images.OCI_MANIFEST);
  }

  @Override
  String upstreamHost() {
    return "models.example.com";
  }

  @Override
  String source(String repo) {
    return "oci: \"models.example.com/" + repo + ":v1\"";
  }
}
