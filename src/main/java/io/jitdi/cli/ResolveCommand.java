package io.jitdi.cli;

import io.jitdi.oci.Platform;
import io.jitdi.concurrent.Io;
import io.jitdi.config.JitdiConfig;
import io.jitdi.jit.CachedArtifacts;
import io.jitdi.jit.ModelSources;
import io.jitdi.jit.Planner;
import io.jitdi.jit.Rule;
import io.jitdi.jit.RuleSet;
import io.jitdi.jit.Templates;
import io.jitdi.jit.sources.ArtifactRegistry;
import io.jitdi.jit.sources.Listing;
import io.jitdi.jit.sources.SourceFile;
import io.jitdi.metrics.JitdiMetrics;
import io.jitdi.oci.ImageReference;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.ImageName;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.Tag;
import io.jitdi.upstream.UpstreamClient;
import io.jitdi.upstream.UpstreamRouter;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code jitdi resolve [registry/]NAME:TAG}: the dry run of a JIT image. Prints the matching rule, its captures, the
 * base, each source with the files it gives and their sizes, and where they go; then the checks that fail. It builds
 * nothing and touches no cache (so it runs beside a live jitdi); it does stat local sources, HEAD http ones, call the
 * Hugging Face API, and GET the manifests of Ollama models and OCI artifacts straight from their upstreams. It reads no
 * blob: the files inside an artifact's tar layers are known only once the layer is fetched, and are printed as a note.
 * Exit status: 0 when the image would build, 1 when no rule matches or a check fails.
 */
final class ResolveCommand {
  private ResolveCommand() {}

  static ExitCode run(JitdiConfig config, RuleSet rules, String image, PrintStream out) {
    ImageName name;
    try {
      name = ImageName.parse(image);
    } catch (RegistryException e) {
      out.println(e.getMessage());
      return ExitCode.FAILED;
    }
    Vertx vertx = Vertx.vertx();
    try (Io io = new Io()) {
      return run(config, rules, name, out, vertx, io);
    } finally {
      vertx.close();
    }
  }

  private static ExitCode run(JitdiConfig config, RuleSet rules, ImageName name, PrintStream out, Vertx vertx,
      Io io) {
    UpstreamRouter router = UpstreamRouter.connect(vertx, io, config.upstreams().values(), config.defaultUpstream(),
        rules.registries(), new JitdiMetrics());
    UpstreamRouter.Route route;
    Tag tag;
    try {
      route = router.route(null, name.path());
      tag = name.tag();
    } catch (RegistryException e) {
      out.println("not an image name: " + e.getMessage());
      return ExitCode.FAILED;
    }
    String full = route.registry() + "/" + route.name() + ":" + tag;
    out.println("image:       " + full);
    Optional<RuleSet.Match> match = rules.match(route.registry(), route.name().value(), tag.value());
    if (match.isEmpty()) {
      out.println("no rule matches " + full + (route.jitOnly() ? "" : "; it would be pulled from upstream "
          + route.registry()));
      return ExitCode.FAILED;
    }
    Rule rule = match.get().rule();
    out.println("rule:        " + rule.name() + " (" + rule.where() + ")");
    out.println("pattern:     " + rule.pattern());
    out.println("captures:    " + match.get().captures());
    List<String> failures = new java.util.ArrayList<>();
    List<Platform> platforms = rule.platforms();
    if (rule.base().isPresent()) {
      try {
        out.println("base:        " + ImageReference.parse(Templates.render(rule.base().get(),
            match.get().captures())) + " (platforms from the base" + (platforms.isEmpty() ? ")" : ", filtered to "
            + platforms + ")"));
      } catch (RuntimeException e) {
        failures.add("base: " + e.getMessage());
      }
    } else {
      out.println("base:        none (a model-only image)");
    }
    if (platforms.isEmpty()) {
      platforms = List.of(new Platform("linux", "amd64", Optional.empty()));
    }
    out.println("compression: " + rule.compression());
    Planner planner = new Planner(config.jit(), UpstreamClient.USER_AGENT, List.of(new ModelSources(
        new ManifestsOnly(router.upstreams()), config.jit(), System::getenv, UpstreamClient.USER_AGENT)));
    Map<String, Listing> listings = new HashMap<>();
    for (Platform platform : platforms) {
      out.println("files for " + platform + ":");
      try {
        Planner.LayerFiles files = planner.files(rule, match.get().captures(), platform, listings);
        for (Planner.Line line : files.lines()) {
          out.println("  " + line.source() + " -> " + line.destination());
          for (SourceFile f : line.files()) {
            out.println("      " + f.name() + " (" + f.size() + " bytes)");
          }
          line.notes().forEach(n -> out.println("      " + n));
        }
        out.println("  total " + files.bytes() + " bytes in " + files.entries().size() + " files" + (files.tars()
            .isEmpty() ? "" : " and " + files.tars().size() + " tar layers"));
        out.println("env:         " + Planner.changes(rule, Planner.values(match.get().captures(), platform), "")
            .env());
        out.println("labels:      " + Planner.changes(rule, Planner.values(match.get().captures(), platform), "")
            .labels());
      } catch (RegistryException | IOException | IllegalArgumentException e) {
        failures.add(platform + ": " + e.getMessage());
      }
    }
    if (failures.isEmpty()) {
      out.println("checks:      ok");
      return ExitCode.OK;
    }
    failures.forEach(f -> out.println("would fail:  " + f));
    return ExitCode.FAILED;
  }

  /** Reads manifests straight from the upstream (no cache, no blobs): what a dry run needs of model artifacts. */
  private static final class ManifestsOnly implements ArtifactRegistry {
    private final Map<String, UpstreamClient> clients;

    ManifestsOnly(Map<String, UpstreamClient> clients) {
      this.clients = clients;
    }

    @Override
    public Manifest manifest(ImageReference ref) throws IOException {
      UpstreamClient client = clients.get(ref.registry());
      if (client == null) {
        throw new IOException("registry " + ref.registry() + " is not under upstreams:");
      }
      try {
        Manifest m = client.manifest(ref.repository(), ref.reference(), CachedArtifacts.ACCEPT).toCompletionStage()
            .toCompletableFuture().get();
        if (m.mediaType().isIndex()) {
          throw new IOException(ref + " is an index, not a single model manifest");
        }
        return m;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IOException(ref + ": " + e.getCause().getMessage(), e.getCause());
      }
    }

    @Override
    public Blob blob(ImageReference ref, io.jitdi.oci.Digest digest, long size) throws IOException {
      throw new IOException("a dry run reads no blob content");
    }
  }
}
