package io.jitdi.jit;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;

/**
 * The {@code match:} pattern of a JIT rule, matched against {@code <repository>:<tag>}.
 *
 * <p>Syntax: literal characters, and captures. {@code {name}} captures one or more of {@code [A-Za-z0-9._-]} (never
 * {@code /} or {@code :}). {@code {name:REGEX}} captures what REGEX matches instead; REGEX is a subset of Java regex:
 * literals, {@code .}, classes {@code [a-z0-9]} (negated too), {@code \d \w \s} and their complements, groups
 * {@code (...)} / {@code (?:...)}, alternation {@code |}, and the quantifiers {@code * + ? {m} {m,} {m,n}} (at most
 * 100). Example: {@code llama-cpp/llama-2:{size:\d+}b-chat-{quant}-gguf}.
 *
 * <p>Matching backtracks fully, with greedy captures: {@code {tag}-{size}b} on {@code full-cuda-7b} gives
 * {@code tag=full-cuda}, {@code size=7}. A linear-time automaton checks a name first, so no name can make matching slow.
 *
 * <p>{@link #overlap} decides exactly whether two patterns can both match some valid {@code name:tag}.
 */
public final class NamePattern {
  /** What a plain {@code {name}} capture matches. */
  static final BitSet CAPTURE = classOf("A-Za-z0-9._-");
  private static final BitSet NAME_CHARS = classOf("a-z0-9._/-");
  private static final BitSet TAG_CHARS = classOf("A-Za-z0-9._-");
  private static final java.util.regex.Pattern CAPTURE_NAME = java.util.regex.Pattern.compile("[A-Za-z_][A-Za-z0-9_-]*");
  private static final int MAX_REPEAT = 100;

  private final String text;
  private final List<String> captures;
  private final int literals;
  private final java.util.regex.Pattern regex;
  private final Nfa nfa;

  private NamePattern(String text, List<String> captures, int literals, java.util.regex.Pattern regex, Nfa nfa) {
    this.text = text;
    this.captures = captures;
    this.literals = literals;
    this.regex = regex;
    this.nfa = nfa;
  }

  /**
   * Compiles a pattern.
   *
   * @throws IllegalArgumentException saying what is wrong and how to write it
   */
  public static NamePattern compile(String text) {
    List<String> names = new ArrayList<>();
    StringBuilder javaRegex = new StringBuilder();
    Nfa nfa = new Nfa();
    Nfa.Fragment whole = nfa.empty();
    int literals = 0;
    boolean colon = false;
    int i = 0;
    while (i < text.length()) {
      char c = text.charAt(i);
      if (c == '{') {
        int close = closingBrace(text, i);
        String body = text.substring(i + 1, close);
        int sep = body.indexOf(':');
        String name = sep < 0 ? body : body.substring(0, sep);
        if (!CAPTURE_NAME.matcher(name).matches()) {
          throw new IllegalArgumentException("\"{" + body + "}\" is not a capture; write {name} or {name:REGEX}");
        }
        if (names.contains(name)) {
          throw new IllegalArgumentException("capture {" + name + "} appears twice");
        }
        if (Templates.PLATFORM_NAMES.contains(name)) {
          throw new IllegalArgumentException("{" + name + "} is set per platform; capture another name");
        }
        Node node = sep < 0 ? new Repeat(new Chars(CAPTURE), 1, -1) : new RegexParser(body.substring(sep + 1)).parse();
        javaRegex.append("(?<g").append(names.size()).append('>').append(node.java()).append(')');
        whole = nfa.concat(whole, node.build(nfa));
        names.add(name);
        i = close + 1;
      } else if (c == '}') {
        throw new IllegalArgumentException("a '}' without '{' at position " + i);
      } else {
        BitSet allowed = colon ? TAG_CHARS : NAME_CHARS;
        if (c == ':') {
          if (colon) {
            throw new IllegalArgumentException("a pattern has one ':' between the repository and the tag");
          }
          colon = true;
        } else if (c >= Nfa.ALPHABET || !allowed.get(c)) {
          throw new IllegalArgumentException("'" + c + "' can never appear in a " + (colon ? "tag" : "repository name")
              + "; names are [a-z0-9._/-], tags [A-Za-z0-9._-]");
        }
        javaRegex.append(escape(c));
        whole = nfa.concat(whole, nfa.set(Nfa.chars(String.valueOf(c))));
        literals++;
        i++;
      }
    }
    if (!colon) {
      throw new IllegalArgumentException("a pattern has the form repository:tag, e.g. models/{name}:{tag}");
    }
    nfa.start = whole.in();
    nfa.accept = whole.out();
    return new NamePattern(text, List.copyOf(names), literals, java.util.regex.Pattern.compile(javaRegex.toString()),
        nfa);
  }

