package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The disk-usage probe of the ITs (the eviction peak sampler): an error is not 0 bytes. */
class JitdiBytesUnderTest {
  @TempDir
  Path dir;

  @Test
  void countsRegularFilesAndAMissingDirectoryIsEmpty() throws Exception {
    Files.createDirectories(dir.resolve("a/b"));
    Files.write(dir.resolve("a/one"), new byte[10]);
    Files.write(dir.resolve("a/b/two"), new byte[32]);
    assertEquals(42, Jitdi.bytesUnder(dir.resolve("a")));
    assertEquals(0, Jitdi.bytesUnder(dir.resolve("not-yet")));
  }

  @Test
  void anErrorOtherThanAVanishedFilePropagates() throws Exception {
    Files.write(dir.resolve("file"), new byte[5]);
    // "Not a directory": a FileSystemException that is not NoSuchFileException
    assertThrows(UncheckedIOException.class, () -> Jitdi.bytesUnder(dir.resolve("file/sub")));
  }
}
