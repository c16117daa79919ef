package io.jitdi.jit;

import io.jitdi.config.ImageRuleConfig.FileSpec;
import io.jitdi.oci.Platform;
import io.jitdi.config.ImageRuleConfig.SourceKind;
import io.jitdi.config.JitConfig;
import io.jitdi.jit.layer.LayerBuilder;
import io.jitdi.jit.sources.FileSource;
import io.jitdi.jit.sources.HttpSource;
import io.jitdi.jit.sources.Listing;
import io.jitdi.jit.sources.Source;
import io.jitdi.jit.sources.SourceFile;
import io.jitdi.jit.sources.SourcePaths;
import io.jitdi.jit.sources.TarLayer;
import io.jitdi.oci.Digest;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Turns a rule match into the files of a layer, for one platform: substitutes the captures and platform values into
 * every template, applies the safety checks, lists the sources (without reading content) and places their files.
 * Everything here blocks (stat, HEAD); it runs on the IO pool.
 *
 * <p>Safety: a destination must stay absolute and normalized; a URL keeps the scheme and host of its template; a
 * local source resolves, symlinks included, inside {@code jit.fileRoots}. A violation is a 400 naming the rule.
 */
public final class Planner {
  /**
   * The files of one platform's layer, and what identifies them.
   *
   * @param entries the files known from the listings
   * @param tars the tar layers whose files the build adds once it has read them
   */
  public record LayerFiles(List<LayerBuilder.Entry> entries, List<Unpack> tars, List<Line> lines, String identity) {
    public LayerFiles {
      entries = List.copyOf(entries);
      tars = List.copyOf(tars);
      lines = List.copyOf(lines);
    }

    /** The bytes the build reads from the sources: the files' sizes and the tar layers' (compressed) sizes. */
    public long bytes() {
      return entries.stream().mapToLong(e -> e.file().size()).sum() + tars.stream().mapToLong(t -> t.layer().size())
          .sum();
    }

    public boolean isEmpty() {
      return entries.isEmpty() && tars.isEmpty();
    }
  }

  /**
   * A tar layer whose files go under {@code directory}.
   *
   * @param directory an absolute path ending in {@code /}
   * @param mode the rule's mode for the files, or -1 for each file's own
   */
  public record Unpack(TarLayer layer, String directory, int mode) {
    /** The entry for {@code file}, one of the layer's files. */
    public LayerBuilder.Entry entry(SourceFile file) {
      return new LayerBuilder.Entry(directory + file.name(), file, mode);
    }
  }

  /** One file entry of the rule as resolved: where it reads from and where it goes (for dry runs and logs). */
  public record Line(String source, String destination, List<SourceFile> files, List<String> notes) {}

  /** Makes a source from a resolved file spec; new kinds of source plug in here. */
  public interface SourceFactory {
    Optional<Source> create(Rule rule, FileSpec spec, String source, Map<String, String> values) throws IOException;
  }

  private final JitConfig config;
  private final String userAgent;
  private final List<SourceFactory> extra;

  public Planner(JitConfig config, String userAgent, List<SourceFactory> extra) {
    this.config = config;
    this.userAgent = userAgent;
    this.extra = List.copyOf(extra);
  }

  /** Captures plus the platform values {os}, {arch}, {variant} and JITDI's {GOOS}, {GOARCH}. */
  public static Map<String, String> values(Map<String, String> captures, Platform platform) {
    Map<String, String> values = new HashMap<>(captures);
    values.put("os", platform.os());
    values.put("arch", platform.architecture());
    values.put("GOOS", platform.os());
    values.put("GOARCH", platform.architecture());
    values.put("variant", platform.variant().orElse(""));
    return values;
  }

