package io.jitdi.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jitdi.concurrent.Io;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Digest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlobStoreTest {
  @TempDir
  Path dir;

  @Test
  void committingTheSameContentTwiceCountsItOnce() throws Exception {
    CacheLayout layout = new CacheLayout(dir);
    layout.create();
    try (MetadataStore index = MetadataStore.open(layout.indexDir(), layout.runtimeDir()); Io io = new Io()) {
      BlobStore store = new BlobStore(layout, index, io, Clock.systemUTC(), new JitdiMetrics(), 1 << 20);
      byte[] content = "same bytes".getBytes(StandardCharsets.UTF_8);
      Digest digest = Digest.sha256Of(content);
      store.putBytes(digest, content);
      store.putBytes(digest, content);
      assertEquals(content.length, store.committedBytes(), "counted once");
      assertEquals(1, store.blobCount());
      try (var tmp = Files.list(layout.tmpDir())) {
        assertFalse(tmp.findAny().isPresent(), "the second copy's temp file is gone");
      }
    }
  }

  @Test
  void aCommitThatFailsLeavesNoTempFile() throws Exception {
    CacheLayout layout = new CacheLayout(dir);
    layout.create();
    try (MetadataStore index = MetadataStore.open(layout.indexDir(), layout.runtimeDir()); Io io = new Io()) {
      BlobStore store = new BlobStore(layout, index, io, Clock.systemUTC(), new JitdiMetrics(), 1 << 20);
      byte[] content = "bytes with nowhere to go".getBytes(StandardCharsets.UTF_8);
      Digest digest = Digest.sha256Of(content);
      Files.writeString(layout.blob(digest).getParent(), "a file where the blob's directory goes");
      assertThrows(java.io.IOException.class, () -> store.putBytes(digest, content));
      try (var tmp = Files.list(layout.tmpDir())) {
        assertFalse(tmp.findAny().isPresent(), "the temp file of a failed commit is gone");
      }
      assertEquals(0, store.blobCount());
    }
  }
}
