package io.jitdi.jit.sources;

import java.util.List;

/**
 * What a source gives, known without reading content.
 *
 * @param identity changes whenever the content may have changed (path+size+mtime, ETag, a pinned sha256, a commit or
 *     manifest digest); it is part of the build key
 * @param files sorted by name
 * @param notes what a dry run could not list (e.g. a tar layer whose files are known only once it is fetched)
 */
public record Listing(String identity, List<SourceFile> files, List<String> notes) {
  public Listing {
    files = List.copyOf(files);
    notes = List.copyOf(notes);
  }

  public Listing(String identity, List<SourceFile> files) {
    this(identity, files, List.of());
  }

  public long bytes() {
    return files.stream().mapToLong(SourceFile::size).sum();
  }
}
