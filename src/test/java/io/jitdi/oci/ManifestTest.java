package io.jitdi.oci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ManifestTest {
  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void keepsTheExactBytesAndDigestsThem() {
    byte[] bytes = utf8("{ \"schemaVersion\" : 2,\n  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
        + " \"config\": {}, \"layers\": [] }\n");
    Manifest m = Manifest.parse(bytes, null);
    assertArrayEquals(bytes, m.bytes());
    assertEquals(Digest.sha256Of(bytes), m.digest());
    assertEquals(MediaType.OCI_MANIFEST, m.mediaType());
  }

  @Test
  void takesTheTypeFromTheBodyThenTheHeaderThenTheShape() {
    assertEquals(MediaType.DOCKER_MANIFEST_LIST, Manifest.parse(utf8("{\"schemaVersion\":2,\"mediaType\":"
        + "\"application/vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":[]}"), "text/plain").mediaType());
    assertEquals(MediaType.DOCKER_MANIFEST, Manifest.parse(utf8("{\"schemaVersion\":2,\"config\":{},\"layers\":[]}"),
        "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8").mediaType());
    assertEquals(MediaType.OCI_INDEX, Manifest.parse(utf8("{\"schemaVersion\":2,\"manifests\":[]}"), null)
        .mediaType());
    assertEquals(MediaType.OCI_MANIFEST, Manifest.parse(utf8("{\"schemaVersion\":2,\"config\":{},\"layers\":[]}"),
        "application/json").mediaType());
  }

  @Test
  void rejectsWhatIsNotAManifest() {
    for (String bad : new String[] {"", "[]", "null", "{", "{\"schemaVersion\":\"2\"}", "{\"layers\":[]}",
        "{\"schemaVersion\":2,\"schemaVersion\":2,\"layers\":[]}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\"}",
        "{\"schemaVersion\":2}"}) {
      assertThrows(IllegalArgumentException.class, () -> Manifest.parse(utf8(bad), null), bad);
    }
  }

  @Test
  void rejectsManifestsOver4MiB() {
    byte[] big = new byte[Manifest.MAX_BYTES + 1];
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Manifest.parse(big, null));
    assertTrue(e.getMessage().contains("4 MiB"));
  }

  @Test
  void rejectsDeeplyNestedJson() {
    String deep = "{\"schemaVersion\":2,\"layers\":" + "[".repeat(5000) + "]".repeat(5000) + "}";
    assertThrows(IllegalArgumentException.class, () -> Manifest.parse(utf8(deep), null));
  }

  private static String digest(char c) {
    return "sha256:" + String.valueOf(c).repeat(64);
  }

  private static String descriptor(char c, long size) {
    return "{\"mediaType\":\"application/octet-stream\",\"digest\":\"" + digest(c) + "\",\"size\":" + size + "}";
  }

  @Test
  void anImageManifestReferencesItsConfigThenItsLayersAndAnIndexItsManifests() {
    Manifest image = Manifest.parse(("{\"schemaVersion\":2,\"config\":" + descriptor('c', 10) + ",\"layers\":["
        + descriptor('a', 20) + "," + descriptor('b', 30) + "]}").getBytes(StandardCharsets.UTF_8), "");
    assertEquals(java.util.List.of(digest('c'), digest('a'), digest('b')),
        image.blobs().stream().map(d -> d.digest().toString()).toList());
    assertEquals(digest('c'), image.config().orElseThrow().digest().toString());
    assertEquals(java.util.List.of(20L, 30L), image.layers().stream().map(Descriptor::size).toList());
    assertTrue(image.children().isEmpty());
    Manifest index = Manifest.parse(("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"m\",\"digest\":\""
        + digest('d') + "\",\"size\":5,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\","
        + "\"variant\":\"v8\"}}]}").getBytes(StandardCharsets.UTF_8), "");
    assertEquals(digest('d'), index.children().get(0).digest().toString());
    assertEquals("linux/arm64/v8", index.children().get(0).platform().orElseThrow().toString());
    assertTrue(index.blobs().isEmpty());
  }

  @Test
  void aDescriptorWithoutAValidDigestOrSizeIsAnInvalidManifest() {
    Manifest noSize = Manifest.parse(("{\"schemaVersion\":2,\"layers\":[{\"digest\":\"" + digest('a') + "\"}]}")
        .getBytes(StandardCharsets.UTF_8), "");
    assertEquals(ErrorCode.MANIFEST_INVALID, assertThrows(RegistryException.class, noSize::layers).code());
    Manifest badDigest = Manifest.parse("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:m\",\"size\":1}]}"
        .getBytes(StandardCharsets.UTF_8), "");
    assertEquals(ErrorCode.MANIFEST_INVALID, assertThrows(RegistryException.class, badDigest::children).code());
  }
}
