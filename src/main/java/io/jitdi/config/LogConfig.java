package io.jitdi.config;

import java.util.Optional;

/**
 * The {@code log:} section.
 *
 * @param format {@code text} (default) or {@code json}: one JSON object per line
 * @param level level of jitdi's own loggers; {@code JITDI_LOG_LEVEL} in the environment wins over it
 */
public record LogConfig(Format format, Optional<String> level) {
  /** Log line format. */
  public enum Format { text, json }

  public static final LogConfig DEFAULT = new LogConfig(Format.text, Optional.empty());
}
