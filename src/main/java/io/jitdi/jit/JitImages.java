package io.jitdi.jit;

import com.fasterxml.jackson.databind.JsonNode;
import io.jitdi.cache.BlobStore;
import io.jitdi.cache.Blobs;
import io.jitdi.cache.Cache;
import io.jitdi.cache.MetadataStore;
import io.jitdi.cache.Manifests;
import io.jitdi.cache.BlobBody;
import io.jitdi.cache.BlobOrigins;
import io.jitdi.cache.BlobStore.TempBlob;
import io.jitdi.stream.DigestingFileSink;
import io.jitdi.concurrent.Io;
import io.jitdi.concurrent.SingleFlight;
import io.jitdi.oci.Platform;
import io.jitdi.config.JitConfig;
import io.jitdi.jit.compose.Composer;
import io.jitdi.jit.layer.LayerBuilder;
import io.jitdi.jit.sources.Listing;
import io.jitdi.jit.sources.SourcePaths;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Descriptor;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ImageName;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.ImageReference;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.MediaType;
import io.jitdi.oci.Reference;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.jitdi.oci.Tag;
import io.jitdi.upstream.Bodies;
import io.jitdi.upstream.UpstreamClient;
import io.jitdi.upstream.UpstreamRouter;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Just-in-time images: answers manifest requests that match a rule with an image built from the rule's base and
 * sources, and finds the blobs those images refer to.
 *
 * <p>Contract:
 * <ul>
 *   <li>A tag's answer is trusted for {@code jit.ttl}. After that the plan is made again: the base is revalidated
 *       (through the manifest cache) and every source's identity is read again (stat, HEAD). The same build key means
 *       the same image, answered without building.</li>
 *   <li>The build key is the rule's definition, the captures, the base manifest digest and each platform's files with
 *       their sources' identities. Builds run once per key at a time, detached from requests: a client that goes
 *       away does not cancel one. A failed build is not remembered.</li>
 *   <li>A request waits for a build at most {@code jit.waitBudget}, then gets 429 {@code TOOMANYREQUESTS} with
 *       {@code Retry-After} and the build's progress; the build goes on.</li>
 *   <li>Every blob a JIT image refers to is findable: built ones have a recipe (and are built again, and checked
 *       against their digest, if they were evicted); base ones have an origin (upstream and repository).</li>
 * </ul>
 */
public final class JitImages implements BlobOrigins {
  private static final Logger LOG = LoggerFactory.getLogger(JitImages.class);
  /** Manifest types jitdi can extend (schema1 cannot be). */
  private static final String BASE_ACCEPT = String.join(", ", List.of(MediaType.DOCKER_MANIFEST,
      MediaType.DOCKER_MANIFEST_LIST, MediaType.OCI_INDEX, MediaType.OCI_MANIFEST).stream().map(MediaType::value)
      .sorted().toList());
  private static final List<Platform> MODEL_ONLY_PLATFORMS = List.of(new Platform("linux", "amd64", Optional.empty()),
      new Platform("linux", "arm64", Optional.empty()));
  private static final int MAX_CONFIG_BYTES = 16 << 20;
  private static final int KEEP_FINISHED = 50;

  /** A JIT answer, and whether it was built now (or was already there). */
  public record Outcome(Manifest manifest, boolean built) {}

  private record BasePlatform(Platform platform, JsonNode node, Manifest manifest, byte[] config) {}

  private record Base(UpstreamClient upstream, RepositoryName repository, Manifest top, List<BasePlatform> platforms) {}

  private record PlatformPlan(Platform platform, JsonNode node, Optional<BasePlatform> base, Planner.LayerFiles files) {}

  private record Plan(String image, RuleSet.Match match, Optional<Base> base, List<PlatformPlan> platforms,
      Digest key) {}

  /** What a build made: the top manifest or index, the platform manifests, the layers and every built blob. */
  private record Made(Manifest top, List<Map.Entry<JsonNode, Manifest>> platforms, Map<String, Composer.Layer> layers,
      List<Digest> blobs) {}

