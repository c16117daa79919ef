package io.jitdi.cli;

import io.jitdi.node.ContainerdHosts;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code jitdi containerd-config}: writes (or with {@code --remove}, removes) the containerd {@code hosts.toml} files
 * that make a node pull through jitdi. Needs no jitdi config. Exit status 0, 2 for a bad command line, 1 when a file
 * cannot be written or belongs to someone else.
 */
final class ContainerdConfigCommand {
  static final String USAGE = """
      Usage: java -jar jitdi.jar containerd-config --registries R1,R2,... [--mirror URL] [--dir DIR]
                                                   [--force | --remove]

      Writes DIR/<registry>/hosts.toml for each registry, so that containerd pulls through jitdi at URL and
      falls back to the registry itself. Idempotent; each file is replaced atomically. _default stands for
      every registry without its own file.

        --registries  registry hosts as in image names, e.g. docker.io,ghcr.io,jit.local
        --mirror      jitdi's base URL as the node reaches it (default http://127.0.0.1:8888)
        --dir         containerd's config_path (default /etc/containerd/certs.d)
        --force       also replace hosts.toml files jitdi did not write
        --remove      remove the files jitdi wrote for these registries (on uninstall)
      """;

  private ContainerdConfigCommand() {}

  static ExitCode run(List<String> args, PrintStream out, PrintStream err) {
    List<String> registries = new ArrayList<>();
    String mirror = "http://127.0.0.1:8888";
    Path dir = Path.of("/etc/containerd/certs.d");
    boolean force = false;
    boolean remove = false;
    try {
      for (int i = 0; i < args.size(); i++) {
        String a = args.get(i);
        switch (a) {
          case "--registries" -> {
            for (String r : value(args, ++i, a).split(",")) {
              if (!r.isBlank()) {
                registries.add(ContainerdHosts.checkRegistry(r.trim()));
              }
            }
          }
          case "--mirror" -> mirror = value(args, ++i, a);
          case "--dir" -> dir = Path.of(value(args, ++i, a));
          case "--force" -> force = true;
          case "--remove" -> remove = true;
          case "--help", "-h" -> {
            out.print(USAGE);
            return ExitCode.OK;
          }
          default -> throw new IllegalArgumentException("unknown argument " + a);
        }
      }
      if (registries.isEmpty()) {
        throw new IllegalArgumentException("--registries is required, e.g. --registries docker.io,ghcr.io");
      }
      if (force && remove) {
        throw new IllegalArgumentException("--force and --remove do not go together");
      }
      ContainerdHosts hosts = new ContainerdHosts(dir, mirror);
      List<ContainerdHosts.Change> changes = remove ? hosts.remove(registries) : hosts.apply(registries, force);
      for (ContainerdHosts.Change c : changes) {
        out.println(c.outcome().name().toLowerCase(java.util.Locale.ROOT) + " " + c.file()
            + (c.outcome() == ContainerdHosts.Outcome.UNCHANGED && remove ? " (not written by jitdi, kept)" : ""));
      }
      return ExitCode.OK;
    } catch (IllegalArgumentException e) {
      err.println("jitdi containerd-config: " + e.getMessage() + "\n\n" + USAGE);
      return ExitCode.USAGE;
    } catch (IOException e) {
      err.println("jitdi containerd-config: " + e.getMessage());
      return ExitCode.FAILED;
    }
  }

  private static String value(List<String> args, int i, String option) {
    if (i >= args.size() || args.get(i).startsWith("--")) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return args.get(i);
  }
}
