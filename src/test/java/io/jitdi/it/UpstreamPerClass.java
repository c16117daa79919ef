package io.jitdi.it;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * One real docker-registry for all the tests of a class ({@link #upstream}), and a directory of each test's own
 * ({@link #dir}) for what it starts in front of it; each test still pushes its own content and closes what it started.
 */
abstract class UpstreamPerClass {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path shared;
  static DockerRegistry upstream;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path dir;

  @BeforeAll
  static void startUpstream() {
    upstream = DockerRegistry.start(shared.resolve("upstream"));
  }

  @AfterAll
  static void stopUpstream() {
    Tools.closeAll(upstream);
  }
}
