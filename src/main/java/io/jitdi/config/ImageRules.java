package io.jitdi.config;

import io.jitdi.config.ImageRuleConfig.Compression;
import io.jitdi.config.ImageRuleConfig.FileSpec;
import io.jitdi.oci.Platform;
import io.jitdi.config.ImageRuleConfig.SourceKind;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Reads image rules in jitdi's format ({@code images:}) and JITDI's ({@code kind: Image} documents). */
final class ImageRules {
  static final String JITDI_API_VERSION = "jitdi.zsm.io/v1alpha1";

  private ImageRules() {}

  static boolean isJitdiImage(ConfigNode.Mapping m) {
    Optional<ConfigNode> kind = m.get("kind");
    if (kind.isEmpty()) {
      return false;
    }
    if (!"Image".equals(kind.get().text())) {
      throw kind.get().error("only kind: Image documents are understood here");
    }
    String api = m.require("apiVersion").text();
    if (!JITDI_API_VERSION.equals(api)) {
      throw m.require("apiVersion").error("unknown apiVersion " + api + "; use " + JITDI_API_VERSION);
    }
    return true;
  }

  /** A rule in jitdi's own format. */
  static ImageRuleConfig rule(ConfigNode.Mapping node) {
    node.allowOnly(Set.of("name", "match", "registry", "base", "platforms", "compression", "files", "env", "labels"));
    String match = node.require("match").text();
    String name = node.get("name").map(ConfigNode::text).orElse(match);
    Optional<String> registry = node.get("registry").map(n -> n.text().toLowerCase(java.util.Locale.ROOT));
    Optional<String> base = node.get("base").map(ConfigNode::text);
    List<Platform> platforms = platforms(node.get("platforms"));
    Compression compression = node.get("compression").map(n -> n.as(t -> {
      try {
        return Compression.valueOf(t);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("\"" + t + "\" is not a compression; use none, gzip or zstd");
      }
    })).orElse(Compression.none);
    List<FileSpec> files = new ArrayList<>();
    node.get("files").ifPresent(n -> n.sequence().items().forEach(i -> files.add(file(i.mapping()))));
    List<String> env = new ArrayList<>();
    node.get("env").ifPresent(n -> n.sequence().items().forEach(i -> env.add(envEntry(i))));
    Map<String, String> labels = new LinkedHashMap<>();
    node.get("labels").ifPresent(n -> n.mapping().entries().forEach((k, v) -> labels.put(k, v.scalar().rawText()
        == null ? "" : v.scalar().rawText())));
    return new ImageRuleConfig(name, match, registry, base, platforms, compression, files, env, labels, node.file(),
        node.line());
  }

  private static FileSpec file(ConfigNode.Mapping node) {
    node.allowOnly(Set.of("source", "ollama", "huggingface", "oci", "destination", "mode", "sha256", "layout"));
    List<String> kinds = node.entries().keySet().stream()
        .filter(k -> Set.of("source", "ollama", "huggingface", "oci").contains(k)).toList();
    if (kinds.size() != 1) {
      throw node.error("give exactly one of source, ollama, huggingface or oci");
    }
    String kindKey = kinds.get(0);
    Map<String, List<String>> options = new LinkedHashMap<>();
    String source;
    SourceKind kind;
    switch (kindKey) {
      case "huggingface" -> {
        kind = SourceKind.huggingface;
        ConfigNode.Mapping hf = node.require("huggingface").mapping()
            .allowOnly(Set.of("repo", "revision", "include", "exclude"));
        source = hf.require("repo").text();
        options.put("revision", List.of(hf.get("revision").map(ConfigNode::text).orElse("main")));
        options.put("include", strings(hf.get("include")));
        options.put("exclude", strings(hf.get("exclude")));
      }
      case "ollama" -> {
        kind = SourceKind.ollama;
        source = node.require("ollama").text();
      }
      case "oci" -> {
        kind = SourceKind.oci;
        source = node.require("oci").text();
      }
      default -> {
        kind = SourceKind.path;
        source = node.require("source").text();
      }
    }
    node.get("layout").ifPresent(n -> {
      if (kind != SourceKind.ollama) {
        throw n.error("layout applies to ollama sources only");
      }
      String layout = n.text();
      if (!layout.equals("ollama") && !layout.equals("files")) {
        throw n.error("\"" + layout + "\" is not a layout; use ollama (as `ollama pull` leaves it) or files");
      }
      options.put("layout", List.of(layout));
    });
    return new FileSpec(kind, source, node.require("destination").text(), node.get("mode").map(ImageRules::mode),
        node.get("sha256").filter(n -> n.scalar().rawText() != null && !n.scalar().rawText().isEmpty())
            .map(ImageRules::sha256),
        options, node.line());
  }

