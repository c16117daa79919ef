package io.jitdi.cli;

import io.jitdi.cache.CacheDirectory;
import io.jitdi.cache.OciLayoutTransfer;
import io.jitdi.config.JitdiConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code jitdi cache import DIR|TAR} and {@code jitdi cache export NAME:TAG... -o DIR}: moves images between a stopped
 * cache and OCI image layouts, for nodes without a network. Exit status 0; 1 when the layout or the cache is not as
 * needed (the message says what); 2 for a bad command line or config, or a cache in use.
 */
final class CacheCommand {
  static final String USAGE = """
      Usage: java -jar jitdi.jar cache import DIR|TAR [--config FILE]
             java -jar jitdi.jar cache export REGISTRY/NAME:TAG... -o DIR [--config FILE]

      import  loads the images of an OCI layout (skopeo copy ... oci:DIR:REGISTRY/NAME:TAG) or of an
              oci-archive tar into the cache, so that a node without a network serves them
      export  writes cached images into an OCI layout directory
      Both run while jitdi is stopped (the index allows one process at a time).
      """;

  private CacheCommand() {}

  static ExitCode run(List<String> args, PrintStream out, PrintStream err) {
    String action = args.isEmpty() ? "" : args.get(0);
    String configFile = null;
    Path output = null;
    List<String> operands = new ArrayList<>();
    for (int i = 1; i < args.size(); i++) {
      String a = args.get(i);
      switch (a) {
        case "--config", "-c" -> configFile = i + 1 < args.size() ? args.get(++i) : null;
        case "-o", "--output" -> output = i + 1 < args.size() ? Path.of(args.get(++i)) : null;
        case "--help", "-h" -> {
          out.print(USAGE);
          return ExitCode.OK;
        }
        default -> operands.add(a);
      }
    }
    boolean importing = action.equals("import") && operands.size() == 1 && output == null;
    boolean exporting = action.equals("export") && !operands.isEmpty() && output != null;
    if (!importing && !exporting) {
      err.println("jitdi cache: " + (action.isEmpty() ? "import or export?" : "bad arguments for " + action)
          + "\n\n" + USAGE);
      return ExitCode.USAGE;
    }
    Optional<JitdiConfig> loaded = ConfigFiles.load(configFile, err);
    if (loaded.isEmpty()) {
      return ExitCode.USAGE;
    }
    JitdiConfig cfg = loaded.get();
    CacheDirectory cache;
    try {
      cache = CacheDirectory.open(cfg.cache().dir());
    } catch (IllegalStateException e) {
      err.println("jitdi cache: " + e.getMessage() + "; stop jitdi first");
      return ExitCode.USAGE;
    }
    try (cache) {
      OciLayoutTransfer transfer = cache.transfer(cfg.upstreams().keySet(), cfg.cache().maxSize(), Clock.systemUTC());
      OciLayoutTransfer.Report report = importing ? transfer.importFrom(Path.of(operands.get(0)))
          : transfer.exportTo(operands, output);
      for (OciLayoutTransfer.Entry e : report.images()) {
        out.println((importing ? "imported " : "exported ") + e.name() + " " + e.digest());
      }
      out.printf("%d images, %d manifests, %d blobs (%d bytes) %s%n", report.images().size(), report.manifests(),
          report.blobs(), report.bytes(), importing ? "added to " + cache.root() : "written to " + output);
      return ExitCode.OK;
    } catch (IOException | RuntimeException e) {
      err.println("jitdi cache " + action + ": " + e.getMessage());
      return ExitCode.FAILED;
    }
  }
}
