package io.jitdi.jit.sources;

import java.util.List;

/**
 * What a source gives, known without reading content.
 *
 * @param identity changes whenever the content may have changed (path+size+mtime, ETag, a pinned sha256, a commit or
 *     manifest digest); it is part of the build key
 * @param files sorted by name
 */
public record Listing(String identity, List<SourceFile> files) {
  public Listing {
    files = List.copyOf(files);
  }

  public long bytes() {
    return files.stream().mapToLong(SourceFile::size).sum();
  }
}