  private final Vertx vertx;
  private final RuleSet rules;
  private final JitConfig config;
  private final UpstreamRouter router;
  private final Manifests manifests;
  private final Blobs blobs;
  private final BlobStore store;
  private final MetadataStore index;
  private final Io io;
  private final JitdiMetrics metrics;
  private final Clock clock;
  private final Planner planner;
  private final SingleFlight<String, Outcome> builds = new SingleFlight<>();
  private final ConcurrentHashMap<String, BuildProgress> running = new ConcurrentHashMap<>();
  private final ConcurrentLinkedDeque<BuildProgress> finished = new ConcurrentLinkedDeque<>();
  private final AtomicInteger inflight = new AtomicInteger();

  public JitImages(Vertx vertx, RuleSet rules, JitConfig config, UpstreamRouter router, Cache cache, Io io,
      JitdiMetrics metrics, Clock clock, Planner planner) {
    this.vertx = vertx;
    this.rules = rules;
    this.config = config;
    this.router = router;
    this.manifests = cache.manifests();
    this.blobs = cache.blobs();
    this.store = cache.store();
    this.index = cache.index();
    this.io = io;
    this.metrics = metrics;
    this.clock = clock;
    this.planner = planner;
    metrics.gauge("jitdi.jit.builds.inflight", "JIT image builds in progress", inflight, AtomicInteger::get);
    for (Rule rule : rules.rules()) {
      for (String result : List.of("built", "cached", "failed")) {
        metrics.registerJitBuild(rule.name(), result);
      }
    }
    vertx.setPeriodic(5_000, t -> running.values().stream().filter(b -> b.seconds() > 5)
        .forEach(b -> LOG.info("build {} {}", b.image(), b.describe())));
  }

  public boolean enabled() {
    return !rules.isEmpty();
  }

  public Optional<RuleSet.Match> match(String registry, RepositoryName name, Tag tag) {
    return rules.match(registry, name.value(), tag.value());
  }

  /**
   * The JIT image for a matched request: from the cache within {@code jit.ttl}, or from a build, waiting at most
   * {@code jit.waitBudget}.
   */
  public Future<Outcome> manifest(RuleSet.Match match, String registry, RepositoryName name, Tag tag) {
    String image = registry + "/" + name + ":" + tag;
    Promise<Outcome> answer = Promise.promise();
    resolve(image, match, false).onComplete(ar -> {
      if (ar.succeeded()) {
        answer.tryComplete(ar.result());
      } else {
        answer.tryFail(ar.cause());
      }
    });
    long timer = vertx.setTimer(Math.max(1, config.waitBudget().toMillis()), t -> {
      BuildProgress progress = running.values().stream().filter(b -> b.image().equals(image)).findFirst()
          .orElse(null);
      String state = progress == null ? "planning" : progress.describe();
      answer.tryFail(new RegistryException(ErrorCode.TOOMANYREQUESTS, 429, "building " + image + " (" + state
          + "); the build goes on, retry", Map.of("image", image), Duration.ofSeconds(progress == null ? 5
          : progress.retryAfterSeconds()), null));
    });
    return answer.future().andThen(ar -> vertx.cancelTimer(timer));
  }

  /** Starts building {@code image} (if needed) without waiting; the answer says what is going on. */
  public Future<JsonObject> prefetch(RuleSet.Match match, String registry, RepositoryName name, Tag tag) {
    String image = registry + "/" + name + ":" + tag;
    Future<Outcome> build = resolve(image, match, false);
    Promise<JsonObject> answer = Promise.promise();
    build.onComplete(ar -> answer.tryComplete(ar.succeeded()
        ? new JsonObject().put("image", image).put("state", "done").put("digest", ar.result().manifest().digest()
            .toString())
        : new JsonObject().put("image", image).put("state", "failed").put("error", ar.cause().getMessage())));
    // answer 202 with the build's progress as soon as it runs (planning, e.g. HEADs of http sources, may take a while)
    long poll = vertx.setPeriodic(100, t -> running.values().stream().filter(b -> b.image().equals(image))
        .findFirst().ifPresent(b -> answer.tryComplete(b.toJson())));
    answer.future().onComplete(ar -> vertx.cancelTimer(poll));
    return answer.future();
  }