  /** A JITDI {@code kind: Image} document, accepted unchanged. */
  static ImageRuleConfig jitdiImage(ConfigNode.Mapping doc) {
    doc.allowOnly(Set.of("apiVersion", "kind", "metadata", "spec"));
    ConfigNode.Mapping spec = doc.require("spec").mapping()
        .allowOnly(Set.of("match", "baseImage", "platforms", "mutates"));
    String match = spec.require("match").text();
    String name = doc.get("metadata").flatMap(m -> m.mapping().get("name")).map(ConfigNode::text).orElse(match);
    List<FileSpec> files = new ArrayList<>();
    spec.get("mutates").ifPresent(n -> n.sequence().items().forEach(item -> {
      ConfigNode.Mapping mutate = item.mapping().allowOnly(Set.of("file", "ollama"));
      if (mutate.get("file").isPresent()) {
        ConfigNode.Mapping f = mutate.require("file").mapping().allowOnly(Set.of("source", "destination", "mode"));
        files.add(new FileSpec(SourceKind.path, f.require("source").text(), f.require("destination").text(),
            f.get("mode").map(ImageRules::mode), Optional.empty(), Map.of(), f.line()));
      } else {
        ConfigNode.Mapping o = mutate.require("ollama").mapping().allowOnly(Set.of("model", "workDir", "modelName"));
        String workDir = o.get("workDir").map(ConfigNode::text).orElse("/root/.ollama/models");
        files.add(new FileSpec(SourceKind.ollama, o.require("model").text(), workDir.endsWith("/") ? workDir
            : workDir + "/", Optional.empty(), Optional.empty(), Map.of(), o.line()));
      }
    }));
    return new ImageRuleConfig(name, match, Optional.empty(), spec.get("baseImage").map(ConfigNode::text),
        platforms(spec.get("platforms")), Compression.none, files, List.of(), Map.of(), doc.file(), doc.line());
  }

  /** {@code linux/amd64} strings or JITDI's {@code {os, architecture}} objects. */
  private static List<Platform> platforms(Optional<ConfigNode> node) {
    List<Platform> platforms = new ArrayList<>();
    node.ifPresent(n -> n.sequence().items().forEach(item -> {
      if (item instanceof ConfigNode.Mapping m) {
        m.allowOnly(Set.of("os", "architecture", "variant"));
        platforms.add(new Platform(m.require("os").text(), m.require("architecture").text(),
            m.get("variant").map(ConfigNode::text)));
      } else {
        String[] parts = item.text().split("/");
        if (parts.length < 2 || parts.length > 3) {
          throw item.error("a platform is os/architecture[/variant], e.g. linux/amd64");
        }
        platforms.add(new Platform(parts[0], parts[1], parts.length == 3 ? Optional.of(parts[2]) : Optional.empty()));
      }
    }));
    return platforms;
  }

  private static Integer mode(ConfigNode node) {
    return node.as(text -> {
      if (!text.matches("0?[0-7]{3,4}")) {
        throw new IllegalArgumentException("\"" + text + "\" is not an octal mode; write e.g. \"0644\" or \"0755\"");
      }
      return Integer.parseInt(text, 8);
    });
  }

  private static String sha256(ConfigNode node) {
    String text = node.text();
    String hex = text.startsWith("sha256:") ? text.substring(7) : text;
    if (!hex.matches("[a-f0-9]{64}")) {
      throw node.error("a sha256 pin is 64 lowercase hex characters (optionally after sha256:)");
    }
    return hex;
  }

  private static String envEntry(ConfigNode node) {
    String text = node.text();
    int eq = text.indexOf('=');
    if (eq <= 0) {
      throw node.error("an env entry is KEY=value");
    }
    return text;
  }

  private static List<String> strings(Optional<ConfigNode> node) {
    List<String> out = new ArrayList<>();
    node.ifPresent(n -> n.sequence().items().forEach(i -> out.add(i.text())));
    return out;
  }
}
