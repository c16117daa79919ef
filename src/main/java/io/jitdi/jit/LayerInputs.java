package io.jitdi.jit;

import io.jitdi.cache.BlobStore;
import io.jitdi.cache.BlobStore.TempBlob;
import io.jitdi.cache.OpenBlob;
import io.jitdi.oci.Digest;
import io.jitdi.stream.FileRegionStream;
import io.jitdi.jit.layer.LayerBuilder;
import io.jitdi.jit.sources.MeteredInputStream;
import io.jitdi.jit.sources.SourceFile;
import io.jitdi.jit.sources.TarLayer;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
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
  /** A layer entry that is file {@code file} of the artifact tar blob {@code tar}. */
  private record FromTar(Digest tar, SourceFile file) {}

  private final List<LayerBuilder.Entry> entries;
  private final List<TarLayer.Unpacked> unpacked;
  private final Spool spool;
  private final long contentBytes;
  /** The tar blobs' files by their path in the layer (no leading {@code /}). */
  private final Map<String, FromTar> fromTars;

  private LayerInputs(List<LayerBuilder.Entry> entries, List<TarLayer.Unpacked> unpacked, Spool spool,
      Map<String, FromTar> fromTars) {
    this.entries = List.copyOf(entries);
    this.unpacked = List.copyOf(unpacked);
    this.spool = spool;
    this.contentBytes = entries.stream().mapToLong(e -> e.file().size()).sum();
    this.fromTars = Map.copyOf(fromTars);
  }

  /**
   * Reads the tar layers of {@code files} (each once, to its verified end; or, for an artifact tar blob an earlier
   * build dropped, its files from the layer that build wrote them into) and meters every source.
   *
   * @param read told of every byte read from a source
   * @throws IOException when a tar layer fails (refused, not verified, not a tar); nothing is left behind then
   */
  static LayerInputs read(Planner.LayerFiles files, BlobStore store, JitRecords records, LongConsumer read)
      throws IOException {
    Spool spool = new Spool(store);
    List<TarLayer.Unpacked> unpacked = new ArrayList<>();
    try {
      List<LayerBuilder.Entry> entries = new ArrayList<>();
      for (LayerBuilder.Entry e : files.entries()) {
        SourceFile f = e.file();
        entries.add(new LayerBuilder.Entry(e.path(), f.withOpener(() -> new MeteredInputStream(f.opener().open(),
            read)), e.mode()));
      }
      Map<String, FromTar> fromTars = new HashMap<>();
      for (Planner.Unpack tar : files.tars()) {
        Optional<TarLayer.Unpacked> placed = placed(tar.layer(), store, records, read);
        TarLayer.Unpacked tarFiles = placed.isPresent() ? placed.get() : tar.layer().unpack(spool, read);
        unpacked.add(tarFiles);
        for (SourceFile f : tarFiles.files()) {
          LayerBuilder.Entry entry = tar.entry(f);
          entries.add(entry);
          tar.layer().blob().ifPresent(blob -> fromTars.put(LayerBuilder.pathInLayer(entry), new FromTar(blob, f)));
        }
      }
      return new LayerInputs(entries, unpacked, spool, fromTars);
    } catch (IOException | RuntimeException e) {
      close(unpacked, spool);
      throw e;
    }
  }

  /**
   * The files of artifact tar blob {@code tar} from the layer an earlier build wrote them into, when the blob itself
   * is no longer stored and that layer is. They are read in place, as the layer holds them (it was verified as it was
   * written, as any stored blob).
   */
  private static Optional<TarLayer.Unpacked> placed(TarLayer tar, BlobStore store, JitRecords records,
      LongConsumer read) throws IOException {
    Optional<Digest> blob = tar.blob();
    if (blob.isEmpty() || store.holds(blob.get())) {
      return Optional.empty();
    }
    Optional<JitRecords.TarIndex> index = records.tarIndex(blob.get());
    if (index.isEmpty()) {
      return Optional.empty();
    }
    Optional<OpenBlob> layer;
    io.vertx.core.Future<Optional<OpenBlob>> opening = store.open(index.get().layer());
    try {
      layer = opening.toCompletionStage().toCompletableFuture().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      opening.onSuccess(opened -> opened.ifPresent(OpenBlob::close)); // not read: let go of its pin
      throw new IOException("interrupted while opening layer " + index.get().layer(), e);
    } catch (ExecutionException e) {
      throw new IOException("layer " + index.get().layer() + ": " + e.getCause().getMessage(), e.getCause());
    }
    if (layer.isEmpty()) {
      return Optional.empty();
    }
    OpenBlob open = layer.get();
    List<SourceFile> files = new ArrayList<>();
    for (JitRecords.TarFile f : index.get().files()) {
      files.add(new SourceFile(f.name(), f.size(), f.mode(), () -> new MeteredInputStream(new FileRegionStream(
          open.channel(), f.offset(), f.size(), open.size(), () -> { }), read)));
    }
    return Optional.of(TarLayer.Unpacked.of(files, open::close));
  }

  /**
   * Where {@code layer} (written from these inputs, uncompressed) put every file of each artifact tar blob it holds
   * whole: the records that let a later build read them there.
   */
  Map<Digest, JitRecords.TarIndex> tarIndexes(LayerBuilder.Built layer) {
    // by tar, one place per file name (a tar unpacked to two destinations is held twice; either copy will do)
    Map<Digest, Map<String, JitRecords.TarFile>> byTar = new HashMap<>();
    for (LayerBuilder.Placed placed : layer.placed()) {
      FromTar from = fromTars.get(placed.path());
      if (from != null) {
        byTar.computeIfAbsent(from.tar(), t -> new java.util.TreeMap<>()).putIfAbsent(from.file().name(),
            new JitRecords.TarFile(from.file().name(), placed.size(), from.file().mode(), placed.offset()));
      }
    }
    // an index only for a tar whose every file has a place (all of them do in an uncompressed layer)
    Map<Digest, Long> names = fromTars.values().stream().map(f -> Map.entry(f.tar(), f.file().name())).distinct()
        .collect(java.util.stream.Collectors.groupingBy(Map.Entry::getKey, java.util.stream.Collectors.counting()));
    Map<Digest, JitRecords.TarIndex> indexes = new HashMap<>();
    byTar.forEach((tar, tarFiles) -> {
      if (tarFiles.size() == names.get(tar)) {
        indexes.put(tar, new JitRecords.TarIndex(layer.digest(), List.copyOf(tarFiles.values())));
      }
    });
    return indexes;
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
