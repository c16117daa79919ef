package io.jitdi.jit.sources;

import java.util.List;
import java.util.regex.Pattern;

/**
 * Include/exclude file patterns with the meaning {@code huggingface_hub}'s {@code allow_patterns} gives them (Python's
 * {@code fnmatch} on the whole path): {@code *} matches any characters, {@code /} included, so {@code *.json} also
 * matches {@code sub/x.json}; {@code ?} matches one character; {@code [abc]} and {@code [!abc]} match a set; a pattern
 * ending in {@code /} matches everything under that directory.
 */
public final class Globs {
  private final List<Pattern> include;
  private final List<Pattern> exclude;

  /** No includes means everything is included. */
  public Globs(List<String> include, List<String> exclude) {
    this.include = include.stream().map(Globs::compile).toList();
    this.exclude = exclude.stream().map(Globs::compile).toList();
  }

  public boolean matches(String path) {
    return (include.isEmpty() || include.stream().anyMatch(p -> p.matcher(path).matches()))
        && exclude.stream().noneMatch(p -> p.matcher(path).matches());
  }

  static Pattern compile(String glob) {
    String g = glob.endsWith("/") ? glob + "*" : glob;
    StringBuilder regex = new StringBuilder();
    for (int i = 0; i < g.length(); i++) {
      char c = g.charAt(i);
      switch (c) {
        case '*' -> regex.append(".*");
        case '?' -> regex.append('.');
        case '[' -> {
          int close = g.indexOf(']', i + 2);
          if (close < 0) {
            regex.append("\\[");
          } else {
            String set = g.substring(i + 1, close);
            boolean negated = set.startsWith("!");
            regex.append('[').append(negated ? "^" : "").append(set.substring(negated ? 1 : 0)
                .replace("\\", "\\\\").replace("[", "\\[")).append(']');
            i = close;
          }
        }
        default -> regex.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return Pattern.compile(regex.toString(), Pattern.DOTALL);
  }
}