  private static int closingBrace(String text, int open) {
    int depth = 0;
    for (int i = open; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\\') {
        i++;
      } else if (c == '{') {
        depth++;
      } else if (c == '}' && --depth == 0) {
        return i;
      }
    }
    throw new IllegalArgumentException("a '{' at position " + open + " is never closed");
  }

  /** The captures of {@code <name>:<tag>} when it matches. */
  public Optional<Map<String, String>> match(String name, String tag) {
    String target = name + ":" + tag;
    if (!nfa.matches(target)) {
      return Optional.empty();
    }
    Matcher m = regex.matcher(target);
    if (!m.matches()) {
      return Optional.empty();
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (int i = 0; i < captures.size(); i++) {
      out.put(captures.get(i), m.group("g" + i));
    }
    return Optional.of(out);
  }

  /** A valid {@code name:tag} that both patterns match, if there is one. */
  public Optional<String> overlap(NamePattern other) {
    return Nfa.intersection(List.of(nfa, other.nfa, nameTag()));
  }

  public List<String> captures() {
    return captures;
  }

  /** Literal characters: the precedence of the pattern (more wins). */
  public int literalCount() {
    return literals;
  }

  public String text() {
    return text;
  }

  @Override
  public String toString() {
    return text;
  }

  /** The language of {@code name:tag} strings, roughly: name characters, one colon, tag characters. */
  private static Nfa nameTag() {
    Nfa n = new Nfa();
    Nfa.Fragment name = n.concat(n.set(NAME_CHARS), n.star(n.set(NAME_CHARS)));
    Nfa.Fragment tag = n.concat(n.set(TAG_CHARS), n.star(n.set(TAG_CHARS)));
    Nfa.Fragment all = n.concat(n.concat(name, n.set(Nfa.chars(":"))), tag);
    n.start = all.in();
    n.accept = all.out();
    return n;
  }

  static BitSet classOf(String spec) {
    BitSet set = new BitSet(Nfa.ALPHABET);
    for (int i = 0; i < spec.length(); i++) {
      if (i + 2 < spec.length() && spec.charAt(i + 1) == '-') {
        set.set(spec.charAt(i), spec.charAt(i + 2) + 1);
        i += 2;
      } else {
        set.set(spec.charAt(i));
      }
    }
    return set;
  }

  static String escape(char c) {
    return Character.isLetterOrDigit(c) ? String.valueOf(c) : String.format("\\x{%x}", (int) c);
  }

  /** A parsed regex: it renders as Java regex and builds automaton fragments (a fresh one per use). */
  interface Node {
    String java();

    Nfa.Fragment build(Nfa nfa);
  }

  record Chars(BitSet set) implements Node {
    @Override
    public String java() {
      if (set.cardinality() == 1) {
        return escape((char) set.nextSetBit(0));
      }
      StringBuilder s = new StringBuilder("[");
      set.stream().forEach(c -> s.append(escape((char) c)));
      return s.append(']').toString();
    }

    @Override
    public Nfa.Fragment build(Nfa nfa) {
      return nfa.set(set);
    }
  }

  record Seq(List<Node> items) implements Node {
    @Override
    public String java() {
      StringBuilder s = new StringBuilder("(?:");
      items.forEach(n -> s.append(n.java()));
      return s.append(')').toString();
    }

    @Override
    public Nfa.Fragment build(Nfa nfa) {
      Nfa.Fragment f = nfa.empty();
      for (Node n : items) {
        f = nfa.concat(f, n.build(nfa));
      }
      return f;
    }
  }

  record Alt(List<Node> options) implements Node {
    @Override
    public String java() {
      return "(?:" + String.join("|", options.stream().map(Node::java).toList()) + ")";
    }

    @Override
    public Nfa.Fragment build(Nfa nfa) {
      return nfa.alt(options.stream().map(n -> n.build(nfa)).toList());
    }
  }

  record Repeat(Node body, int min, int max) implements Node {
    @Override
    public String java() {
      String quantifier = max < 0 ? (min == 0 ? "*" : min == 1 ? "+" : "{" + min + ",}")
          : min == 0 && max == 1 ? "?" : "{" + min + "," + max + "}";
      return "(?:" + body.java() + ")" + quantifier;
    }

    @Override
    public Nfa.Fragment build(Nfa nfa) {
      Nfa.Fragment f = nfa.empty();
      for (int i = 0; i < min; i++) {
        f = nfa.concat(f, body.build(nfa));
      }
      if (max < 0) {
        return nfa.concat(f, nfa.star(body.build(nfa)));
      }
      for (int i = min; i < max; i++) {
        f = nfa.concat(f, nfa.optional(body.build(nfa)));
      }
      return f;
    }
  }

  /** Recursive descent over the supported regex subset. */
  static final class RegexParser {
    private final String s;
    private int i;

    RegexParser(String s) {
      this.s = s;
    }

    Node parse() {
      if (s.isEmpty()) {
        throw new IllegalArgumentException("an empty REGEX; write {name} for the default");
      }
      Node n = alternation();
      if (i < s.length()) {
        throw error("unexpected '" + s.charAt(i) + "'");
      }
      return n;
    }

    private Node alternation() {
      List<Node> options = new ArrayList<>();
      options.add(sequence());
      while (i < s.length() && s.charAt(i) == '|') {
        i++;
        options.add(sequence());
      }
      return options.size() == 1 ? options.get(0) : new Alt(options);
    }

    private Node sequence() {
      List<Node> items = new ArrayList<>();
      while (i < s.length() && s.charAt(i) != '|' && s.charAt(i) != ')') {
        items.add(quantified(atom()));
      }
      return items.size() == 1 ? items.get(0) : new Seq(items);
    }

    private Node quantified(Node atom) {
      if (i >= s.length()) {
        return atom;
      }
      char c = s.charAt(i);
      Node result;
      if (c == '*' || c == '+' || c == '?') {
        i++;
        result = new Repeat(atom, c == '+' ? 1 : 0, c == '?' ? 1 : -1);
      } else if (c == '{') {
        int close = s.indexOf('}', i);
        if (close < 0) {
          throw error("unclosed {");
        }
        String[] bounds = s.substring(i + 1, close).split(",", -1);
        try {
          int min = Integer.parseInt(bounds[0]);
          int max = bounds.length == 1 ? min : bounds[1].isEmpty() ? -1 : Integer.parseInt(bounds[1]);
          if (bounds.length > 2 || min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && max < min)) {
            throw error("repetitions are {m}, {m,} or {m,n} with m <= n <= " + MAX_REPEAT);
          }
          i = close + 1;
          result = new Repeat(atom, min, max);
        } catch (NumberFormatException e) {
          throw error("repetitions are {m}, {m,} or {m,n}");
        }
      } else {
        return atom;
      }
      if (i < s.length() && (s.charAt(i) == '?' || s.charAt(i) == '+')) {
        throw error("lazy and possessive quantifiers are not supported");
      }
      return result;
    }

    private Node atom() {
      char c = s.charAt(i++);
      switch (c) {
        case '(' -> {
          if (s.startsWith("?:", i)) {
            i += 2;
          } else if (i < s.length() && s.charAt(i) == '?') {
            throw error("(?...) groups other than (?:...) are not supported");
          }
          Node inner = alternation();
          if (i >= s.length() || s.charAt(i) != ')') {
            throw error("unclosed (");
          }
          i++;
          return inner;
        }
        case '[' -> {
          return new Chars(charClass());
        }
        case '.' -> {
          BitSet any = Nfa.fullSet();
          any.clear('\n');
          any.clear('\r');
          return new Chars(any);
        }
        case '\\' -> {
          return new Chars(escapeSet());
        }
        case '^', '$', ')', ']', '{', '}', '*', '+', '?' -> throw error("'" + c + "' must be escaped here");
        default -> {
          if (c >= Nfa.ALPHABET) {
            throw error("only ASCII can appear in names and tags");
          }
          return new Chars(Nfa.chars(String.valueOf(c)));
        }
      }
    }

    private BitSet charClass() {
      boolean negate = i < s.length() && s.charAt(i) == '^';
      if (negate) {
        i++;
      }
      BitSet set = new BitSet(Nfa.ALPHABET);
      boolean first = true;
      while (i < s.length() && (s.charAt(i) != ']' || first)) {
        first = false;
        char c = s.charAt(i++);
        if (c == '\\') {
          set.or(escapeSet());
        } else if (c == '[') {
          throw error("nested classes are not supported");
        } else if (i + 1 < s.length() && s.charAt(i) == '-' && s.charAt(i + 1) != ']') {
          char to = s.charAt(i + 1);
          if (to < c || to >= Nfa.ALPHABET) {
            throw error("bad range " + c + "-" + to);
          }
          set.set(c, to + 1);
          i += 2;
        } else if (c < Nfa.ALPHABET) {
          set.set(c);
        }
      }
      if (i >= s.length()) {
        throw error("unclosed [");
      }
      i++;
      if (negate) {
        BitSet all = Nfa.fullSet();
        all.andNot(set);
        return all;
      }
      return set;
    }

    private BitSet escapeSet() {
      if (i >= s.length()) {
        throw error("a trailing \\");
      }
      char c = s.charAt(i++);
      BitSet set = switch (Character.toLowerCase(c)) {
        case 'd' -> classOf("0-9");
        case 'w' -> classOf("A-Za-z0-9_");
        case 's' -> Nfa.chars(" \t\n\u000b\f\r");
        default -> null;
      };
      if (set != null) {
        if (Character.isUpperCase(c)) {
          BitSet all = Nfa.fullSet();
          all.andNot(set);
          return all;
        }
        return set;
      }
      if (Character.isLetterOrDigit(c)) {
        throw error("\\" + c + " is not supported");
      }
      return Nfa.chars(String.valueOf(c));
    }

    private IllegalArgumentException error(String why) {
      return new IllegalArgumentException("in the capture regex \"" + s + "\": " + why);
    }
  }
}
