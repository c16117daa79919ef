package io.jitdi.jit;

import io.jitdi.jit.ImagePlanner.Plan;
import io.jitdi.cache.Cache;
import io.jitdi.cache.MetadataStore;
import io.jitdi.cache.Manifests;
import io.jitdi.cache.BlobOrigins;
import io.jitdi.concurrent.Io;
import io.jitdi.config.JitConfig;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ImageName;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.jitdi.oci.Tag;
import io.jitdi.upstream.UpstreamRouter;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
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

  /** A JIT answer, and whether it was built now (or was already there). */
  public record Outcome(Manifest manifest, boolean built) {}

  private final Vertx vertx;
  private final RuleSet rules;
  private final JitConfig config;
  private final UpstreamRouter router;
  private final Manifests manifests;
  private final MetadataStore index;
  private final Io io;
  private final JitdiMetrics metrics;
  private final Clock clock;
  private final JitRecords records;
  private final BuildRegistry builds;
  private final ImagePlanner planner;
  private final ImageBuilder builder;

  public JitImages(Vertx vertx, RuleSet rules, JitConfig config, UpstreamRouter router, Cache cache, Io io,
      JitdiMetrics metrics, Clock clock, Planner planner) {
    this.vertx = vertx;
    this.rules = rules;
    this.config = config;
    this.router = router;
    this.manifests = cache.manifests();
    this.index = cache.index();
    this.io = io;
    this.metrics = metrics;
    this.clock = clock;
    this.records = new JitRecords(index);
    this.builds = new BuildRegistry(vertx, metrics);
    this.planner = new ImagePlanner(router, manifests, cache.blobs(), io, planner);
    this.builder = new ImageBuilder(manifests, cache.blobs(), cache.store(), io, metrics, records, clock);
    for (Rule rule : rules.rules()) {
      for (String result : List.of("built", "cached", "failed")) {
        metrics.registerJitBuild(rule.name(), result);
      }
    }
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
      BuildProgress progress = builds.running(image).orElse(null);
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
    long poll = vertx.setPeriodic(100, t -> builds.running(image).ifPresent(b -> answer.tryComplete(b.toJson())));
    answer.future().onComplete(ar -> vertx.cancelTimer(poll));
    return answer.future();
  }

  /** Builds in progress and the last finished ones, newest first. */
  public List<JsonObject> builds() {
    return builds.list();
  }

  /**
   * The answer for {@code image}: the tag's answer within {@code jit.ttl}, else the image of the plan's build key
   * (built already, or built now). Builds are counted once each in {@code jitdi_jit_builds_total} (built or failed,
   * however many requests joined them); answers without a build count as cached; a plan that fails counts as failed
   * for each request, since planning is not shared.
   */
  private Future<Outcome> resolve(String image, RuleSet.Match match, boolean rebuild) {
    String rule = match.rule().name();
    AtomicBoolean building = new AtomicBoolean();
    return io.call(() -> records.tag(image)).compose(answer -> {
      if (!rebuild && answer.isPresent() && clock.millis() - answer.get().checkedAt() < config.ttl().toMillis()) {
        return manifests.stored(answer.get().manifest()).compose(m -> m.isPresent()
            ? Future.succeededFuture(new Outcome(m.get(), false))
            : planner.plan(image, match).compose(p -> build(p, building)));
      }
      return planner.plan(image, match).compose(plan -> io.call(() -> records.build(plan.key())).compose(build -> {
        if (!rebuild && build.isPresent()) {
          return manifests.stored(build.get().manifest()).compose(m -> m.isPresent()
              ? io.call(() -> {
                records.putTag(image, new JitRecords.TagAnswer(plan.key(), m.get().digest(), clock.millis()));
                return new Outcome(m.get(), false);
              }) : build(plan, building));
        }
        return build(plan, building);
      }));
    }).recover(e -> Future.failedFuture(e instanceof RegistryException ? e : new RegistryException(
        ErrorCode.UNAVAILABLE, 502, "building " + image + " (rule " + rule + ") failed: " + describe(e),
        Map.of("image", image, "rule", rule), null, e))).andThen(ar -> {
      if (ar.failed()) {
        if (!building.get()) {
          metrics.jitBuild(rule, "failed");
        }
        LOG.warn("JIT image {} (rule {}) failed: {}", image, rule, ar.cause().getMessage());
      } else if (!ar.result().built()) {
        metrics.jitBuild(rule, "cached");
      }
    });
  }

  /** Builds the plan's image (or joins the build of the same key under way); notes that a build was asked for. */
  private Future<Outcome> build(Plan plan, AtomicBoolean building) {
    building.set(true);
    LOG.info("building {} (key {})", plan.image(), plan.key().hex().substring(0, 12));
    return builds.run(plan.key().hex(), plan.image(), plan.match().rule().name(),
        progress -> builder.build(plan, progress)).map(top -> new Outcome(top, true));
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
    return io.call(() -> records.recipe(digest)).compose(recipe -> recipe.isPresent()
        ? rebuild(digest, recipe.get()).map(Optional.<Origin>empty())
        : io.call(() -> records.origin(digest).flatMap(o -> Optional.ofNullable(router.upstreams().get(o.upstream()))
            .map(upstream -> new Origin(upstream, o.repository())))));
  }

  /**
   * A model blob a build placed in an uncompressed layer and then removed (a model is kept once): its bytes are the
   * placement's range of that layer, verified against the blob's digest as the layer was written.
   */
  @Override
  public Future<Optional<Inside>> inside(Digest digest) {
    if (!enabled()) {
      return Future.succeededFuture(Optional.empty());
    }
    return io.call(() -> records.placement(digest).map(p -> new Inside(p.layer(), p.offset(), p.size())));
  }

  private Future<Void> rebuild(Digest digest, JitRecords.Recipe recipe) {
    String image = recipe.image();
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
    return planner.plan(image, match.get()).compose(plan -> {
      if (!plan.key().equals(recipe.key())) {
        return Future.failedFuture(new RegistryException(ErrorCode.BLOB_UNKNOWN, 404, "blob " + digest + " of "
            + image + " cannot be built again: its sources or base changed since; pull " + image + " again",
            Map.of(), null, null));
      }
      return build(plan, new AtomicBoolean()).compose(outcome -> io.call(() -> {
        if (!builder.exists(digest) && !manifestStored(digest)) {
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

  /** Rules, for the status page and dry runs. */
  public RuleSet rules() {
    return rules;
  }
}
