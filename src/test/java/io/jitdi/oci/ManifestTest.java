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

  @Test
  void anImageManifestReferencesItsConfigThenItsLayersAndAnIndexItsManifests() {
    Manifest image = Manifest.parse(("{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:c\"},"
        + "\"layers\":[{\"digest\":\"sha256:l1\"},{\"digest\":\"sha256:l2\"}]}").getBytes(StandardCharsets.UTF_8), "");
    assertEquals(java.util.List.of("sha256:c", "sha256:l1", "sha256:l2"),
        image.blobs().stream().map(d -> d.get("digest").asText()).toList());
    assertTrue(image.children().isEmpty());
    Manifest index = Manifest.parse("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:m\"}]}"
        .getBytes(StandardCharsets.UTF_8), "");
    assertEquals("sha256:m", index.children().get(0).get("digest").asText());
    assertTrue(index.blobs().isEmpty());
  }
}
