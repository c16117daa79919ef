package io.jitdi.jit;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;

/**
 * Substitution of {@code {name}} placeholders in rule templates (base, source, destination, env, labels). Captures
 * come from the pattern; {@code {os}} and {@code {arch}} (and JITDI's {@code {GOOS}} and {@code {GOARCH}}) are set per
 * platform.
 */
public final class Templates {
  /** Placeholders set per platform rather than captured. */
  public static final Set<String> PLATFORM_NAMES = Set.of("os", "arch", "GOOS", "GOARCH", "variant");
  private static final java.util.regex.Pattern PLACEHOLDER = java.util.regex.Pattern.compile("\\{([^{}]*)\\}");

  private Templates() {}

  /** The placeholder names used in {@code template}. */
  public static List<String> placeholders(String template) {
    List<String> names = new ArrayList<>();
    Matcher m = PLACEHOLDER.matcher(template);
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  /** {@code template} with every placeholder replaced by a plain word: what a template names regardless of captures. */
  public static String filledWithWords(String template) {
    java.util.HashMap<String, String> words = new java.util.HashMap<>();
    placeholders(template).forEach(p -> words.put(p, "x"));
    return render(template, words);
  }

  /** {@code template} with every placeholder replaced; a placeholder without a value is an error. */
  public static String render(String template, Map<String, String> values) {
    Matcher m = PLACEHOLDER.matcher(template);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String value = values.get(m.group(1));
      if (value == null) {
        throw new IllegalArgumentException("{" + m.group(1) + "} has no value");
      }
      m.appendReplacement(out, Matcher.quoteReplacement(value));
    }
    m.appendTail(out);
    return out.toString();
  }
}
