package io.jitdi.jit;

import io.jitdi.config.ConfigException;
import io.jitdi.config.ImageRuleConfig;
import io.jitdi.config.JitConfig;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Every JIT rule, compiled and ordered by precedence. At load, two rules that could both match one name with equal
 * precedence are an error naming both, with a name they would both match.
 */
public final class RuleSet {
  /** A rule that matched a request, with its captures. */
  public record Match(Rule rule, Map<String, String> captures) {}

  private final List<Rule> rules;

  private RuleSet(List<Rule> rules) {
    this.rules = rules;
  }

  public static RuleSet empty() {
    return new RuleSet(List.of());
  }

  /**
   * Compiles and checks the rules.
   *
   * @throws ConfigException naming the rule's file and line
   */
  public static RuleSet compile(List<ImageRuleConfig> configs, Set<String> upstreams, JitConfig jit) {
    List<Rule> rules = new ArrayList<>();
    for (ImageRuleConfig c : configs) {
      rules.add(Rule.compile(c, upstreams, jit.fileRoots()));
    }
    for (int i = 0; i < rules.size(); i++) {
      for (int j = i + 1; j < rules.size(); j++) {
        Rule a = rules.get(i);
        Rule b = rules.get(j);
        boolean scopesMeet = a.registry().isEmpty() || b.registry().isEmpty() || a.registry().equals(b.registry());
        if (scopesMeet && a.precedence() == b.precedence()) {
          Optional<String> both = a.pattern().overlap(b.pattern());
          if (both.isPresent()) {
            throw Rule.error(configs.get(j), configs.get(j).line(), "\"" + b.pattern() + "\" and rule " + a.name()
                + " at " + a.where() + " (\"" + a.pattern() + "\") both match \"" + both.get() + "\" with the same "
                + "precedence; make one more specific (more literal characters, a constrained capture, or a "
                + "registry)");
          }
        }
      }
    }
    rules.sort(Comparator.comparingInt(Rule::precedence).reversed());
    return new RuleSet(List.copyOf(rules));
  }

  /** The rule for a manifest request by tag, if any. */
  public Optional<Match> match(String registry, String name, String tag) {
    for (Rule rule : rules) {
      if (rule.registry().isPresent() && !rule.registry().get().equals(registry)) {
        continue;
      }
      Optional<Map<String, String>> captures = rule.pattern().match(name, tag);
      if (captures.isPresent()) {
        return Optional.of(new Match(rule, captures.get()));
      }
    }
    return Optional.empty();
  }

  /** Registry hosts that only JIT rules answer for (not upstreams). */
  public Set<String> registries() {
    Set<String> out = new TreeSet<>();
    rules.forEach(r -> r.registry().ifPresent(out::add));
    return out;
  }

  public List<Rule> rules() {
    return rules;
  }

  public boolean isEmpty() {
    return rules.isEmpty();
  }
}
