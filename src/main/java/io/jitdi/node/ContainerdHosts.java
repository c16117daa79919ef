package io.jitdi.node;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * containerd's per-registry host files ({@code <dir>/<registry>/hosts.toml}, read when containerd's CRI
 * {@code config_path} points at {@code dir}) that send pulls to a jitdi mirror first and keep the registry itself as
 * the fallback {@code server}, so a node still pulls when jitdi is down.
 *
 * <p>Contract: {@link #apply} is idempotent (a file with the wanted content is left alone) and replaces each file
 * atomically (write beside it, then rename), so containerd never reads half a file. Files jitdi wrote carry
 * {@link #MARKER} on their first line; a {@code hosts.toml} without it belongs to someone else and is never
 * overwritten or removed unless forced.
 */
public final class ContainerdHosts {
  /** The first line of every file jitdi writes. */
  public static final String MARKER = "# written by jitdi containerd-config";
  /** containerd's name for "every registry without its own directory". */
  public static final String DEFAULT_HOST = "_default";

  private static final Pattern REGISTRY =
      Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?");

  /** What {@link #apply} did to one registry's file. */
  public enum Outcome { WRITTEN, UNCHANGED, REMOVED, ABSENT }

  /** One registry's file and what happened to it. */
  public record Change(String registry, Path file, Outcome outcome) {}

  private final Path dir;
  private final URI mirror;

  /**
   * @param dir containerd's {@code config_path} (usually {@code /etc/containerd/certs.d})
   * @param mirror jitdi's base URL as the node reaches it, e.g. {@code http://127.0.0.1:8888}
   * @throws IllegalArgumentException when the mirror is not an absolute http(s) URL without a path
   */
  public ContainerdHosts(Path dir, String mirror) {
    this.dir = dir;
    this.mirror = parseMirror(mirror);
  }

  /**
   * Checks a registry host as containerd names its directory: {@code host[:port]} in lower case, or {@link
   * #DEFAULT_HOST}.
   *
   * @throws IllegalArgumentException naming the bad value and what is expected
   */
  public static String checkRegistry(String registry) {
    if (registry.equals(DEFAULT_HOST) || (registry.length() <= 253 && REGISTRY.matcher(registry).matches())) {
      return registry;
    }
    throw new IllegalArgumentException("\"" + registry + "\" is not a registry host: write host[:port] in lower case "
        + "as in image names (docker.io, ghcr.io, registry.local:5000), or _default for every other registry");
  }

  private static URI parseMirror(String mirror) {
    try {
      URI uri = new URI(mirror.endsWith("/") ? mirror.substring(0, mirror.length() - 1) : mirror);
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null
          || !(uri.getRawPath() == null || uri.getRawPath().isEmpty()) || uri.getRawQuery() != null) {
        throw new URISyntaxException(mirror, "not an http(s) URL of the form http://host:port");
      }
      return uri;
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("--mirror \"" + mirror + "\" is not jitdi's base URL: write it as "
          + "http://127.0.0.1:8888 (scheme, host and port, no path)");
    }
  }

  /** The server containerd falls back to for {@code registry}: the registry itself ({@code null} for the default). */
  static String fallbackServer(String registry) {
    if (registry.equals(DEFAULT_HOST)) {
      return null;
    }
    return registry.equals("docker.io") ? "https://registry-1.docker.io" : "https://" + registry;
  }

  /** The {@code hosts.toml} for {@code registry}. */
  public String render(String registry) {
    StringBuilder toml = new StringBuilder(MARKER).append("; remove with: jitdi containerd-config --remove\n");
    String server = fallbackServer(registry);
    if (server != null) {
      toml.append("server = \"").append(server).append("\"\n");
    }
    toml.append("\n[host.\"").append(mirror).append("\"]\n")
        .append("  capabilities = [\"pull\", \"resolve\"]\n");
    return toml.toString();
  }

  /** The file containerd reads for {@code registry}. */
  public Path file(String registry) {
    return dir.resolve(checkRegistry(registry)).resolve("hosts.toml");
  }

  /**
   * Writes each registry's file (creating directories as needed).
   *
   * @param force also replace files jitdi did not write
   * @throws IOException when a file cannot be written, or belongs to someone else and {@code force} is false (then
   *     nothing is written for that registry or any after it)
   */
  public List<Change> apply(List<String> registries, boolean force) throws IOException {
    List<Change> changes = new ArrayList<>();
    for (String registry : registries) {
      Path file = file(registry);
      String wanted = render(registry);
      String existing = read(file);
      if (wanted.equals(existing)) {
        changes.add(new Change(registry, file, Outcome.UNCHANGED));
        continue;
      }
      if (existing != null && !existing.startsWith(MARKER) && !force) {
        throw new IOException(file + " exists and was not written by jitdi; move it away, merge the mirror into it "
            + "by hand, or pass --force to replace it");
      }
      Files.createDirectories(file.getParent());
      Path tmp = Files.createTempFile(file.getParent(), ".hosts.toml.", ".tmp");
      try {
        Files.writeString(tmp, wanted, StandardCharsets.UTF_8);
        try {
          Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
      } finally {
        Files.deleteIfExists(tmp);
      }
      changes.add(new Change(registry, file, Outcome.WRITTEN));
    }
    return changes;
  }

  /**
   * Removes the files jitdi wrote for {@code registries}, and their directories when that leaves them empty. Files
   * someone else wrote are kept (outcome {@link Outcome#UNCHANGED}).
   */
  public List<Change> remove(List<String> registries) throws IOException {
    List<Change> changes = new ArrayList<>();
    for (String registry : registries) {
      Path file = file(registry);
      String existing = read(file);
      if (existing == null) {
        changes.add(new Change(registry, file, Outcome.ABSENT));
      } else if (!existing.startsWith(MARKER)) {
        changes.add(new Change(registry, file, Outcome.UNCHANGED));
      } else {
        Files.delete(file);
        try (var left = Files.list(file.getParent())) {
          if (left.findAny().isEmpty()) {
            Files.delete(file.getParent());
          }
        }
        changes.add(new Change(registry, file, Outcome.REMOVED));
      }
    }
    return changes;
  }

  private static String read(Path file) throws IOException {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return null;
    }
  }
}
