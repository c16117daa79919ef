package io.jitdi.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReconcilerTest {
  @TempDir
  Path dir;

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  @Test
  void makesIndexAndFilesAgree() throws Exception {
    CacheLayout layout = new CacheLayout(dir);
    layout.create();
    byte[] good = bytes("good");
    byte[] orphan = bytes("orphan");
    byte[] unsynced = bytes("unsynced");
    Digest goodDigest = Digest.sha256Of(good);
    Digest orphanDigest = Digest.sha256Of(orphan);
    Digest unsyncedDigest = Digest.sha256Of(unsynced);
    Digest missing = Digest.sha256Of(bytes("missing"));
    Digest corrupt = Digest.sha256Of(bytes("corrupt"));
    Digest lying = Digest.sha256Of(bytes("lying"));
    write(layout.blob(goodDigest), good);
    write(layout.blob(orphanDigest), orphan);
    write(layout.blob(unsyncedDigest), bytes("unsynceX"));
    write(layout.blob(lying), bytes("not what the name says"));
    write(layout.blob(corrupt), bytes("corrupt-but-longer"));
    write(layout.tmpDir().resolve("half-a-fill"), bytes("partial"));
    write(layout.blob(goodDigest).getParent().resolve("junk.txt"), bytes("junk"));
    try (MetadataStore index = MetadataStore.open(layout.indexDir(), layout.runtimeDir())) {
      index.putBlob(goodDigest, new BlobRecord(good.length, 1, 1, true, false));
      index.putBlob(unsyncedDigest, new BlobRecord(unsynced.length, 1, 1, false, false));
      index.putBlob(missing, new BlobRecord(7, 1, 1, true, false));
      index.putBlob(corrupt, new BlobRecord(7, 1, 1, true, false));

      Reconciler.Report report = Reconciler.run(layout, index, Clock.systemUTC(), Reconciler.Mode.STARTUP, true);

      assertEquals(2, report.blobs(), "good + adopted orphan");
      assertEquals(good.length + orphan.length, report.bytes());
      assertEquals(1, report.tmpRemoved());
      assertEquals(1, report.filesAdopted());
      assertTrue(index.blob(goodDigest).isPresent());
      assertTrue(index.blob(orphanDigest).orElseThrow().synced());
      assertFalse(index.blob(missing).isPresent());
      assertFalse(index.blob(corrupt).isPresent(), "wrong size");
      assertFalse(index.blob(unsyncedDigest).isPresent(), "unsynced and does not verify");
      assertFalse(Files.exists(layout.blob(unsyncedDigest)));
      assertFalse(Files.exists(layout.blob(lying)), "unindexed and does not match its name");
      assertFalse(Files.exists(layout.blob(corrupt)));
      assertFalse(Files.exists(layout.blob(goodDigest).getParent().resolve("junk.txt")));
      try (var tmp = Files.list(layout.tmpDir())) {
        assertEquals(0, tmp.count());
      }
    }
  }

  private static void write(Path file, byte[] content) throws Exception {
    Files.createDirectories(file.getParent());
    Files.write(file, content);
  }
}
