package io.jitdi.jit.sources;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A local or NFS file, or a directory walked recursively in sorted order. Every file must resolve (symlinks followed)
 * inside one of {@code jit.fileRoots}; anything else, and any device, socket or pipe, is refused.
 */
public final class FileSource implements Source {
  private final String rule;
  private final Path path;
  private final List<Path> roots;

  public FileSource(String rule, Path path, List<Path> roots) {
    this.rule = rule;
    this.path = path;
    this.roots = List.copyOf(roots);
  }

  @Override
  public Listing list() throws IOException {
    Path real;
    try {
      real = path.toRealPath();
    } catch (NoSuchFileException e) {
      throw new IOException("source " + path + " does not exist");
    }
    List<Path> realRoots = new ArrayList<>();
    for (Path root : roots) {
      if (Files.exists(root)) {
        realRoots.add(root.toRealPath());
      }
    }
    checkInside(real, realRoots);
    List<SourceFile> files = new ArrayList<>();
    StringBuilder identity = new StringBuilder("file:").append(real).append('\n');
    if (Files.isRegularFile(real)) {
      BasicFileAttributes a = Files.readAttributes(real, BasicFileAttributes.class);
      files.add(new SourceFile(real.getFileName().toString(), a.size(), -1, () -> Files.newInputStream(real)));
      identity.append(a.size()).append('|').append(a.lastModifiedTime().toMillis());
    } else if (Files.isDirectory(real)) {
      List<Path> walked;
      try (Stream<Path> walk = Files.walk(real, FileVisitOption.FOLLOW_LINKS)) {
        walked = walk.filter(p -> !p.equals(real)).sorted(Comparator.comparing(p -> real.relativize(p).toString()))
            .toList();
      }
      for (Path p : walked) {
        Path target = p.toRealPath();
        checkInside(target, realRoots);
        if (Files.isDirectory(target)) {
          continue;
        }
        if (!Files.isRegularFile(target)) {
          throw SourcePaths.refused(rule, p + " is not a regular file");
        }
        String name = real.relativize(p).toString().replace('\\', '/');
        BasicFileAttributes a = Files.readAttributes(target, BasicFileAttributes.class);
        files.add(new SourceFile(name, a.size(), -1, () -> Files.newInputStream(target)));
        identity.append(name).append('|').append(a.size()).append('|').append(a.lastModifiedTime().toMillis())
            .append('\n');
      }
    } else {
      throw SourcePaths.refused(rule, path + " is not a regular file or directory");
    }
    String id = "file:" + Digest.sha256Of(identity.toString().getBytes(StandardCharsets.UTF_8)).hex();
    return new Listing(id, files);
  }

  private void checkInside(Path real, List<Path> realRoots) {
    for (Path root : realRoots) {
      if (real.startsWith(root)) {
        return;
      }
    }
    throw SourcePaths.refused(rule, "local source " + path + " resolves to " + real + ", outside jit.fileRoots "
        + roots);
  }

  @Override
  public String describe() {
    return path.toString();
  }
}
