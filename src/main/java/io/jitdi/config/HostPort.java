package io.jitdi.config;

/** A listen address: {@code host:port}, {@code [ipv6]:port} or {@code :port} (all interfaces). */
public record HostPort(String host, int port) {
  /**
   * Parses an address.
   *
   * @throws IllegalArgumentException with a message that says how to write one
   */
  public static HostPort parse(String text) {
    int colon = text.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("\"" + text + "\" has no port; write host:port, e.g. 0.0.0.0:8888");
    }
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    if (host.isEmpty()) {
      host = "0.0.0.0";
    }
    int port;
    try {
      port = Integer.parseInt(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("\"" + text + "\" has no valid port; write host:port with a port 0-65535");
    }
    return new HostPort(host, port);
  }

  @Override
  public String toString() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
