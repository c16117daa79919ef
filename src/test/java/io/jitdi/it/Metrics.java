package io.jitdi.it;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A parsed Prometheus text exposition, for asserting exact counter values. */
public final class Metrics {
  /** One sample line. */
  public record Sample(String name, Map<String, String> labels, double value) {}

  private final List<Sample> samples;

  private Metrics(List<Sample> samples) {
    this.samples = samples;
  }

  public static Metrics parse(String text) {
    List<Sample> samples = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int brace = line.indexOf('{');
      int space = line.lastIndexOf(' ');
      String name = brace >= 0 && brace < space ? line.substring(0, brace) : line.substring(0, line.indexOf(' '));
      Map<String, String> labels = new LinkedHashMap<>();
      if (brace >= 0 && brace < space) {
        String inside = line.substring(brace + 1, line.lastIndexOf('}'));
        for (String pair : inside.split(",(?=[a-zA-Z_]+=\")")) {
          int eq = pair.indexOf('=');
          if (eq > 0) {
            labels.put(pair.substring(0, eq), pair.substring(eq + 2, pair.length() - 1));
          }
        }
      }
      samples.add(new Sample(name, labels, Double.parseDouble(line.substring(space + 1))));
    }
    return new Metrics(samples);
  }

  /**
   * The sum of the samples named {@code name} whose labels include {@code labels} (pairs of name, value). A series
   * that is not there fails the test, naming it and the series that look like it: a renamed metric or label must not
   * read as 0.
   */
  public double value(String name, String... labels) {
    Double sum = sum(name, labels);
    if (sum == null) {
      throw new AssertionError("no series " + describe(name, labels) + " in the scrape; similar series: "
          + similar(name));
    }
    return sum;
  }

  /**
   * Like {@link #value}, but 0 when no sample matches. Only for a series that is created by its first event (e.g. a
   * timer or a counter tagged with an upstream status), read before that event could have happened: there, absence
   * means "never happened". Read the same series afterwards with {@link #value}, so that a renamed metric fails.
   */
  public double valueOrZero(String name, String... labels) {
    Double sum = sum(name, labels);
    return sum == null ? 0 : sum;
  }

  private Double sum(String name, String... labels) {
    if (labels.length % 2 != 0) {
      throw new IllegalArgumentException("labels come in pairs: " + List.of(labels));
    }
    double sum = 0;
    boolean found = false;
    for (Sample s : samples) {
      if (!s.name().equals(name)) {
        continue;
      }
      boolean match = true;
      for (int i = 0; i < labels.length; i += 2) {
        if (!labels[i + 1].equals(s.labels().get(labels[i]))) {
          match = false;
          break;
        }
      }
      if (match) {
        sum += s.value();
        found = true;
      }
    }
    return found ? sum : null;
  }

  private static String describe(String name, String... labels) {
    StringBuilder b = new StringBuilder(name).append('{');
    for (int i = 0; i < labels.length; i += 2) {
      b.append(i == 0 ? "" : ",").append(labels[i]).append("=\"").append(labels[i + 1]).append('"');
    }
    return b.append('}').toString();
  }

  /**
   * The series of the same name (any labels), or else the names that differ from it in at most one word (a renamed
   * metric: {@code jitdi_fill_inflight} for {@code jitdi_fills_inflight}) or share its first two words; at most 30.
   */
  private List<String> similar(String name) {
    List<String> same = samples.stream().filter(s -> s.name().equals(name)).map(s -> s.name() + s.labels())
        .distinct().limit(30).toList();
    if (!same.isEmpty()) {
      return same;
    }
    List<String> words = List.of(name.split("_"));
    String prefix = words.size() >= 2 ? words.get(0) + "_" + words.get(1) : name;
    return samples.stream().map(Sample::name).distinct().filter(n -> n.startsWith(prefix) || oneWordApart(words,
        List.of(n.split("_")))).sorted().limit(30).toList();
  }

  private static boolean oneWordApart(List<String> a, List<String> b) {
    if (a.size() != b.size()) {
      return false;
    }
    int differ = 0;
    for (int i = 0; i < a.size(); i++) {
      differ += a.get(i).equals(b.get(i)) ? 0 : 1;
    }
    return differ <= 1;
  }

  public List<Sample> samples() {
    return samples;
  }
}
