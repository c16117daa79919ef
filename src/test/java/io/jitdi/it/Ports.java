package io.jitdi.it;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.Executors;

/** Free loopback ports, and HTTP servers on them for test fixtures. */
public final class Ports {
  private Ports() {}

  /** A JDK HTTP server on a free loopback port, with a thread per request; add contexts, then start it. */
  public static HttpServer httpServer() {
    try {
      HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
      server.setExecutor(Executors.newCachedThreadPool());
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static int free() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
