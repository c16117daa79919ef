package io.jitdi.jit;

import io.jitdi.jit.ImagePlanner.BasePlatform;
import io.jitdi.jit.ImagePlanner.Base;
import io.jitdi.jit.ImagePlanner.Plan;
import io.jitdi.jit.ImagePlanner.PlatformPlan;
import com.fasterxml.jackson.databind.JsonNode;
import io.jitdi.cache.BlobStore;
import io.jitdi.cache.Blobs;
import io.jitdi.cache.Manifests;
import io.jitdi.cache.BlobStore.TempBlob;
import io.jitdi.stream.DigestingFileSink;
import io.jitdi.stream.Envelope;
import io.jitdi.config.ImageRuleConfig.Compression;
import io.jitdi.jit.sources.SourceFile;
import io.jitdi.concurrent.Io;
import io.jitdi.jit.compose.Composer;
import io.jitdi.jit.layer.LayerBuilder;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Descriptor;
import io.jitdi.oci.Digest;
import io.jitdi.oci.Manifest;
import io.vertx.core.Future;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Builds a planned JIT image: one deterministic layer per distinct set of files (reusing a layer the same key built
 * before if it is still stored), each from its {@link LayerInputs} (tar sources read once, first) through a
 * {@link BlobStore.TempBlob}; then the configs and manifests are composed and stored, and the records that make every
 * blob findable again are written.
 */
final class ImageBuilder {
  /** What a build made: the top manifest or index, the platform manifests, the layers and every built blob. */
  private record Made(Manifest top, List<Map.Entry<JsonNode, Manifest>> platforms, Map<String, Composer.Layer> layers,
      List<Digest> blobs) {}

  /** Most bytes of the other files of a layer made around one artifact blob: they are held in memory. */
  private static final long ENVELOPE_OTHERS = 16L << 20;

