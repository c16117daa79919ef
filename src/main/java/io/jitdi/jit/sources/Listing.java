package io.jitdi.jit.sources;

import java.util.List;

/**
 * What a source gives, known without reading content.
 *
 * @param identity changes whenever the content may have changed (path+size+mtime, ETag, a pinned sha256, a commit or
 *     manifest digest); it is part of the build key
 * @param files sorted by name
 * @param notes what a dry run could not list (e.g. a tar layer whose files are known only once it is fetched)
 * @param tars tar layers whose files are known only once they are read: a build reads each once, as it arrives, and
 *     places its files beside {@code files} (see {@link TarLayer})
 */
public record Listing(String identity, List<SourceFile> files, List<String> notes, List<TarLayer> tars) {
  public Listing {
    files = List.copyOf(files);
    notes = List.copyOf(notes);
    tars = List.copyOf(tars);
  }

  public Listing(String identity, List<SourceFile> files) {
    this(identity, files, List.of(), List.of());
  }

  /** The bytes a build reads from the source: its files' and its tar layers' sizes. */
  public long bytes() {
    return files.stream().mapToLong(SourceFile::size).sum() + tars.stream().mapToLong(TarLayer::size).sum();
  }
}
