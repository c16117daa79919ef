package io.jitdi.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jitdi.config.ConfigException;
import io.jitdi.config.ConfigLoader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Any file given as --config loads or fails with a ConfigException that names the file: never a stack trace. */
class ConfigFuzzTest {
  private static final Path FILE;

  static {
    try {
      FILE = Files.createTempFile("jitdi-fuzz", ".yaml");
      FILE.toFile().deleteOnExit();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @FuzzTest(maxExecutions = 100_000)
  void load(FuzzedDataProvider data) throws IOException {
    check(data.consumeRemainingAsString());
  }

  @Test
  void smoke() {
    String base = "cache: {dir: /tmp/x, maxSize: 1GiB}\nupstreams: {docker.io: {url: https://r.io}}\n";
    Smoke.strings(10, s -> uncheck(base + s));
    Smoke.strings(11, s -> uncheck("server:\n  listen: " + s + "\n" + base));
    Smoke.strings(12, s -> uncheck(s));
  }

  private static void uncheck(String yaml) {
    try {
      check(yaml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void check(String yaml) throws IOException {
    Files.writeString(FILE, yaml);
    try {
      new ConfigLoader(name -> name.equals("SET") ? "value" : null).load(FILE);
    } catch (ConfigException e) {
      assertTrue(e.getMessage().startsWith(FILE.toString()), e.getMessage());
    }
  }
}
