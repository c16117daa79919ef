package io.jitdi.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.MediaType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetadataStoreTest {
  @TempDir
  Path dir;

  @Test
  void keepsBlobTagAndManifestRecordsAcrossReopening() {
    Digest d = Digest.sha256Of(new byte[] {1});
    byte[] bytes = "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}".getBytes(StandardCharsets.UTF_8);
    Manifest m = Manifest.parse(bytes, null);
    try (MetadataStore index = MetadataStore.open(dir, dir.resolveSibling("runtime"))) {
      index.putBlob(d, new BlobRecord(10, 1, 2, false, false));
      index.putTag("docker.io/library/busybox:latest|", new TagRecord(m.digest(), m.mediaType(), m.size(), 5));
      index.putManifest(m);
    }
    try (MetadataStore index = MetadataStore.open(dir, dir.resolveSibling("runtime"))) {
      assertEquals(new BlobRecord(10, 1, 2, false, false), index.blob(d).orElseThrow());
      TagRecord tag = index.tag("docker.io/library/busybox:latest|").orElseThrow();
      assertEquals(m.digest(), tag.digest());
      assertEquals(MediaType.OCI_MANIFEST, tag.mediaType());
      Manifest back = index.manifest(m.digest()).orElseThrow();
      assertArrayEquals(bytes, back.bytes());
      assertEquals(MediaType.OCI_MANIFEST, back.mediaType());
    }
  }

  @Test
  void touchRaisesLastAccessOnlyForExistingBlobs() {
    Digest a = Digest.sha256Of(new byte[] {1});
    Digest b = Digest.sha256Of(new byte[] {2});
    try (MetadataStore index = MetadataStore.open(dir, dir.resolveSibling("runtime"))) {
      index.putBlob(a, new BlobRecord(10, 1, 100, true, false));
      index.touch(Map.of(a, 500L, b, 600L));
      assertEquals(500L, index.blob(a).orElseThrow().lastAccess());
      assertTrue(index.blob(b).isEmpty());
      index.touch(Map.of(a, 50L));
      assertEquals(500L, index.blob(a).orElseThrow().lastAccess(), "never goes back in time");
      Map<Digest, BlobRecord> all = new HashMap<>();
      index.forEachBlob(all::put);
      assertEquals(1, all.size());
    }
  }

  @Test
  void refusesCallsAfterCloseInsteadOfCrashingTheJvm() {
    MetadataStore index = MetadataStore.open(dir, dir.resolveSibling("runtime"));
    index.close();
    assertThrows(IllegalStateException.class, () -> index.blob(Digest.sha256Of(new byte[0])));
    assertThrows(IllegalStateException.class, () -> index.forEachBlob((d, r) -> { }));
  }

  @Test
  void aSecondOpenOfTheSameDirectorySaysItIsInUse() {
    try (MetadataStore index = MetadataStore.open(dir, dir.resolveSibling("runtime"))) {
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> MetadataStore.open(dir, dir.resolveSibling("runtime")));
      assertTrue(e.getMessage().contains("another jitdi"), e.getMessage());
    }
  }
}