  /**
   * Resolves and lists every file of the rule for {@code platform}. {@code listings} caches listings by resolved
   * source, so platforms sharing a source list it once.
   */
  public LayerFiles files(Rule rule, Map<String, String> captures, Platform platform, Map<String, Listing> listings)
      throws IOException {
    Map<String, String> values = values(captures, platform);
    List<LayerBuilder.Entry> entries = new ArrayList<>();
    List<Unpack> tars = new ArrayList<>();
    List<Line> lines = new ArrayList<>();
    StringBuilder identity = new StringBuilder();
    for (FileSpec spec : rule.files()) {
      String source = Templates.render(spec.source(), values);
      String destination = SourcePaths.checkDestination(rule.name(), Templates.render(spec.destination(), values));
      String cacheKey = spec.kind() + "|" + source + "|" + spec.sha256().orElse("") + "|" + spec.options();
      Listing listing = listings.get(cacheKey);
      if (listing == null) {
        listing = source(rule, spec, source, values).list();
        listings.put(cacheKey, listing);
      }
      if (spec.sha256().isPresent() && (listing.files().size() != 1 || !listing.tars().isEmpty())) {
        throw SourcePaths.refused(rule.name(), "sha256 pins a single file, and " + source + " gives "
            + (listing.tars().isEmpty() ? listing.files().size() : "the files of tar layers"));
      }
      identity.append(spec.line()).append('|').append(listing.identity()).append('|').append(destination)
          .append('|').append(spec.mode().orElse(-1)).append('\n');
      boolean intoDirectory = destination.endsWith("/");
      for (SourceFile f : listing.files()) {
        String path;
        if (intoDirectory) {
          path = destination + f.name();
        } else if (listing.files().size() == 1 && spec.kind() == SourceKind.path && !f.name().contains("/")
            && isSingleFileSource(source)) {
          path = destination;
        } else {
          path = destination + "/" + f.name();
        }
        entries.add(new LayerBuilder.Entry(path, f, spec.mode().orElse(-1)));
      }
      for (TarLayer tar : listing.tars()) {
        tars.add(new Unpack(tar, intoDirectory ? destination : destination + "/", spec.mode().orElse(-1)));
      }
      lines.add(new Line(source, destination, listing.files(), listing.notes()));
    }
    String id = Digest.sha256Of(identity.toString().getBytes(StandardCharsets.UTF_8)).hex();
    return new LayerFiles(entries, tars, lines, id);
  }

  private static boolean isSingleFileSource(String source) {
    return Rule.isUrl(source) || java.nio.file.Files.isRegularFile(Path.of(source));
  }

  /** The source for a resolved spec. */
  Source source(Rule rule, FileSpec spec, String source, Map<String, String> values) throws IOException {
    for (SourceFactory factory : extra) {
      Optional<Source> s = factory.create(rule, spec, source, values);
      if (s.isPresent()) {
        return s.get();
      }
    }
    if (spec.kind() != SourceKind.path) {
      throw new IOException("rule " + rule.name() + ": " + spec.kind() + " sources are not available in this build");
    }
    if (Rule.isUrl(source)) {
      URI uri;
      try {
        uri = new URI(source);
      } catch (java.net.URISyntaxException e) {
        throw SourcePaths.refused(rule.name(), "\"" + source + "\" is not a URL");
      }
      String template = spec.source();
      URI expected = URI.create(template.substring(0, template.indexOf("//") + 2)
          + template.substring(template.indexOf("//") + 2).split("/", 2)[0]);
      if (!uri.getScheme().equals(expected.getScheme()) || uri.getHost() == null
          || !uri.getHost().equalsIgnoreCase(expected.getHost()) || uri.getPort() != expected.getPort()
          || uri.getRawUserInfo() != null) {
        throw SourcePaths.refused(rule.name(), "\"" + source + "\" would leave " + expected);
      }
      Optional<Digest> pin = spec.sha256().map(h -> Digest.parse("sha256:" + h));
      return new HttpSource(uri, pin, HttpSource.tokenFor(uri, config.tokens()), userAgent);
    }
    Path path = Path.of(source).normalize();
    return new FileSource(rule.name(), path, config.fileRoots());
  }

  /** What the rule adds to the image config, rendered for {@code values}. */
  public static io.jitdi.jit.compose.Composer.Changes changes(Rule rule, Map<String, String> values, String createdBy) {
    List<String> env = new ArrayList<>();
    rule.env().forEach(e -> env.add(Templates.render(e, values)));
    Map<String, String> labels = new LinkedHashMap<>();
    rule.labels().forEach((k, v) -> labels.put(Templates.render(k, values), Templates.render(v, values)));
    return new io.jitdi.jit.compose.Composer.Changes(env, labels, createdBy);
  }
}
