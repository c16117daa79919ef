package io.jitdi.jit;

import com.fasterxml.jackson.databind.JsonNode;
import io.jitdi.cache.Blobs;
import io.jitdi.cache.Manifests;
import io.jitdi.cache.BlobBody;
import io.jitdi.concurrent.Io;
import io.jitdi.oci.Platform;
import io.jitdi.jit.compose.Composer;
import io.jitdi.jit.sources.Listing;
import io.jitdi.jit.sources.SourcePaths;
import io.jitdi.oci.Descriptor;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.ImageReference;
import io.jitdi.oci.Manifest;
import io.jitdi.oci.MediaType;
import io.jitdi.oci.Reference;
import io.jitdi.oci.RegistryException;
import io.jitdi.oci.RepositoryName;
import io.jitdi.upstream.UpstreamClient;
import io.jitdi.upstream.UpstreamRouter;
import io.vertx.core.Future;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Plans a JIT image: the rule's base image (through the manifest and blob caches, one platform manifest and config
 * per wanted platform), the files of each platform with their sources' identities, and the build key.
 *
 * <p>The build key is the sha256 of the rule's definition, the captures, the base manifest digest and each platform's
 * files identity: the same key means the same image, so a known key is answered without building.
 */
final class ImagePlanner {
  /** Manifest types jitdi can extend (schema1 cannot be). */
  private static final String BASE_ACCEPT = String.join(", ", List.of(MediaType.DOCKER_MANIFEST,
      MediaType.DOCKER_MANIFEST_LIST, MediaType.OCI_INDEX, MediaType.OCI_MANIFEST).stream().map(MediaType::value)
      .sorted().toList());
  private static final List<Platform> MODEL_ONLY_PLATFORMS = List.of(new Platform("linux", "amd64", Optional.empty()),
      new Platform("linux", "arm64", Optional.empty()));
  private static final int MAX_CONFIG_BYTES = 16 << 20;

  /** A platform of the base image: its index entry's platform node, manifest and config. */
  record BasePlatform(Platform platform, JsonNode node, Manifest manifest, byte[] config) {}

  /** The base image: where it comes from, its top manifest or index, and the wanted platforms. */
  record Base(UpstreamClient upstream, RepositoryName repository, Manifest top, List<BasePlatform> platforms) {}

  /** One platform of the image to build: its base (if any) and its layer's files. */
  record PlatformPlan(Platform platform, JsonNode node, Optional<BasePlatform> base, Planner.LayerFiles files) {}

  /** What to build for an image, and its build key. */
  record Plan(String image, RuleSet.Match match, Optional<Base> base, List<PlatformPlan> platforms, Digest key) {}

  private final UpstreamRouter router;
  private final Manifests manifests;
  private final Blobs blobs;
  private final Io io;
  private final Planner planner;

  ImagePlanner(UpstreamRouter router, Manifests manifests, Blobs blobs, Io io, Planner planner) {
    this.router = router;
    this.manifests = manifests;
    this.blobs = blobs;
    this.io = io;
    this.planner = planner;
  }

  /** The plan for {@code image} under {@code match}: base (revalidated through the cache), files, build key. */
  Future<Plan> plan(String image, RuleSet.Match match) {
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
            long base = file.file().offset();
            while (bytes.hasRemaining() && file.file().channel().read(bytes, base + bytes.position()) >= 0) {
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
}
