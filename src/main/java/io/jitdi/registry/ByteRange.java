package io.jitdi.registry;

import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A single byte range of a blob ({@code Range: bytes=a-b}, {@code bytes=a-}, {@code bytes=-n}), RFC 9110 §14.
 * Multiple ranges and malformed headers are ignored (the whole blob is sent, which the RFC allows); a range that
 * starts past the end is unsatisfiable (416).
 *
 * @param start first byte
 * @param end exclusive end
 */
public record ByteRange(long start, long end) {
  private static final Pattern SINGLE = Pattern.compile("bytes=(\\d{0,18})-(\\d{0,18})");

  public long length() {
    return end - start;
  }

  /** {@code Content-Range} for this range of a blob of {@code size} bytes. */
  public String contentRange(long size) {
    return "bytes " + start + "-" + (end - 1) + "/" + size;
  }

  /**
   * The range asked for in a blob of {@code size} bytes; empty when the whole blob is to be sent.
   *
   * @throws RegistryException {@link ErrorCode#RANGE_INVALID} (416) when the range cannot be satisfied
   */
  public static Optional<ByteRange> parse(String header, long size) {
    if (header == null || size < 0) {
      return Optional.empty();
    }
    Matcher m = SINGLE.matcher(header.trim());
    if (!m.matches() || (m.group(1).isEmpty() && m.group(2).isEmpty())) {
      return Optional.empty();
    }
    long start;
    long end;
    if (m.group(1).isEmpty()) {
      long suffix = Long.parseLong(m.group(2));
      if (suffix == 0) {
        throw unsatisfiable(header, size);
      }
      start = Math.max(0, size - suffix);
      end = size;
    } else {
      start = Long.parseLong(m.group(1));
      end = m.group(2).isEmpty() ? size : Math.min(size, Long.parseLong(m.group(2)) + 1);
      if (!m.group(2).isEmpty() && Long.parseLong(m.group(2)) < start) {
        return Optional.empty();
      }
    }
    if (start >= size) {
      throw unsatisfiable(header, size);
    }
    return Optional.of(new ByteRange(start, end));
  }

  private static RegistryException unsatisfiable(String header, long size) {
    return new RegistryException(ErrorCode.RANGE_INVALID, 416, "range " + header + " cannot be satisfied for a blob "
        + "of " + size + " bytes", Map.of("size", size), null, null);
  }
}
