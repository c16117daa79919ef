package io.jitdi.bench.harness;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP relay on a free loopback port in front of a loopback upstream that counts the bytes the upstream sends back
 * (response heads included): how much a proxy fetched. Two threads a connection, 16 KiB at a time, no delay.
 */
public final class CountingRelay implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final AtomicLong relayed = new AtomicLong();
  private volatile boolean closed;

  private CountingRelay(ServerSocket server, int targetPort) {
    this.server = server;
    this.targetPort = targetPort;
  }

  /** A relay to {@code 127.0.0.1:targetPort}, accepting connections from now on. */
  public static CountingRelay to(int targetPort) {
    try {
      CountingRelay relay = new CountingRelay(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()), targetPort);
      daemon(relay::accept, "relay-accept");
      return relay;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String url() {
    return Ports.url(server.getLocalPort());
  }

  /** Bytes relayed from the upstream back to the clients so far. */
  public long bytesRelayed() {
    return relayed.get();
  }

  private void accept() {
    while (!closed) {
      try {
        Socket client = server.accept();
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
        client.setTcpNoDelay(true);
        upstream.setTcpNoDelay(true);
        sockets.add(client);
        sockets.add(upstream);
        daemon(() -> pump(client, upstream, null), "relay-up");
        daemon(() -> pump(upstream, client, relayed), "relay-down");
      } catch (IOException e) {
        if (closed) {
          return;
        }
      }
    }
  }

  /** Copies {@code from} to {@code to} until either side closes, adding what it copied to {@code counted}. */
  private static void pump(Socket from, Socket to, AtomicLong counted) {
    byte[] buffer = new byte[16 * 1024];
    try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        if (counted != null) {
          counted.addAndGet(n);
        }
        out.write(buffer, 0, n);
        out.flush();
      }
    } catch (IOException e) {
      // a side closed; close the other
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static void daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException ignored) {
      // closing
    }
    sockets.forEach(CountingRelay::closeQuietly);
  }
}
