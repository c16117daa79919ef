package io.jitdi.cache;

import io.jitdi.oci.Digest;
import io.jitdi.stream.DigestingFileSink.Written;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A blob being written under {@code tmp/}: the one way content enters the store. Fills, JIT builds and imports all
 * write here and then either {@link #commit} (verified, moved into {@code blobs/}, recorded) or {@link #close()}
 * (deleted). Until it is committed the content is invisible to readers of the store.
 *
 * <p>The writer measures what it wrote (sha256 and size) while writing; {@link #commit} checks that against what was
 * expected and against the file, so a blob file exists only after its digest and size were verified. Blocking: call
 * {@link #commit} and {@link #close()} on the IO pool.
 */
public final class TempBlob implements AutoCloseable {
  /** The content did not hash to, or was not as long as, what was expected. The temp file is deleted. */
  public static final class MismatchException extends IOException {
    private static final long serialVersionUID = 1L;
    private final transient Written actual;

    MismatchException(Digest expected, long expectedSize, Written actual) {
      super("content for " + expected + (expectedSize >= 0 ? " (" + expectedSize + " bytes)" : "") + " is "
          + actual.size() + " bytes with digest " + actual.digest());
      this.actual = actual;
    }

    /** What the content really was. */
    public Written actual() {
      return actual;
    }
  }

  private final BlobStore store;
  private final Path path;
  private final FileChannel channel;
  private boolean finished;
  private volatile Digest committedAs;

  TempBlob(BlobStore store, Path path, FileChannel channel) {
    this.store = store;
    this.path = path;
    this.channel = channel;
  }

  /** Where to write the content (open for writing and reading, at position 0). */
  public FileChannel channel() {
    return channel;
  }

  /**
   * Commits content fetched from elsewhere: it must hash to {@code expected} and be {@code expectedSize} bytes long
   * ({@code -1}: any size). Committing content that is already in the store counts as success.
   *
   * @param written what the writer measured while writing
   * @throws MismatchException when it is not the expected content (the temp file is then deleted)
   */
  public void commit(Digest expected, long expectedSize, Written written) throws IOException {
    if (!written.digest().equals(expected) || (expectedSize >= 0 && written.size() != expectedSize)) {
      close();
      throw new MismatchException(expected, expectedSize, written);
    }
    commit(written, false);
  }

  /** Commits content jitdi made (a JIT layer or config): its digest is what it hashed to. */
  public void commitBuilt(Written written) throws IOException {
    commit(written, true);
  }

  private void commit(Written written, boolean jit) throws IOException {
    if (finished) {
      throw new IllegalStateException("temp blob finished twice");
    }
    if (channel.size() != written.size()) {
      close();
      throw new IOException("temp file of " + written.digest() + " is " + channel.size() + " bytes, but "
          + written.size() + " were written");
    }
    finished = true;
    committedAs = written.digest();
    store.commitBlocking(path, written.digest(), written.size(), channel, jit);
  }

  /**
   * Opens the content for reading by others while it is being written: the temp file, or the committed blob once it
   * was moved (an open descriptor stays valid across the move).
   */
  public FileChannel openReader() throws IOException {
    try {
      return FileChannel.open(path, StandardOpenOption.READ);
    } catch (java.nio.file.NoSuchFileException movedMeanwhile) {
      Digest moved = committedAs;
      if (moved == null) {
        throw movedMeanwhile;
      }
      return FileChannel.open(store.layout().blob(moved), StandardOpenOption.READ);
    }
  }

  /** Deletes the temp file unless it was committed; idempotent. */
  @Override
  public void close() throws IOException {
    if (finished) {
      return;
    }
    finished = true;
    try {
      channel.close();
    } finally {
      Files.deleteIfExists(path);
    }
  }

  static TempBlob adopt(BlobStore store, Path path) throws IOException {
    return new TempBlob(store, path, FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.READ));
  }

  static TempBlob create(BlobStore store, Path path) throws IOException {
    FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
        StandardOpenOption.READ);
    return new TempBlob(store, path, channel);
  }
}
