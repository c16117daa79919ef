package io.jitdi.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * A node of a parsed YAML document that remembers where it came from, so every error can name file, line and key
 * path. Scalars keep their source text (so {@code 0644} stays {@code "0644"}); typed readers interpret it.
 */
public abstract sealed class ConfigNode permits ConfigNode.Scalar, ConfigNode.Mapping, ConfigNode.Sequence {
  private final Path file;
  private final int line;
  private final String path;

  ConfigNode(Path file, int line, String path) {
    this.file = file;
    this.line = line;
    this.path = path;
  }

  public Path file() {
    return file;
  }

  public int line() {
    return line;
  }

  /** The key path, e.g. {@code upstreams.docker.io.url} or {@code images[2].files[0].source}. */
  public String path() {
    return path;
  }

  /** An error located at this node. */
  public ConfigException error(String message) {
    return new ConfigException(file, line, (path.isEmpty() ? "" : path + ": ") + message);
  }

  abstract String kind();

  public Scalar scalar() {
    if (this instanceof Scalar s) {
      return s;
    }
    throw error("expected a single value, found a " + kind());
  }

  public Mapping mapping() {
    if (this instanceof Mapping m) {
      return m;
    }
    throw error("expected a mapping of keys to values, found a " + kind());
  }

  public Sequence sequence() {
    if (this instanceof Sequence s) {
      return s;
    }
    throw error("expected a list, found a " + kind());
  }

  /** The text of a scalar that must be present and non-empty. */
  public String text() {
    String text = scalar().rawText();
    if (text == null || text.isEmpty()) {
      throw error("a value is required");
    }
    return text;
  }

  /** Reads this scalar with {@code reader}, turning its {@link IllegalArgumentException} into a located error. */
  public <T> T as(Function<String, T> reader) {
    String text = text();
    try {
      return reader.apply(text);
    } catch (IllegalArgumentException e) {
      throw error(e.getMessage());
    }
  }

  /** A scalar; {@link #rawText()} is null for YAML null or an empty value. */
  public static final class Scalar extends ConfigNode {
    private final String text;

    Scalar(Path file, int line, String path, String text) {
      super(file, line, path);
      this.text = text;
    }

    public String rawText() {
      return text;
    }

    @Override
    String kind() {
      return "single value";
    }
  }

  /** A mapping with keys in document order. */
  public static final class Mapping extends ConfigNode {
    private final Map<String, ConfigNode> entries = new LinkedHashMap<>();

    Mapping(Path file, int line, String path) {
      super(file, line, path);
    }

    void put(String key, ConfigNode value, int keyLine) {
      if (entries.containsKey(key)) {
        throw new ConfigException(file(), keyLine, child(key) + ": duplicate key; it is already set on line "
            + entries.get(key).line());
      }
      entries.put(key, value);
    }

    String child(String key) {
      return path().isEmpty() ? key : path() + "." + key;
    }

    public Map<String, ConfigNode> entries() {
      return Collections.unmodifiableMap(entries);
    }

    public Optional<ConfigNode> get(String key) {
      ConfigNode node = entries.get(key);
      if (node instanceof Scalar s && s.rawText() == null) {
        return Optional.empty();
      }
      return Optional.ofNullable(node);
    }

    public ConfigNode require(String key) {
      return get(key).orElseThrow(() -> error("the key '" + key + "' is required"));
    }

    /** Fails on the first key not in {@code allowed}, suggesting the nearest allowed key. */
    public Mapping allowOnly(Set<String> allowed) {
      for (Map.Entry<String, ConfigNode> e : entries.entrySet()) {
        if (!allowed.contains(e.getKey())) {
          String hint = nearest(e.getKey(), allowed).map(k -> "did you mean '" + k + "'?")
              .orElse("allowed keys: " + String.join(", ", allowed.stream().sorted().toList()));
          throw new ConfigException(file(), e.getValue().line(), child(e.getKey()) + ": unknown key; " + hint);
        }
      }
      return this;
    }

    @Override
    String kind() {
      return "mapping";
    }
  }

  /** A sequence. */
  public static final class Sequence extends ConfigNode {
    private final List<ConfigNode> items = new ArrayList<>();

    Sequence(Path file, int line, String path) {
      super(file, line, path);
    }

    void add(ConfigNode node) {
      items.add(node);
    }

    public List<ConfigNode> items() {
      return Collections.unmodifiableList(items);
    }

    @Override
    String kind() {
      return "list";
    }
  }

  static Optional<String> nearest(String key, Set<String> candidates) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String c : candidates) {
      int d = distance(key.toLowerCase(), c.toLowerCase());
      if (d < bestDistance) {
        bestDistance = d;
        best = c;
      }
    }
    return bestDistance <= Math.max(2, key.length() / 3) ? Optional.ofNullable(best) : Optional.empty();
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