  /** Builds in progress and the last finished ones, newest first. */
  public List<JsonObject> builds() {
    List<BuildProgress> all = new ArrayList<>(running.values());
    all.addAll(finished);
    return all.stream().map(BuildProgress::toJson).toList();
  }

  private Future<Outcome> resolve(String image, RuleSet.Match match, boolean rebuild) {
    String rule = match.rule().name();
    return io.call(() -> record("t|" + image)).compose(tagRecord -> {
      if (!rebuild && tagRecord.isPresent() && clock.millis() - tagRecord.get().getLong("checkedAt")
          < config.ttl().toMillis()) {
        Digest digest = Digest.parse(tagRecord.get().getString("digest"));
        return manifests.stored(digest).compose(m -> m.isPresent()
            ? Future.succeededFuture(new Outcome(m.get(), false)) : plan(image, match).compose(p -> build(p, false)));
      }
      return plan(image, match).compose(plan -> io.call(() -> record("b|" + plan.key().hex())).compose(build -> {
        if (!rebuild && build.isPresent()) {
          Digest digest = Digest.parse(build.get().getString("digest"));
          return manifests.stored(digest).compose(m -> m.isPresent()
              ? io.call(() -> {
                putRecord("t|" + image, tagRecord(plan.key(), m.get()));
                return new Outcome(m.get(), false);
              }) : build(plan, false));
        }
        return build(plan, rebuild);
      }));
    }).recover(e -> Future.failedFuture(e instanceof RegistryException ? e : new RegistryException(
        ErrorCode.UNAVAILABLE, 502, "building " + image + " (rule " + rule + ") failed: " + describe(e),
        Map.of("image", image, "rule", rule), null, e))).andThen(ar -> {
      if (ar.failed()) {
        metrics.jitBuild(rule, "failed");
        LOG.warn("JIT image {} (rule {}) failed: {}", image, rule, ar.cause().getMessage());
      } else {
        metrics.jitBuild(rule, ar.result().built() ? "built" : "cached");
      }
    });
  }

  private Future<Outcome> build(Plan plan, boolean rebuild) {
    SingleFlight.Joined<Outcome> joined = builds.run(plan.key().hex(), () -> {
      BuildProgress progress = new BuildProgress(plan.key().hex().substring(0, 12), plan.image(),
          plan.match().rule().name());
      running.put(progress.id(), progress);
      inflight.incrementAndGet();
      long started = System.nanoTime();
      return runBuild(plan, progress).andThen(ar -> {
        inflight.decrementAndGet();
        running.remove(progress.id());
        if (ar.succeeded()) {
          progress.succeeded(ar.result().manifest().digest().toString());
          metrics.jitBuildDuration(plan.match().rule().name(), Duration.ofNanos(System.nanoTime() - started));
          LOG.info("built {} as {} in {}s", plan.image(), ar.result().manifest().digest(),
              String.format("%.2f", (System.nanoTime() - started) / 1e9));
        } else {
          progress.failed(ar.cause().getMessage());
        }
        finished.addFirst(progress);
        while (finished.size() > KEEP_FINISHED) {
          finished.pollLast();
        }
      });
    });
    return joined.future();
  }

  private Future<Plan> plan(String image, RuleSet.Match match) {
    Rule rule = match.rule();
    Future<Optional<Base>> base = rule.base().isPresent() ? base(rule, match.captures()).map(Optional::of)
        : Future.succeededFuture(Optional.empty());
    return base.compose(b -> io.call(() -> {
      List<PlatformPlan> platforms = new ArrayList<>();
      Map<String, Listing> listings = new LinkedHashMap<>();
      if (b.isPresent()) {
        for (BasePlatform bp : b.get().platforms()) {
          platforms.add(new PlatformPlan(bp.platform(), bp.node(), Optional.of(bp), planner.files(rule,
              match.captures(), bp.platform(), listings)));
        }
      } else {
        for (Platform p : rule.platforms().isEmpty() ? MODEL_ONLY_PLATFORMS : rule.platforms()) {
          platforms.add(new PlatformPlan(p, Composer.platform(p), Optional.empty(), planner.files(rule,
              match.captures(), p, listings)));
        }
      }
      StringBuilder key = new StringBuilder("jitdi-build-v1\n").append(rule.definition()).append('\n')
          .append(new TreeMap<>(match.captures())).append('\n')
          .append(b.map(x -> x.top().digest().toString()).orElse("no base")).append('\n');
      for (PlatformPlan p : platforms) {
        key.append(p.platform()).append('|').append(p.files().identity()).append('\n');
      }
      return new Plan(image, match, b, platforms, Digest.sha256Of(key.toString().getBytes(StandardCharsets.UTF_8)));
    }));
  }

