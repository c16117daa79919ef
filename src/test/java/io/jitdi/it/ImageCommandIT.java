package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The jar runs with docker/Dockerfile's exact ENTRYPOINT and CMD and the image's own config (docker/jitdi.yaml), as
 * the image would run it. No container engine runs here, so the three image paths are mapped: the jar to
 * target/jitdi.jar, /etc/jitdi to a copy of docker/jitdi.yaml, and the cache VOLUME (through the config's
 * JITDI_CACHE_DIR) to a temp dir; the listen address through JITDI_LISTEN, to a free port.
 */
class ImageCommandIT {
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path dir;

  private static List<String> execForm(String dockerfile, String instruction) throws Exception {
    Matcher m = Pattern.compile("(?m)^" + instruction + " (\\[.*\\])$").matcher(dockerfile);
    assertTrue(m.find(), instruction);
    List<String> out = new ArrayList<>();
    new ObjectMapper().readTree(m.group(1)).forEach(n -> out.add(n.asText()));
    return out;
  }

  @Test
  void theImagesCommandLineStartsJitdiWithTheImagesConfigAndCachesOnlyInTheVolume() throws Exception {
    String dockerfile = Files.readString(Path.of("docker/Dockerfile"));
    Path etc = Files.createDirectories(dir.resolve("etc/jitdi"));
    Files.copy(Path.of("docker/jitdi.yaml"), etc.resolve("jitdi.yaml"));
    Path volume = Files.createDirectories(dir.resolve("var/cache/jitdi"));
    List<String> command = new ArrayList<>();
    for (String arg : Stream.concat(execForm(dockerfile, "ENTRYPOINT").stream(),
        execForm(dockerfile, "CMD").stream()).toList()) {
      command.add(switch (arg) {
        case "java" -> Path.of(System.getProperty("java.home"), "bin", "java").toString();
        case "/opt/jitdi/jitdi.jar" -> Jitdi.JAR.toString();
        default -> arg.startsWith("/etc/jitdi/") ? etc.resolve(arg.substring("/etc/jitdi/".length())).toString()
            : arg;
      });
    }
    int[] listening = new int[1];
    try (Proc jitdi = Ports.withFreePort(p -> {
      Proc started = Proc.start("jitdi-image", dir.resolve("jitdi.log"), Map.of("JITDI_CACHE_DIR",
          volume.toString(), "JITDI_LISTEN", "127.0.0.1:" + p), command);
      try {
        started.await("/readyz", Duration.ofSeconds(60),
            () -> Http.answers("http://127.0.0.1:" + p + "/readyz", 200));
      } catch (RuntimeException | AssertionError e) {
        started.close();
        throw e;
      }
      listening[0] = p;
      return started;
    })) {
      int port = listening[0];
      assertEquals(200, Http.get("http://127.0.0.1:" + port + "/healthz").status(), "the HEALTHCHECK's endpoint");
      assertTrue(jitdi.log().contains("\"level\""), "the image logs JSON by default: " + Tools.tail(jitdi.log(), 500));
      assertTrue(Files.isDirectory(volume.resolve("index")) && Files.isDirectory(volume.resolve("blobs")),
          "the cache lives in the volume");
      try (Stream<Path> top = Files.list(dir)) {
        assertEquals(List.of("etc", "jitdi.log", "var"), top.map(p -> p.getFileName().toString()).sorted().toList(),
            "nothing written beside the volume");
      }
    }
  }
}
