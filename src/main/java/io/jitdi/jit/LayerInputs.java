package io.jitdi.jit;

import io.jitdi.cache.BlobStore;
import io.jitdi.cache.BlobStore.TempBlob;
import io.jitdi.jit.layer.LayerBuilder;
import io.jitdi.jit.sources.MeteredInputStream;
import io.jitdi.jit.sources.SourceFile;
import io.jitdi.jit.sources.TarLayer;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Everything one layer is written from: the planned files, and the files of the plan's tar layers, each tar read once
 * as its fill arrives ({@link TarLayer#unpack}); a compressed tar's files are decompressed into a spool, a scratch
 * file under the store's {@code tmp/} that is never committed. Every byte read from a source, now or when the layer
 * is written, is told to the build's progress.
 *
 * <p>Why the tars are read before the layer is written, not while: the layer's entries are in name order (so its
 * digest depends on the files alone, not on how an artifact's tar happened to order them; it is the same on every
 * node, and the bytes earlier jitdi versions built, so recipes rebuild evicted layers to the same digest), and a
 * tar's entries may come in any order: its last entry may sort first.
 *
 * <p>Blocking; on the IO pool. Close it once the layer is written: the blobs held for reading in place are let go and
 * the spool is deleted.
 */
final class LayerInputs implements AutoCloseable {
  private final List<LayerBuilder.Entry> entries;
  private final List<TarLayer.Unpacked> unpacked;
  private final Spool spool;
  private final long contentBytes;

  private LayerInputs(List<LayerBuilder.Entry> entries, List<TarLayer.Unpacked> unpacked, Spool spool) {
    this.entries = List.copyOf(entries);
    this.unpacked = List.copyOf(unpacked);
    this.spool = spool;
    this.contentBytes = entries.stream().mapToLong(e -> e.file().size()).sum();
  }

  /**
   * Reads the tar layers of {@code files} (each once, to its verified end) and meters every source.
   *
   * @param read told of every byte read from a source
   * @throws IOException when a tar layer fails (refused, not verified, not a tar); nothing is left behind then
   */
  static LayerInputs read(Planner.LayerFiles files, BlobStore store, LongConsumer read) throws IOException {
    Spool spool = new Spool(store);
    List<TarLayer.Unpacked> unpacked = new ArrayList<>();
    try {
      List<LayerBuilder.Entry> entries = new ArrayList<>();
      for (LayerBuilder.Entry e : files.entries()) {
        SourceFile f = e.file();
        entries.add(new LayerBuilder.Entry(e.path(), new SourceFile(f.name(), f.size(), f.mode(),
            () -> new MeteredInputStream(f.opener().open(), read), f.blob()), e.mode()));
      }
      for (Planner.Unpack tar : files.tars()) {
        TarLayer.Unpacked tarFiles = tar.layer().unpack(spool, read);
        unpacked.add(tarFiles);
        tarFiles.files().forEach(f -> entries.add(tar.entry(f)));
      }
      return new LayerInputs(entries, unpacked, spool);
    } catch (IOException | RuntimeException e) {
      close(unpacked, spool);
      throw e;
    }
  }

  /** The layer's entries: planned files and tar layers' files, in no particular order. */
  List<LayerBuilder.Entry> entries() {
    return entries;
  }

  /** The bytes of file content the layer will hold. */
  long contentBytes() {
    return contentBytes;
  }

  /** The bytes the tar layers put into the spool. */
  long spooled() {
    return unpacked.stream().mapToLong(TarLayer.Unpacked::spooled).sum();
  }

  @Override
  public void close() throws IOException {
    close(unpacked, spool);
  }

  private static void close(List<TarLayer.Unpacked> unpacked, Spool spool) throws IOException {
    IOException failed = null;
    try {
      for (TarLayer.Unpacked u : unpacked) {
        try {
          u.close();
        } catch (IOException e) {
          failed = e;
        }
      }
    } finally {
      spool.close();
    }
    if (failed != null) {
      throw failed;
    }
  }

  /** The spool, made in the store's {@code tmp/} on first use and deleted on close, never committed. */
  private static final class Spool implements TarLayer.Spool {
    private final BlobStore store;
    private TempBlob temp;

    Spool(BlobStore store) {
      this.store = store;
    }

    @Override
    public FileChannel channel() throws IOException {
      if (temp == null) {
        temp = store.newTemp();
      }
      return temp.channel();
    }

    void close() throws IOException {
      if (temp != null) {
        temp.close();
      }
    }
  }
}