  private Future<Base> base(Rule rule, Map<String, String> captures) {
    ImageReference ref;
    try {
      ref = ImageReference.parse(Templates.render(rule.base().orElseThrow(), captures));
    } catch (RegistryException | IllegalArgumentException e) {
      return Future.failedFuture(SourcePaths.refused(rule.name(), "base: " + e.getMessage()));
    }
    UpstreamClient upstream = router.upstreams().get(ref.registry());
    if (upstream == null) {
      return Future.failedFuture(SourcePaths.refused(rule.name(), "base registry " + ref.registry()
          + " is not configured"));
    }
    return manifests.get(upstream, ref.repository(), ref.reference(), BASE_ACCEPT, true).compose(answer -> {
      Manifest top = answer.manifest().orElseThrow();
      if (!top.mediaType().isIndex()) {
        return config(upstream, ref.repository(), top).map(config -> new Base(upstream, ref.repository(), top,
            List.of(new BasePlatform(platformOf(config), Composer.platform(platformOf(config)), top, config))));
      }
      List<Future<BasePlatform>> wanted = new ArrayList<>();
      for (Descriptor entry : top.children()) {
        Optional<Platform> listed = entry.platform();
        if (listed.isEmpty() || listed.get().os().equals("unknown") || !wanted(rule, listed.get())) {
          continue;
        }
        Platform platform = listed.get();
        JsonNode node = entry.json().get("platform");
        Digest digest = entry.digest();
        wanted.add(manifests.get(upstream, ref.repository(), Reference.of(digest), BASE_ACCEPT, true)
            .compose(m -> config(upstream, ref.repository(), m.manifest().orElseThrow())
                .map(config -> new BasePlatform(platform, node, m.manifest().orElseThrow(), config))));
      }
      if (wanted.isEmpty()) {
        return Future.failedFuture(SourcePaths.refused(rule.name(), "base " + ref + " has none of the platforms "
            + rule.platforms()));
      }
      return Future.all(wanted).map(all -> new Base(upstream, ref.repository(), top, all.<BasePlatform>list()));
    });
  }

  private static boolean wanted(Rule rule, Platform p) {
    return rule.platforms().isEmpty() || rule.platforms().stream().anyMatch(w -> w.os().equals(p.os())
        && w.architecture().equals(p.architecture()) && (w.variant().isEmpty() || w.variant().equals(p.variant())));
  }

  private static Platform platformOf(byte[] config) {
    try {
      JsonNode c = new com.fasterxml.jackson.databind.ObjectMapper().readTree(config);
      return Platform.of(c).orElse(new Platform("linux", "amd64", Optional.empty()));
    } catch (IOException e) {
      throw new RegistryException(ErrorCode.MANIFEST_INVALID, 502, "the base image's config is not JSON", Map.of(),
          null, e);
    }
  }

  /** The config blob of a base manifest, through the blob cache. */
  private Future<byte[]> config(UpstreamClient upstream, RepositoryName repo, Manifest manifest) {
    Optional<Descriptor> config = manifest.config();
    if (config.isEmpty()) {
      return Future.failedFuture(new RegistryException(ErrorCode.MANIFEST_INVALID, 502, "base manifest "
          + manifest.digest() + " has no config", Map.of(), null, null));
    }
    return blobBytes(upstream, repo, config.get().digest());
  }

