package io.jitdi.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CacheLayoutTest {
  @TempDir
  Path dir;

  @Test
  void placesBlobsByTheirDigestUnderTheRoot() {
    CacheLayout layout = new CacheLayout(dir);
    Digest d = Digest.sha256Of(new byte[] {42});
    Path blob = layout.blob(d);
    assertEquals(dir.resolve("blobs/sha256/" + d.hex().substring(0, 2) + "/" + d.hex()), blob);
    assertEquals(d, layout.digestOf(blob).orElseThrow());
    assertTrue(layout.newTempFile().startsWith(dir.resolve("tmp")));
    assertTrue(layout.digestOf(dir.resolve("blobs/sha256/zz/" + d.hex())).isEmpty(), "wrong directory");
  }

  @Test
  void refusesEveryPathItWouldBuildOutsideTheRoot() {
    CacheLayout layout = new CacheLayout(dir);
    for (String escape : new String[] {"blobs/../../escape", "../escape", "tmp/../../../etc/passwd"}) {
      org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
          () -> layout.inside(dir.resolve(escape)), escape);
    }
    assertEquals(dir.resolve("blobs/x"), layout.inside(dir.resolve("tmp/../blobs/x")));
  }
}
