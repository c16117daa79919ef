package io.jitdi.cli;

import io.jitdi.config.ConfigException;
import io.jitdi.config.JitdiConfig;
import io.jitdi.jit.RuleSet;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The command line. {@code java -jar jitdi.jar [serve] [--config FILE]} runs the registry; the config defaults to
 * {@code $JITDI_CONFIG}, then {@code conf/jitdi.yaml}. Exit status: 0 after a clean shutdown, 2 for a bad command
 * line or config (the message names file, line and fix), 1 when start-up fails otherwise.
 */
public final class Main {
  private static final String USAGE_TEXT = """
      Usage: java -jar jitdi.jar [COMMAND] [--config FILE] [OPTIONS]

      jitdi is a pull-through OCI registry cache for GPU nodes.

      Commands:
        serve            run the registry (the default)
        verify [--fix]   re-hash every cached blob and manifest and report bad entries;
                         --fix removes them (run it while jitdi is stopped)
        resolve NAME:TAG dry run of a JIT image: the matching rule, captures, base,
                         every source and destination with sizes, and failing checks
        cache import DIR|TAR   load an OCI layout or oci-archive into the cache (air-gapped nodes)
        cache export NAME:TAG... -o DIR   write cached images into an OCI layout
        containerd-config --registries R1,R2 [--mirror URL] [--dir DIR] [--remove]
                         write (or remove) containerd hosts.toml files that pull through
                         jitdi; see containerd-config --help

      Options:
        --config FILE    the YAML config (default: $JITDI_CONFIG, else conf/jitdi.yaml)
        --help           print this help

      Environment:
        JITDI_CONFIG     config file when --config is not given
        JITDI_LOG_LEVEL  log level of jitdi's own loggers (default INFO)
      """;

  private Main() {}

  public static void main(String[] args) {
    System.setProperty("vertx.logger-delegate-factory-class-name", "io.vertx.core.logging.SLF4JLogDelegateFactory");
    ExitCode exit = run(args, System.out, System.err);
    if (exit != ExitCode.OK) {
      System.exit(exit.status());
    }
  }

  static ExitCode run(String[] args, PrintStream out, PrintStream err) {
    if (args.length > 0 && args[0].equals("containerd-config")) {
      return ContainerdConfigCommand.run(List.of(args).subList(1, args.length), out, err);
    }
    if (args.length > 0 && args[0].equals("cache")) {
      return CacheCommand.run(List.of(args).subList(1, args.length), out, err);
    }
    String command = "serve";
    String configFile = null;
    boolean fix = false;
    List<String> rest = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--help", "-h", "help" -> {
          out.print(USAGE_TEXT);
          return ExitCode.OK;
        }
        case "--config", "-c" -> {
          if (i + 1 >= args.length) {
            err.println("jitdi: --config needs a file\n\n" + USAGE_TEXT);
            return ExitCode.USAGE;
          }
          configFile = args[++i];
        }
        case "--fix" -> fix = true;
        default -> {
          if (a.startsWith("--config=")) {
            configFile = a.substring("--config=".length());
          } else if (a.startsWith("-")) {
            err.println("jitdi: unknown option " + a + "\n\n" + USAGE_TEXT);
            return ExitCode.USAGE;
          } else {
            rest.add(a);
          }
        }
      }
    }
    if (!rest.isEmpty()) {
      command = rest.remove(0);
    }
    String image = command.equals("resolve") && rest.size() == 1 ? rest.remove(0) : null;
    if (!(command.equals("serve") || command.equals("verify") || (command.equals("resolve") && image != null))
        || !rest.isEmpty() || (fix && !command.equals("verify"))) {
      err.println("jitdi: unknown command " + String.join(" ", args) + "\n\n" + USAGE_TEXT);
      return ExitCode.USAGE;
    }
    Optional<JitdiConfig> loaded = ConfigFiles.load(configFile, err);
    if (loaded.isEmpty()) {
      return ExitCode.USAGE;
    }
    JitdiConfig config = loaded.get();
    RuleSet rules;
    try {
      rules = RuleSet.compile(config.images(), config.upstreams().keySet(), config.jit());
    } catch (ConfigException e) {
      err.println("jitdi: invalid config: " + e.getMessage());
      return ExitCode.USAGE;
    }
    if (command.equals("resolve")) {
      return ResolveCommand.run(config, rules, image, out);
    }
    if (command.equals("verify")) {
      return VerifyCommand.run(config, fix, out, err);
    }
    return ServeCommand.run(config, rules, err);
  }
}