  private Future<byte[]> blobBytes(UpstreamClient upstream, RepositoryName repo, Digest digest) {
    return blobs.whole(upstream, repo, digest).compose(body -> {
      if (body.size() > MAX_CONFIG_BYTES) {
        body.release();
        return Future.failedFuture(new IOException("config " + digest + " is larger than 16 MiB"));
      }
      if (body instanceof BlobBody.FromFile file) {
        return io.call(() -> {
          try {
            ByteBuffer bytes = ByteBuffer.allocate((int) file.size());
            while (bytes.hasRemaining() && file.file().channel().read(bytes, bytes.position()) >= 0) {
              // reads until full
            }
            return bytes.array();
          } finally {
            body.release();
          }
        });
      }
      return ((BlobBody.Relayed) body).upstream().readAll(MAX_CONFIG_BYTES).compose(bytes -> io.call(() -> {
        if (!Digest.sha256Of(bytes).equals(digest)) {
          throw new RegistryException(ErrorCode.DIGEST_INVALID, 502, "config " + digest + " does not match", Map.of(),
              null, null);
        }
        return bytes;
      }));
    });
  }

  private Future<Outcome> runBuild(Plan plan, BuildProgress progress) {
    Rule rule = plan.match().rule();
    long bytes = plan.platforms().stream().map(PlatformPlan::files).distinct().mapToLong(Planner.LayerFiles::bytes)
        .sum();
    progress.total(bytes);
    progress.state(BuildProgress.State.building);
    // room for the layers (tar headers and padding included) before any is written; an eviction may run first
    long estimate = bytes + (1L << 20) * plan.platforms().size();
    return store.reserve(estimate).compose(reserved -> io.call(() -> {
      Optional<JsonObject> previous = record("b|" + plan.key().hex());
      Map<String, Composer.Layer> layers = new LinkedHashMap<>();
      long before = 0;
      for (PlatformPlan p : plan.platforms()) {
        String identity = p.files().identity();
        if (p.files().isEmpty() || layers.containsKey(identity)) {
          continue;
        }
        Optional<Composer.Layer> known = previous.map(b -> b.getJsonObject("layers").getJsonObject(identity))
            .map(JitImages::layerOf).filter(l -> exists(l.digest()));
        if (known.isPresent()) {
          layers.put(identity, known.get());
          continue;
        }
        long offset = before;
        layers.put(identity, buildLayer(rule, p.files(), n -> progress.done(offset + n)));
        before += p.files().bytes();
      }
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
    })).andThen(ar -> store.release(estimate)).compose(made -> {
      List<Future<Void>> stored = new ArrayList<>();
      made.platforms().forEach(e -> stored.add(manifests.store(e.getValue())));
      stored.add(manifests.store(made.top()));
      return Future.all(stored).compose(v -> io.call(() -> {
        recordBuild(plan, made);
        return new Outcome(made.top(), true);
      }));
    });
  }

  /** Builds one layer into the store (blocking; its room was reserved by the caller). */
  private Composer.Layer buildLayer(Rule rule, Planner.LayerFiles files, java.util.function.LongConsumer progress)
      throws Exception {
    try (TempBlob temp = store.newTemp()) {
      LayerBuilder.Built layer = LayerBuilder.build(files.entries(), rule.compression(), temp.channel(),
          io.executor(), progress);
      metrics.jitBuildBytes().increment(layer.size());
      temp.commitBuilt(new DigestingFileSink.Written(layer.digest(), layer.size()));
      return new Composer.Layer(layer.mediaType(), layer.digest(), layer.size(), layer.diffId());
    }
  }

  private boolean exists(Digest digest) {
    return store.holds(digest);
  }

  private void recordBuild(Plan plan, Made made) {
    Manifest top = made.top();
    JsonObject layerRecords = new JsonObject();
    made.layers().forEach((identity, l) -> layerRecords.put(identity, new JsonObject().put("mediaType", l.mediaType().value())
        .put("digest", l.digest().toString()).put("size", l.size()).put("diffId", l.diffId().toString())));
    putRecord("b|" + plan.key().hex(), new JsonObject().put("digest", top.digest().toString())
        .put("image", plan.image()).put("layers", layerRecords).put("builtAt", clock.millis()));
    JsonObject recipe = new JsonObject().put("image", plan.image()).put("key", plan.key().hex());
    for (Digest d : made.blobs()) {
      putRecord("r|" + d, recipe);
    }
    for (Map.Entry<JsonNode, Manifest> e : made.platforms()) {
      putRecord("r|" + e.getValue().digest(), recipe);
    }
    plan.base().ifPresent(base -> {
      JsonObject origin = new JsonObject().put("upstream", base.upstream().key()).put("repository",
          base.repository().value());
      for (BasePlatform bp : base.platforms()) {
        for (Descriptor blob : bp.manifest().blobs()) {
          putRecord("o|" + blob.digest(), origin);
        }
      }
    });
    putRecord("t|" + plan.image(), tagRecord(plan.key(), top));
  }

