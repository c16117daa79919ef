package io.jitdi.config;

import java.nio.file.Path;

/**
 * A configuration error, located: {@code <file>:<line>: <key path>: <what is wrong>; <how to fix it>}.
 * The CLI prints {@link #getMessage()} and exits with status 2.
 */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;
  private final int line;

  public ConfigException(Path file, int line, String message) {
    super(file + (line > 0 ? ":" + line : "") + ": " + message, null, false, false);
    this.file = file;
    this.line = line;
  }

  public Path file() {
    return file;
  }

  /** 1-based line, or 0 when the error concerns the file as a whole. */
  public int line() {
    return line;
  }
}
