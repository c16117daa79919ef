package io.jitdi.upstream;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One authentication challenge of a {@code WWW-Authenticate} header (RFC 9110 §11.6.1), e.g.
 * {@code Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"}.
 *
 * @param scheme lowercased ({@code bearer}, {@code basic})
 * @param params parameter names lowercased, values unquoted
 */
public record Challenge(String scheme, Map<String, String> params) {

  public Challenge {
    params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
  }

  public Optional<String> param(String name) {
    return Optional.ofNullable(params.get(name));
  }

  /**
   * Parses every challenge in the given header values. Malformed parts are skipped: a registry's odd header must not
   * fail a pull that could still succeed anonymously.
   */
  public static List<Challenge> parseAll(List<String> headerValues) {
    List<Challenge> challenges = new ArrayList<>();
    for (String value : headerValues) {
      new Parser(value).parse(challenges);
    }
    return challenges;
  }

  /** The first challenge of {@code scheme}, if any. */
  public static Optional<Challenge> find(List<Challenge> challenges, String scheme) {
    return challenges.stream().filter(c -> c.scheme.equals(scheme)).findFirst();
  }

  private static final class Parser {
    private final String s;
    private int i;

    Parser(String s) {
      this.s = s == null ? "" : s;
    }

    void parse(List<Challenge> out) {
      String scheme = null;
      Map<String, String> params = new LinkedHashMap<>();
      while (true) {
        skip(" \t,");
        if (i >= s.length()) {
          break;
        }
        String token = token();
        if (token.isEmpty()) {
          i++; // stray character
          continue;
        }
        skip(" \t");
        if (i < s.length() && s.charAt(i) == '=' && scheme != null) {
          i++;
          skip(" \t");
          String value = i < s.length() && s.charAt(i) == '"' ? quoted() : token();
          params.put(token.toLowerCase(Locale.ROOT), value);
        } else {
          if (scheme != null) {
            out.add(new Challenge(scheme, params));
            params = new LinkedHashMap<>();
          }
          scheme = token.toLowerCase(Locale.ROOT);
          // token68 form (e.g. "Negotiate abc==") carries no parameters jitdi uses; skip it
        }
      }
      if (scheme != null) {
        out.add(new Challenge(scheme, params));
      }
    }

    private void skip(String chars) {
      while (i < s.length() && chars.indexOf(s.charAt(i)) >= 0) {
        i++;
      }
    }

    private String token() {
      int start = i;
      while (i < s.length() && "!#$%&'*+-.^_`|~:/".indexOf(s.charAt(i)) >= 0 || i < s.length()
          && Character.isLetterOrDigit(s.charAt(i))) {
        i++;
      }
      return s.substring(start, i);
    }

    private String quoted() {
      StringBuilder out = new StringBuilder();
      i++; // opening quote
      while (i < s.length() && s.charAt(i) != '"') {
        char c = s.charAt(i++);
        if (c == '\\' && i < s.length()) {
          c = s.charAt(i++);
        }
        out.append(c);
      }
      i++; // closing quote (or end)
      return out.toString();
    }
  }
}
