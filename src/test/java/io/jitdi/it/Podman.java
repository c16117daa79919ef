package io.jitdi.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * podman with storage of its own under a test's directory (vfs, no daemon), and the README's registries.conf:
 * {@code docker.io} mirrored by a jitdi, with the registry as the first path segment.
 */
public final class Podman {
  private final List<String> command;
  private final Map<String, String> env;

  private Podman(List<String> command, Map<String, String> env) {
    this.command = command;
    this.env = env;
  }

  /** A podman whose {@code docker.io} pulls go to the jitdi at {@code mirrorHostPort}. */
  public static Podman mirroring(Path dir, String mirrorHostPort) {
    Path conf = dir.resolve("registries.conf");
    Path runRoot;
    try {
      Files.createDirectories(dir);
      // podman refuses a runroot path longer than 50 characters: a short one under /tmp
      runRoot = Tools.scratchDir(Path.of("/tmp"), "podman-run");
      Files.writeString(conf, """
          [[registry]]
          prefix = "docker.io"
          location = "registry-1.docker.io"

          [[registry.mirror]]
          location = "%s/docker.io"
          insecure = true
          """.formatted(mirrorHostPort));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Podman(List.of("podman", "--root", dir.resolve("podman-root").toString(), "--runroot",
        runRoot.toString(), "--storage-driver", "vfs"),
        Map.of("CONTAINERS_REGISTRIES_CONF", conf.toString()));
  }

  /** Runs {@code podman <args>} to completion. */
  public Proc.Result run(String... args) {
    List<String> all = new ArrayList<>(command);
    all.addAll(List.of(args));
    return Proc.exec(Duration.ofMinutes(3), env, all);
  }
}
