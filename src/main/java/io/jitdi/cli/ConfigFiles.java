package io.jitdi.cli;

import io.jitdi.config.ConfigException;
import io.jitdi.config.ConfigLoader;
import io.jitdi.config.JitdiConfig;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Optional;

/** The one way every command finds and loads its config. */
final class ConfigFiles {
  private ConfigFiles() {}

  /**
   * Loads the config from {@code configFile}, else {@code $JITDI_CONFIG}, else {@code conf/jitdi.yaml}; empty after
   * printing file, line and fix when it is invalid.
   */
  static Optional<JitdiConfig> load(String configFile, PrintStream err) {
    Path path = Path.of(configFile != null ? configFile
        : System.getenv("JITDI_CONFIG") != null ? System.getenv("JITDI_CONFIG") : "conf/jitdi.yaml");
    try {
      return Optional.of(ConfigLoader.withSystemEnv().load(path));
    } catch (ConfigException e) {
      err.println("jitdi: invalid config: " + e.getMessage());
      return Optional.empty();
    }
  }
}
