package io.jitdi.bench.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Locale;
import java.util.function.IntFunction;

/**
 * Loopback ports: a program that must be told its port up front is started through {@link #withFreePort}, which tries
 * another port when the one picked was taken in between; a URL nobody answers on is {@link #deadEnd}.
 */
public final class Ports {
  private static final int ATTEMPTS = 5;
  private static ServerSocket deadEnd;

  private Ports() {}

  /** {@code http://127.0.0.1:<port>}. */
  public static String url(int port) {
    return "http://127.0.0.1:" + port;
  }

  /**
   * Starts a program on a port that is free now: {@code start} gets the port, starts the program and waits until it
   * answers. If it fails saying the address was already in use, it is tried again on another port (5 times at most).
   */
  public static <T> T withFreePort(IntFunction<T> start) {
    for (int attempt = 1; ; attempt++) {
      int port = free();
      try {
        return start.apply(port);
      } catch (RuntimeException e) {
        if (attempt >= ATTEMPTS || !addressInUse(e)) {
          throw e;
        }
        System.out.println("port " + port + " was taken before it could be bound; trying another (" + attempt + ")");
      }
    }
  }

  private static boolean addressInUse(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException
          || t.getMessage() != null && t.getMessage().toLowerCase(Locale.ROOT).contains("address already in use")) {
        return true;
      }
    }
    return false;
  }

  private static int free() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * {@code http://127.0.0.1:<port>} of a port this JVM holds for its whole life and where every connection is reset at
   * once: a fallback that is never reachable, so that every byte a client gets came through its mirror.
   */
  public static synchronized String deadEnd() {
    if (deadEnd == null) {
      try {
        deadEnd = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      Thread t = new Thread(Ports::resetAll, "dead-end");
      t.setDaemon(true);
      t.start();
    }
    return url(deadEnd.getLocalPort());
  }

  private static void resetAll() {
    while (true) {
      try (Socket s = deadEnd.accept()) {
        s.setSoLinger(true, 0);
      } catch (IOException e) {
        // the client went first; keep refusing
      }
    }
  }
}