  private JsonObject tagRecord(Digest key, Manifest top) {
    return new JsonObject().put("key", key.hex()).put("digest", top.digest().toString()).put("checkedAt",
        clock.millis());
  }

  private static Composer.Layer layerOf(JsonObject l) {
    return new Composer.Layer(MediaType.of(l.getString("mediaType")), Digest.parse(l.getString("digest")),
        l.getLong("size"), Digest.parse(l.getString("diffId")));
  }

  /**
   * Where to get a blob this node has not got: for a blob a JIT image built, it is built again (and must come out
   * with the same digest) and then is in the store ({@code Optional.empty()} with the blob present); for a base blob,
   * its upstream and repository. Empty when jitdi knows nothing of it.
   */
  @Override
  public Future<Optional<Origin>> locate(Digest digest) {
    if (!enabled()) {
      return Future.succeededFuture(Optional.empty());
    }
    return io.call(() -> List.of(record("o|" + digest), record("r|" + digest))).compose(found -> {
      Optional<JsonObject> origin = found.get(0);
      Optional<JsonObject> recipe = found.get(1);
      if (recipe.isPresent()) {
        return rebuild(digest, recipe.get()).map(Optional.<Origin>empty());
      }
      if (origin.isPresent()) {
        UpstreamClient upstream = router.upstreams().get(origin.get().getString("upstream"));
        if (upstream != null) {
          return Future.succeededFuture(Optional.of(new Origin(upstream,
              RepositoryName.parse(origin.get().getString("repository")))));
        }
      }
      return Future.succeededFuture(Optional.empty());
    });
  }

  private Future<Void> rebuild(Digest digest, JsonObject recipe) {
    String image = recipe.getString("image");
    // recorded as registry/name:tag, the registry always first
    ImageName recorded = ImageName.parse(image);
    int slash = recorded.path().indexOf('/');
    String registry = recorded.path().substring(0, slash);
    RepositoryName name = RepositoryName.parse(recorded.path().substring(slash + 1));
    Tag tag = recorded.tag();
    Optional<RuleSet.Match> match = match(registry, name, tag);
    if (match.isEmpty()) {
      return Future.failedFuture(new RegistryException(ErrorCode.BLOB_UNKNOWN, 404, "blob " + digest + " was built "
          + "for " + image + ", which no rule matches any more", Map.of(), null, null));
    }
    LOG.info("blob {} of {} was evicted; building it again", digest, image);
    return plan(image, match.get()).compose(plan -> {
      if (!plan.key().hex().equals(recipe.getString("key"))) {
        return Future.failedFuture(new RegistryException(ErrorCode.BLOB_UNKNOWN, 404, "blob " + digest + " of "
            + image + " cannot be built again: its sources or base changed since; pull " + image + " again",
            Map.of(), null, null));
      }
      return build(plan, true).compose(outcome -> io.call(() -> {
        if (!exists(digest) && !manifestStored(digest)) {
          throw new RegistryException(ErrorCode.BLOB_UNKNOWN, 404, "building " + image + " again did not give "
              + digest, Map.of(), null, null);
        }
        return null;
      }));
    });
  }

  private static String describe(Throwable e) {
    Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
    return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
  }

  private boolean manifestStored(Digest digest) {
    return index.manifest(digest).isPresent();
  }

  private Optional<JsonObject> record(String key) {
    return index.jit(key).map(bytes -> new JsonObject(new String(bytes, StandardCharsets.UTF_8)));
  }

  private void putRecord(String key, JsonObject value) {
    index.putJit(key, value.encode().getBytes(StandardCharsets.UTF_8));
  }

  /** Rules, for the status page and dry runs. */
  public RuleSet rules() {
    return rules;
  }
}
