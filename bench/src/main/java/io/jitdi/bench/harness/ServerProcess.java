package io.jitdi.bench.harness;

/** A program the bench started that answers HTTP on a loopback port; {@link #close()} stops it by PID. */
public class ServerProcess implements AutoCloseable {
  private final Proc proc;
  private final int port;

  public ServerProcess(Proc proc, int port) {
    this.proc = proc;
    this.port = port;
  }

  /** {@code http://127.0.0.1:<port>}. */
  public final String url() {
    return Ports.url(port);
  }

  public final int port() {
    return port;
  }

  public final long pid() {
    return proc.pid();
  }

  /** Its output so far. */
  public final String log() {
    return proc.log();
  }

  @Override
  public final void close() {
    proc.close();
  }

  @Override
  public String toString() {
    return proc + " at " + url();
  }
}
