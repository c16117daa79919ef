package io.jitdi.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/** The statistics the report gives of a figure's samples (never empty): median, min-max, and ratios of medians. */
final class Stats {
  private Stats() {}

  static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }

  static double min(List<Double> xs) {
    return Collections.min(xs);
  }

  static double max(List<Double> xs) {
    return Collections.max(xs);
  }

  /** median(a) / median(b). */
  static double ratio(List<Double> a, List<Double> b) {
    return median(a) / median(b);
  }

  /** {@code median (min-max)}, each with 3 significant-ish digits (see {@link #format}). */
  static String summary(List<Double> xs) {
    return String.format(Locale.ROOT, "%s (%s-%s)", format(median(xs)), format(min(xs)), format(max(xs)));
  }

  /** No decimals from 100 up, one from 10 up, three below. */
  static String format(double v) {
    return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : v >= 10 ? String.format(Locale.ROOT, "%.1f", v)
        : String.format(Locale.ROOT, "%.3f", v);
  }
}