  private final Manifests manifests;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ImageBuilder.class);
  private final Blobs blobs;
  private final BlobStore store;
  private final Io io;
  private final JitdiMetrics metrics;
  private final JitRecords records;
  private final Clock clock;

  ImageBuilder(Manifests manifests, Blobs blobs, BlobStore store, Io io, JitdiMetrics metrics, JitRecords records,
      Clock clock) {
    this.manifests = manifests;
    this.blobs = blobs;
    this.store = store;
    this.io = io;
    this.metrics = metrics;
    this.records = records;
    this.clock = clock;
  }

  /**
   * Builds {@code plan}: its layers into the store, configs and manifests composed and stored, records written.
   * Each layer's tar sources are read first (once each, as they arrive), then the layer is written; the progress
   * counts both.
   */
  Future<Manifest> build(Plan plan, BuildProgress progress) {
    long bytes = plan.platforms().stream().map(PlatformPlan::files).distinct().mapToLong(Planner.LayerFiles::bytes)
        .sum();
    progress.total(bytes);
    progress.state(BuildProgress.State.building);
    // room for the layers (tar headers and padding included) before any is written; an eviction may run first
    long estimate = bytes + (1L << 20) * plan.platforms().size();
    // admitted like a fill (eviction first, counting this build) when it fits; else reserved anyway, as a build
    // cannot be relayed: the budget may then be passed by what readers pin
    return store.reservePastBudget(estimate)
        .compose(reserved -> io.call(() -> records.build(plan.key())))
        .compose(previous -> layers(plan, previous, progress))
        .compose(layers -> io.call(() -> compose(plan, layers, progress)))
        .andThen(ar -> store.release(estimate)).compose(made -> {
          List<Future<Void>> stored = new ArrayList<>();
          made.platforms().forEach(e -> stored.add(manifests.store(e.getValue())));
          stored.add(manifests.store(made.top()));
          return Future.all(stored).compose(v -> io.call(() -> {
            recordBuild(plan, made);
            dropSources(plan, made);
            return made.top();
          }));
        })
        // a build may have passed the budget (its estimate, a model filled for it): back within it now, not at the
        // next fill
        .andThen(ar -> store.evict());
  }

  /**
   * One layer per distinct set of files, one after the other: the layer the same key built before, or any build made
   * of the same files (another base, another image of the model), when it is still stored; else a new one.
   */
  private Future<Map<String, Composer.Layer>> layers(Plan plan, Optional<JitRecords.BuildRecord> previous,
      BuildProgress progress) {
    Rule rule = plan.match().rule();
    Map<String, Composer.Layer> layers = new LinkedHashMap<>();
    long[] written = {0};
    Future<Void> chain = Future.succeededFuture();
    for (PlatformPlan p : plan.platforms()) {
      Planner.LayerFiles files = p.files();
      String identity = files.identity();
      chain = chain.compose(v -> {
        if (files.isEmpty() || layers.containsKey(identity)) {
          return Future.succeededFuture();
        }
        Optional<Composer.Layer> known = previous.map(b -> b.layers().get(identity));
        return io.call(() -> known.filter(l -> exists(l.digest()))
            .or(() -> records.layer(rule.compression(), identity).filter(l -> exists(l.digest()))))
            .compose(kept -> kept.isPresent()
            ? Future.succeededFuture(kept.get()) : layer(rule, files, progress, written))
            .map(layer -> {
              layers.put(identity, layer);
              return null;
            });
      });
    }
    return chain.map(v -> layers);
  }

  /**
   * Builds one layer into the store: in the fetch of its one artifact blob when it is a layer of one such file
   * ({@link #enveloped}), else {@link #copied} from its sources.
   */
  private Future<Composer.Layer> layer(Rule rule, Planner.LayerFiles files, BuildProgress progress, long[] written) {
    Optional<LayerBuilder.Entry> around = rule.compression() == Compression.none ? aroundOne(files)
        : Optional.empty();
    return around.map(inside -> enveloped(files, inside, progress, written))
        .orElseGet(() -> Future.succeededFuture(Optional.empty()))
        .compose(made -> made.isPresent() ? Future.succeededFuture(made.get()) : copied(rule, files, progress, written));
  }

  /**
   * The file of {@code files} an uncompressed layer can be made around ({@link #enveloped}): the largest one that is
   * an artifact blob, when there are no tars and the others are small enough to be held in memory.
   */
  private static Optional<LayerBuilder.Entry> aroundOne(Planner.LayerFiles files) {
    if (!files.tars().isEmpty()) {
      return Optional.empty();
    }
    Optional<LayerBuilder.Entry> largest = files.entries().stream().filter(e -> e.file().fetcher().isPresent())
        .max(java.util.Comparator.comparingLong(e -> e.file().size()));
    long others = files.entries().stream().mapToLong(e -> e.file().size()).sum()
        - largest.map(e -> e.file().size()).orElse(0L);
    return others <= ENVELOPE_OTHERS ? largest : Optional.empty();
  }

  /**
   * The uncompressed layer of {@code files} made in the fetch of its artifact blob {@code inside}: that blob is
   * written once, between the bytes of the layer before and after it (tar headers, the other files, padding), and the
   * layer's digest is computed as it arrives. Empty when the blob is at hand already (stored, being fetched, or in
   * another layer): the layer is then {@link #copied}.
   */
  private Future<Optional<Composer.Layer>> enveloped(Planner.LayerFiles files, LayerBuilder.Entry inside,
      BuildProgress progress, long[] written) {
    long offset = written[0];
    long[] counted = {0};
    return io.call(() -> {
      try (LayerInputs inputs = LayerInputs.read(files, store, records, progress::read)) {
        LayerBuilder.Enveloped made = LayerBuilder.envelope(inputs.entries(), inside);
        Envelope envelope = made.envelope();
        long others = inputs.contentBytes() - envelope.blobSize();
        progress.written(offset + others);
        return inside.file().fetcher().orElseThrow().fetchInto(envelope, container -> made.placed().forEach(p ->
            p.blob().ifPresent(blob -> records.putPlacement(blob, new JitRecords.Placement(container.digest(),
                p.offset(), p.size())))), total -> {
                  progress.read(total - counted[0]);
                  counted[0] = total;
                  progress.written(offset + others + total);
                }).map(container -> {
                  written[0] += inputs.contentBytes();
                  metrics.jitBuildBytes().increment(container.size());
                  LOG.info("layer {} made in the fetch of {} ({})", container.digest(),
                      inside.file().blob().map(Digest::toString).orElse(""), LayerBuilder.pathInLayer(inside));
                  return new Composer.Layer(LayerBuilder.mediaType(Compression.none), container.digest(),
                      container.size(), container.digest());
                });
      }
    });
  }

  /**
   * Builds one layer into the store by copying its files: its tar sources read (once each), room reserved for what
   * they turned out to hold, the layer written. {@code written} is the content the build's earlier layers wrote, and
   * grows by this one's.
   */
  private Future<Composer.Layer> copied(Rule rule, Planner.LayerFiles files, BuildProgress progress,
      long[] written) {
    return io.call(() -> LayerInputs.read(files, store, records, progress::read)).compose(inputs -> {
      progress.toWriteChanged(inputs.contentBytes() - files.bytes());
      // the plan reserved the tars' sizes; their files (and the spool a compressed one filled) may take more
      long extra = Math.max(0, inputs.contentBytes() + inputs.spooled() - files.bytes());
      long offset = written[0];
      written[0] += inputs.contentBytes();
      return (extra > 0 ? store.reserve(extra) : Future.<Void>succeededFuture())
          .compose(v -> io.call(() -> write(rule, inputs, n -> progress.written(offset + n))))
          .eventually(() -> {
            store.release(extra);
            return io.run(inputs::close);
          });
    });
  }

  /** Writes one layer into the store (blocking; its room was reserved by the caller). */
  private Composer.Layer write(Rule rule, LayerInputs inputs, java.util.function.LongConsumer progress)
      throws Exception {
    try (TempBlob temp = store.newTemp()) {
      LayerBuilder.Built layer = LayerBuilder.build(inputs.entries(), rule.compression(), temp.channel(),
          io.executor(), progress);
      metrics.jitBuildBytes().increment(layer.size());
      temp.commitBuilt(new DigestingFileSink.Written(layer.digest(), layer.size()));
      for (LayerBuilder.Placed placed : layer.placed()) {
        placed.blob().ifPresent(blob -> records.putPlacement(blob, new JitRecords.Placement(layer.digest(),
            placed.offset(), placed.size())));
      }
      inputs.tarIndexes(layer).forEach(records::putTarIndex);
      return new Composer.Layer(layer.mediaType(), layer.digest(), layer.size(), layer.diffId());
    }
  }

  /** Composes and stores the configs over {@code layers}, and the manifests (blocking). */
  private Made compose(Plan plan, Map<String, Composer.Layer> layers, BuildProgress progress) throws Exception {
    Rule rule = plan.match().rule();
    progress.state(BuildProgress.State.composing);
    List<Map.Entry<JsonNode, Manifest>> composed = new ArrayList<>();
    List<Digest> built = new ArrayList<>();
    layers.values().forEach(l -> built.add(l.digest()));
    boolean alias = rule.files().isEmpty() && rule.env().isEmpty() && rule.labels().isEmpty();
    for (PlatformPlan p : plan.platforms()) {
      if (alias) {
        break;
      }
      Optional<Composer.Layer> layer = Optional.ofNullable(layers.get(p.files().identity()));
      String createdBy = "jitdi rule " + rule.name() + ": " + String.join(", ", p.files().lines().stream()
          .map(Planner.Line::destination).toList());
      Composer.Changes changes = Planner.changes(rule, Planner.values(plan.match().captures(), p.platform()),
          createdBy);
      Composer.Image image = p.base().isPresent()
          ? Composer.extend(p.base().get().manifest(), p.base().get().config(), layer, changes)
          : Composer.scratch(p.platform(), layer.orElseThrow(), changes);
      Digest configDigest = Digest.sha256Of(image.config());
      if (!exists(configDigest)) {
        store.putBytes(configDigest, image.config());
      }
      built.add(configDigest);
      composed.add(Map.entry(p.node(), image.manifest()));
    }
    Manifest top;
    if (alias) {
      top = plan.base().orElseThrow().top();
    } else if (composed.size() == 1 && plan.base().map(b -> !b.top().mediaType().isIndex()).orElse(false)) {
      top = composed.get(0).getValue();
    } else {
      top = Composer.index(plan.base().map(Base::top).filter(m -> m.mediaType().isIndex()), composed);
    }
    return new Made(top, composed, layers, built);
  }

  /**
   * Removes the artifact blobs (Ollama models, OCI artifact layers, raw or tar) this build read into a layer that is
   * now stored, so the cache holds a model once: another image of the same files reuses the layer (see
   * {@link #layers}); a build of other files reads a raw blob back from an uncompressed layer's placement, and a
   * client's pull of a raw blob is answered from there too; only a tar, or a blob placed in a compressed layer, is
   * fetched again when something needs it. A blob a client pulled itself, or one being read, stays.
   */
  private void dropSources(Plan plan, Made made) {
    Map<Digest, Digest> sources = new LinkedHashMap<>();
    for (PlatformPlan p : plan.platforms()) {
      Composer.Layer layer = made.layers().get(p.files().identity());
      if (layer == null) {
        continue;
      }
      p.files().entries().forEach(e -> e.file().blob().ifPresent(blob -> sources.put(blob, layer.digest())));
      p.files().tars().forEach(t -> t.layer().blob().ifPresent(blob -> sources.put(blob, layer.digest())));
    }
    for (Map.Entry<Digest, Digest> source : sources.entrySet()) {
      try {
        if (exists(source.getValue()) && blobs.dropBuildSource(source.getKey())) {
          LOG.info("artifact blob {} removed after the build of {}: layer {} holds its bytes", source.getKey(),
              plan.image(), source.getValue());
        }
      } catch (java.io.IOException | RuntimeException e) {
        // the build is done and recorded: keeping a blob is only a cost
        LOG.warn("artifact blob {} stays in the cache after the build of {}: {}", source.getKey(), plan.image(),
            e.toString());
      }
    }
  }

  boolean exists(Digest digest) {
    return store.holds(digest);
  }

  private void recordBuild(Plan plan, Made made) {
    Manifest top = made.top();
    records.putBuild(plan.key(), new JitRecords.BuildRecord(top.digest(), plan.image(), made.layers(),
        clock.millis()));
    made.layers().forEach((identity, layer) -> records.putLayer(plan.match().rule().compression(), identity, layer));
    JitRecords.Recipe recipe = new JitRecords.Recipe(plan.image(), plan.key());
    for (Digest d : made.blobs()) {
      records.putRecipe(d, recipe);
    }
    for (Map.Entry<JsonNode, Manifest> e : made.platforms()) {
      records.putRecipe(e.getValue().digest(), recipe);
    }
    plan.base().ifPresent(base -> {
      JitRecords.BlobOrigin origin = new JitRecords.BlobOrigin(base.upstream().key(), base.repository());
      for (BasePlatform bp : base.platforms()) {
        for (Descriptor blob : bp.manifest().blobs()) {
          records.putOrigin(blob.digest(), origin);
        }
      }
    });
    records.putTag(plan.image(), new JitRecords.TagAnswer(plan.key(), top.digest(), clock.millis()));
  }
}
