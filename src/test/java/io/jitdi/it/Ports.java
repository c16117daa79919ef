package io.jitdi.it;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.function.IntFunction;

/**
 * Loopback ports for test fixtures, without the race of "find a free port, bind it later": a server the test owns
 * binds port 0 and reads the port back ({@link #httpServer}, {@link FaultRelay}); an external program that must be
 * told its port up front is started through {@link #withFreePort}, which tries another port when the one picked was
 * taken in between; a URL nobody answers on is {@link #deadEnd}.
 */
public final class Ports {
  /** How many ports {@link #withFreePort} tries before giving up. */
  static final int ATTEMPTS = 5;

  private static DeadEnd deadEnd;

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

  /**
   * Starts an external program on a port that is free now: {@code start} gets the port, starts the program and waits
   * until it answers (failing, e.g. with {@link Proc#await}, when it exits). If that failure says the address was
   * already in use (another process took the port between the pick and the bind), it is tried again on another port.
   */
  public static <T> T withFreePort(IntFunction<T> start) {
    return withFreePort(Ports::free, start);
  }

  static <T> T withFreePort(java.util.function.IntSupplier pick, IntFunction<T> start) {
    for (int attempt = 1; ; attempt++) {
      int port = pick.getAsInt();
      try {
        return start.apply(port);
      } catch (RuntimeException | AssertionError e) {
        if (attempt >= ATTEMPTS || !lostTheBindRace(e)) {
          throw e;
        }
        System.err.println("port " + port + " was taken before it could be bound; trying another (" + attempt + ")");
      }
    }
  }

  /** Whether {@code e} (or a cause) says that an address was already in use. */
  static boolean lostTheBindRace(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.net.BindException
          || t.getMessage() != null && t.getMessage().toLowerCase(Locale.ROOT).contains("address already in use")) {
        return true;
      }
    }
    return false;
  }

  /**
   * A port that was free a moment ago. Someone else may bind it before you do: hand it only to
   * {@link #withFreePort}, which retries.
   */
  static int free() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * {@code http://127.0.0.1:<port>} of a port this JVM holds for its whole life and where every connection is reset
   * at once: an upstream or a fallback that is never reachable, and that no other program can start answering on.
   */
  public static synchronized String deadEnd() {
    if (deadEnd == null) {
      deadEnd = new DeadEnd();
    }
    return "http://127.0.0.1:" + deadEnd.server.getLocalPort();
  }

  private static final class DeadEnd {
    final ServerSocket server;

    DeadEnd() {
      try {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      Thread t = new Thread(this::resetAll, "ports-dead-end");
      t.setDaemon(true);
      t.start();
    }

    private void resetAll() {
      while (true) {
        try (Socket s = server.accept()) {
          s.setSoLinger(true, 0);
        } catch (IOException e) {
          // the client went first; keep refusing
        }
      }
    }
  }
}
