package io.jitdi.cli;

/** What a jitdi command exits with. */
enum ExitCode {
  /** Done (or a clean shutdown). */
  OK(0),
  /** The command ran and failed (start-up failed, a check failed, the cache has problems). */
  FAILED(1),
  /** A bad command line or config, or the cache is in use; the message says what to fix. */
  USAGE(2);

  private final int status;

  ExitCode(int status) {
    this.status = status;
  }

  /** The process exit status. */
  int status() {
    return status;
  }
}
