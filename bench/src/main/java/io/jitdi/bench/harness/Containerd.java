package io.jitdi.bench.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** containerd (Debian's 1.6) as a root process with its root, state, socket and certs.d under one directory. */
public final class Containerd implements AutoCloseable {
  private final Path dir;
  private final Proc proc;

  private Containerd(Path dir, Proc proc) {
    this.dir = dir;
    this.proc = proc;
  }

  /** Starts containerd under {@code dir}; returns once {@code ctr version} answers (at most 60 s). */
  public static Containerd start(Path dir) {
    try {
      Files.createDirectories(dir.resolve("certs.d"));
      Files.writeString(dir.resolve("containerd.toml"), """
          version = 2
          root = "%1$s/root"
          state = "%1$s/state"
          [grpc]
            address = "%1$s/containerd.sock"
          [ttrpc]
            address = "%1$s/containerd.sock.ttrpc"
          [plugins."io.containerd.grpc.v1.cri".registry]
            config_path = "%1$s/certs.d"
          """.formatted(dir));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Proc proc = Proc.start("containerd", dir.resolve("containerd.log"), Map.of(),
        List.of("containerd", "--config", dir.resolve("containerd.toml").toString()), "containerd to answer",
        Duration.ofSeconds(60), () -> Files.exists(dir.resolve("containerd.sock")) && ctr(dir, "version").exit() == 0);
    return new Containerd(dir, proc);
  }

  /**
   * Points {@code registry} at {@code mirror} the way a node does ({@code certs.d/<registry>/hosts.toml}), with
   * {@code fallback} as the registry's own server (a dead end proves every byte came through the mirror).
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

  /** Pulls and unpacks {@code ref} through the certs.d mirrors. */
  public void pull(String ref) {
    check(ctr(dir, "images", "pull", "--hosts-dir", dir.resolve("certs.d").toString(), ref), "pull " + ref);
  }

  /**
   * Empties containerd's image list and content store (each image as {@link #remove} does), so that the next pull
   * fetches every blob: two references to the same image share their layers.
   */
  public void forgetAll() {
    for (String ref : check(ctr(dir, "images", "ls", "-q"), "images ls").lines().filter(l -> !l.isBlank())
        .toList()) {
      remove(ref);
    }
    check(ctr(dir, "content", "prune", "references"), "content prune references");
  }

  /**
   * Forgets image {@code ref} and its content, so that the next pull fetches it again; fails when it was not there
   * (ctr only warns "not found") or is still listed afterwards.
   */
  public void remove(String ref) {
    String removed = check(ctr(dir, "images", "rm", "--sync", ref), "images rm " + ref);
    if (removed.contains("not found")) {
      throw new IllegalStateException("ctr images rm " + ref + ": not found:\n" + removed);
    }
    check(ctr(dir, "content", "prune", "references"), "content prune references");
    if (check(ctr(dir, "images", "ls", "-q"), "images ls").lines().anyMatch(ref::equals)) {
      throw new IllegalStateException("ctr images rm " + ref + " succeeded, but the image is still listed");
    }
  }

  private static Proc.Result ctr(Path dir, String... args) {
    List<String> command = new ArrayList<>(List.of("ctr", "-a", dir.resolve("containerd.sock").toString()));
    command.addAll(List.of(args));
    return Proc.exec(Duration.ofMinutes(5), command);
  }

  private String check(Proc.Result r, String what) {
    if (r.exit() != 0) {
      String log = proc.log();
      throw new IllegalStateException("ctr " + what + " failed (" + r.exit() + "):\n" + r.output()
          + "\ncontainerd log:\n" + log.substring(Math.max(0, log.length() - 3000)));
    }
    return r.output();
  }

  /** Stops containerd and unmounts the snapshots it left mounted, so that its directory can be deleted. */
  @Override
  public void close() {
    proc.close();
    Proc.exec(Duration.ofSeconds(30), List.of("sh", "-c",
        "grep ' " + dir + "' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l"));
  }
}
