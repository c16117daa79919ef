package io.jitdi.jit;

import io.jitdi.config.ConfigException;
import io.jitdi.config.ImageRuleConfig;
import io.jitdi.config.ImageRuleConfig.FileSpec;
import io.jitdi.oci.Platform;
import io.jitdi.config.ImageRuleConfig.SourceKind;
import io.jitdi.jit.sources.OllamaName;
import io.jitdi.oci.Digest;
import io.jitdi.oci.ImageReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A compiled JIT rule: its pattern, and templates checked at load so that no request can make them name another host
 * or leave an absolute destination.
 */
public final class Rule {
  private final ImageRuleConfig config;
  private final NamePattern pattern;
  private final List<FileSpec> files;
  private final Digest definition;

  private Rule(ImageRuleConfig config, NamePattern pattern, List<FileSpec> files) {
    this.config = config;
    this.pattern = pattern;
    this.files = List.copyOf(files);
    this.definition = Digest.sha256Of(canonical(config, files).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Compiles a rule.
   *
   * @param upstreams configured upstream keys, which a base image's registry must be one of
   * @throws ConfigException at the rule's file and line
   */
  static Rule compile(ImageRuleConfig config, Set<String> upstreams, List<Path> fileRoots) {
    NamePattern pattern;
    try {
      pattern = NamePattern.compile(config.match());
    } catch (IllegalArgumentException e) {
      throw error(config, config.line(), "match \"" + config.match() + "\": " + e.getMessage());
    }
    if (config.base().isEmpty() && config.files().isEmpty()) {
      throw error(config, config.line(), "makes no image: a rule needs a base, files, or both");
    }
    Set<String> known = new HashSet<>(pattern.captures());
    known.addAll(Templates.PLATFORM_NAMES);
    config.base().ifPresent(base -> {
      placeholders(config, config.line(), "base", base, known);
      String host = registryPart(base);
      if (host != null && host.contains("{")) {
        throw error(config, config.line(), "the registry of base \"" + base + "\" cannot come from a capture");
      }
      if (host == null && base.indexOf('/') > 0 && base.substring(0, base.indexOf('/')).contains("{")) {
        throw error(config, config.line(), "the first component of base \"" + base + "\" cannot come from a capture: "
            + "it could name a registry; write the registry explicitly, e.g. docker.io/" + base);
      }
      String registry = host == null ? "docker.io" : host;
      if (!upstreams.contains(registry)) {
        throw error(config, config.line(), "base \"" + base + "\" is on " + registry + ", which is not under "
            + "upstreams:; add it there");
      }
    });
    List<FileSpec> files = new ArrayList<>();
    for (FileSpec f : config.files()) {
      placeholders(config, f.line(), "source", f.source(), known);
      placeholders(config, f.line(), "destination", f.destination(), known);
      if (!f.destination().startsWith("/")) {
        throw error(config, f.line(), "destination \"" + f.destination() + "\" must be an absolute path");
      }
      FileSpec spec = f;
      if (f.kind() == SourceKind.path) {
        if (isUrl(f.source())) {
          String hostPart = f.source().substring(0, f.source().indexOf("//") + 2)
              + f.source().substring(f.source().indexOf("//") + 2).split("/", 2)[0];
          if (hostPart.contains("{")) {
            throw error(config, f.line(), "the scheme and host of \"" + f.source() + "\" cannot come from a capture");
          }
        } else {
          Path local = Path.of(f.source().isEmpty() ? "." : f.source());
          if (!local.isAbsolute()) {
            String dir = config.file().toAbsolutePath().getParent().toString();
            spec = new FileSpec(f.kind(), dir + "/" + f.source(), f.destination(), f.mode(), f.sha256(), f.options(),
                f.line());
          }
          if (fileRoots.isEmpty()) {
            throw error(config, f.line(), "local source \"" + f.source() + "\" needs jit.fileRoots: list the "
                + "directories local sources may be read from");
          }
        }
      } else {
        placeholders(config, f.line(), f.kind().name(), f.source(), known);
        for (List<String> values : f.options().values()) {
          values.forEach(v -> placeholders(config, f.line(), f.kind().name(), v, known));
        }
        if (f.kind() != SourceKind.huggingface) {
          checkRegistry(config, f, upstreams);
        }
      }
      files.add(spec);
    }
    for (String entry : config.env()) {
      placeholders(config, config.line(), "env", entry, known);
      if (entry.substring(0, entry.indexOf('=')).contains("{")) {
        throw error(config, config.line(), "the name of env entry \"" + entry + "\" cannot come from a capture");
      }
    }
    config.labels().forEach((k, v) -> placeholders(config, config.line(), "labels", k + v, known));
    return new Rule(config, pattern, files);
  }

  /** An ollama or oci source's registry must be literal and configured, like a base image's. */
  private static void checkRegistry(ImageRuleConfig config, FileSpec f, Set<String> upstreams) {
    String filled = Templates.filledWithWords(f.source());
    String registry;
    try {
      registry = f.kind() == SourceKind.ollama ? OllamaName.parse(filled).host()
          : ImageReference.parse(filled).registry();
    } catch (RuntimeException e) {
      throw error(config, f.line(), f.kind() + " \"" + f.source() + "\" is not a reference: " + e.getMessage());
    }
    String first = f.source().contains("/") ? f.source().substring(0, f.source().indexOf('/')) : "";
    boolean firstIsRegistry = f.kind() == SourceKind.ollama ? f.source().split("/").length == 3
        : f.source().indexOf('/') > 0;
    if (first.contains("{") && firstIsRegistry) {
      throw error(config, f.line(), "the registry of " + f.kind() + " \"" + f.source() + "\" cannot come from a "
          + "capture");
    }
    if (!upstreams.contains(registry)) {
      throw error(config, f.line(), f.kind() + " \"" + f.source() + "\" is on " + registry + ", which is not under "
          + "upstreams:; add it there, e.g. " + registry + ": {url: https://" + registry + "}");
    }
  }

  static boolean isUrl(String source) {
    return source.startsWith("http://") || source.startsWith("https://");
  }

  /** The registry host of an image reference template, or null when it names none (docker.io). */
  private static String registryPart(String reference) {
    int slash = reference.indexOf('/');
    if (slash <= 0) {
      return null;
    }
    String first = reference.substring(0, slash);
    return first.indexOf('.') >= 0 || first.indexOf(':') >= 0 || first.equals("localhost") ? first : null;
  }

  private static void placeholders(ImageRuleConfig config, int line, String field, String template, Set<String> known) {
    for (String name : Templates.placeholders(template)) {
      if (!known.contains(name)) {
        throw error(config, line, field + " uses {" + name + "}, which the pattern \"" + config.match()
            + "\" does not capture (platform values are {os}, {arch}, {variant})");
      }
    }
  }

  static ConfigException error(ImageRuleConfig config, int line, String message) {
    return new ConfigException(config.file(), line, "rule " + config.name() + ": " + message);
  }

  private static String canonical(ImageRuleConfig c, List<FileSpec> files) {
    StringBuilder s = new StringBuilder("v1\n").append(c.match()).append('\n').append(c.registry().orElse(""))
        .append('\n').append(c.base().orElse("")).append('\n').append(c.platforms()).append('\n')
        .append(c.compression()).append('\n');
    for (FileSpec f : files) {
      s.append(f.kind()).append('|').append(f.source()).append('|').append(f.destination()).append('|')
          .append(f.mode().orElse(-1)).append('|').append(f.sha256().orElse("")).append('|').append(f.options())
          .append('\n');
    }
    return s.append(c.env()).append('\n').append(c.labels()).toString();
  }

  public String name() {
    return config.name();
  }

  public NamePattern pattern() {
    return pattern;
  }

  public Optional<String> registry() {
    return config.registry();
  }

  public Optional<String> base() {
    return config.base();
  }

  public List<Platform> platforms() {
    return config.platforms();
  }

  public ImageRuleConfig.Compression compression() {
    return config.compression();
  }

  /** The files, with relative local paths made absolute (from the rule's file). */
  public List<FileSpec> files() {
    return files;
  }

  public List<String> env() {
    return config.env();
  }

  public Map<String, String> labels() {
    return config.labels();
  }

  /** The sha256 of the rule's definition: editing the rule changes every build key it gives. */
  public Digest definition() {
    return definition;
  }

  /** Precedence: more literal characters wins, then a registry-scoped rule over an unscoped one. */
  int precedence() {
    return pattern.literalCount() * 2 + (registry().isPresent() ? 1 : 0);
  }

  public String where() {
    return config.where();
  }

  @Override
  public String toString() {
    return name() + " (" + where() + ")";
  }
}
