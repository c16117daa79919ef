package io.jitdi.config;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte counts as written in the config: a plain number of bytes, IEC units ({@code KiB MiB GiB TiB}, also written
 * {@code Ki Mi Gi Ti} as Kubernetes does) or SI units ({@code KB MB GB TB}, powers of 1000). Example: {@code 50GiB}.
 */
public final class ByteSize {
  private static final Pattern SYNTAX = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([A-Za-z]*)");
  private static final Map<String, Long> UNITS = Map.ofEntries(
      Map.entry("", 1L), Map.entry("b", 1L),
      Map.entry("kib", 1L << 10), Map.entry("ki", 1L << 10), Map.entry("mib", 1L << 20), Map.entry("mi", 1L << 20),
      Map.entry("gib", 1L << 30), Map.entry("gi", 1L << 30), Map.entry("tib", 1L << 40), Map.entry("ti", 1L << 40),
      Map.entry("kb", 1_000L), Map.entry("mb", 1_000_000L), Map.entry("gb", 1_000_000_000L),
      Map.entry("tb", 1_000_000_000_000L));

  private ByteSize() {}

  /**
   * Parses a size.
   *
   * @throws IllegalArgumentException with a message that says how to write one
   */
  public static long parse(String text) {
    Matcher m = SYNTAX.matcher(text.trim());
    Long unit = m.matches() ? UNITS.get(m.group(2).toLowerCase(Locale.ROOT)) : null;
    if (unit == null) {
      throw new IllegalArgumentException("\"" + text + "\" is not a size; write a number with KiB, MiB, GiB or TiB,"
          + " e.g. 50GiB");
    }
    BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit));
    if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException("\"" + text + "\" is too large");
    }
    return bytes.longValue();
  }

  /** A human-readable IEC rendering, e.g. {@code 1.5 GiB}. */
  public static String format(long bytes) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double value = bytes;
    int i = 0;
    while (Math.abs(value) >= 1024 && i < units.length - 1) {
      value /= 1024;
      i++;
    }
    return i == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", value, units[i]);
  }
}
