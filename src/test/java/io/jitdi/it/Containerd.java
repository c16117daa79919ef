package io.jitdi.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A containerd 1.6 run by the test as root, with its root, state, socket and certs.d in a temp dir. */
public final class Containerd implements AutoCloseable {
  private final Path dir;
  private final Proc proc;

  private Containerd(Path dir, Proc proc) {
    this.dir = dir;
    this.proc = proc;
  }

  public static Containerd start(Path dir) {
    Tools.require();
    try {
      Files.createDirectories(dir.resolve("certs.d"));
      String toml = """
          version = 2
          root = "%1$s/root"
          state = "%1$s/state"
          [grpc]
            address = "%1$s/containerd.sock"
          [ttrpc]
            address = "%1$s/containerd.sock.ttrpc"
          [plugins."io.containerd.grpc.v1.cri".registry]
            config_path = "%1$s/certs.d"
          """.formatted(dir);
      Files.writeString(dir.resolve("containerd.toml"), toml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Proc proc = Proc.start("containerd", dir.resolve("containerd.log"), Map.of(),
        List.of("containerd", "--config", dir.resolve("containerd.toml").toString()));
    Containerd c = new Containerd(dir, proc);
    proc.await("containerd to answer", Duration.ofSeconds(60),
        () -> Files.exists(dir.resolve("containerd.sock")) && c.exec("version").exit() == 0);
    return c;
  }

  /**
   * Points {@code registry} at {@code mirror} the way a node does, with {@code fallback} as the registry's own
   * server (use a closed port to prove every byte came through the mirror).
   */
  public void mirror(String registry, String mirror, String fallback) {
    try {
      Path hosts = dir.resolve("certs.d").resolve(registry);
      Files.createDirectories(hosts);
      Files.writeString(hosts.resolve("hosts.toml"), """
          server = "%s"
          [host."%s"]
            capabilities = ["pull", "resolve"]
          """.formatted(fallback, mirror));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Path certsDir() {
    return dir.resolve("certs.d");
  }

  /** Runs {@code ctr -a <socket> args...}. */
  public Proc.Result exec(String... args) {
    List<String> command = new ArrayList<>(List.of("ctr", "-a", dir.resolve("containerd.sock").toString()));
    command.addAll(List.of(args));
    return Proc.exec(Duration.ofMinutes(5), Map.of(), command);
  }

  /** Pulls (and unpacks) {@code ref} through the certs.d mirrors; fails the test if ctr fails. */
  public String pull(String ref) {
    return check(exec("images", "pull", "--hosts-dir", certsDir().toString(), ref), "pull " + ref);
  }

  /** Runs {@code command} in a container of {@code ref} and returns its output. */
  public String run(String ref, String id, String... command) {
    List<String> args = new ArrayList<>(List.of("run", "--rm", ref, id));
    args.addAll(List.of(command));
    return check(exec(args.toArray(String[]::new)), "run " + ref);
  }

  /**
   * Forgets an image and its content, so the next pull fetches it again. Fails the test if ctr fails, if the image is
   * not there (ctr 1.6 only warns "image not found" and exits 0; a caller that expects it asserts the failure), or if
   * the image is still listed afterwards.
   */
  public void remove(String ref) {
    String removed = check(exec("images", "rm", "--sync", ref), "images rm " + ref);
    if (removed.contains("not found")) {
      throw new AssertionError("ctr images rm " + ref + ": not found:\n" + removed);
    }
    check(exec("content", "prune", "references"), "content prune references");
    String left = check(exec("images", "ls", "-q"), "images ls");
    if (left.lines().anyMatch(ref::equals)) {
      throw new AssertionError("ctr images rm " + ref + " succeeded, but the image is still listed:\n" + left);
    }
  }

  /** The output of {@code r}; fails the test with containerd's log when ctr failed. */
  String check(Proc.Result r, String what) {
    if (r.exit() != 0) {
      throw new AssertionError("ctr " + what + " failed (" + r.exit() + "):\n" + r.output() + "\ncontainerd log:\n"
          + Tools.tail(proc.log(), 3000));
    }
    return r.output();
  }

  @Override
  public void close() {
    exec("tasks", "ls");
    proc.close();
    // containerd leaves overlay mounts of unpacked snapshots behind; remove them so the temp dir can be deleted
    Proc.exec(Duration.ofSeconds(30), Map.of(), List.of("sh", "-c",
        "grep ' " + dir + "' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l"));
  }
}
