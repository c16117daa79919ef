package io.jitdi.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small TCP relay in front of a real upstream that injects faults into what the upstream sends back, the way
 * MockWebServer scripts them: cut a connection after N bytes, stall, throttle, or flip a byte. Faults are one-shot
 * unless said otherwise, and count bytes per connection from its start. It also counts every byte relayed back.
 */
public final class FaultRelay implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final AtomicLong relayed = new AtomicLong();
  private final AtomicInteger connections = new AtomicInteger();
  private volatile long cutAfter = -1;
  private volatile long flipAt = -1;
  private volatile long stallAfter = -1;
  private volatile long stallMillis;
  private volatile long bytesPerSecond = -1;
  private volatile boolean closed;

  private FaultRelay(ServerSocket server, int targetPort) {
    this.server = server;
    this.targetPort = targetPort;
  }

  public static FaultRelay to(int targetPort) {
    try {
      ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      FaultRelay relay = new FaultRelay(server, targetPort);
      Thread t = new Thread(relay::accept, "fault-relay-accept");
      t.setDaemon(true);
      t.start();
      return relay;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String url() {
    return "http://127.0.0.1:" + server.getLocalPort();
  }

  public int port() {
    return server.getLocalPort();
  }

  /** The next connection that passes {@code bytes} bytes downstream is cut there. */
  public FaultRelay cutAfter(long bytes) {
    cutAfter = bytes;
    return this;
  }

  /** The byte at offset {@code offset} of the next connection that gets that far is flipped. */
  public FaultRelay flipByteAt(long offset) {
    flipAt = offset;
    return this;
  }

  /** The next connection that passes {@code bytes} stops sending for {@code millis}. */
  public FaultRelay stallAfter(long bytes, long millis) {
    stallMillis = millis;
    stallAfter = bytes;
    return this;
  }

  /** Every connection sends at most this many bytes per second from now on (-1: unlimited). */
  public FaultRelay throttle(long perSecond) {
    bytesPerSecond = perSecond;
    return this;
  }

  /** Bytes relayed from the upstream to jitdi so far. */
  public long bytesRelayed() {
    return relayed.get();
  }

  public int connections() {
    return connections.get();
  }

  private void accept() {
    while (!closed) {
      try {
        Socket client = server.accept();
        connections.incrementAndGet();
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
        client.setTcpNoDelay(true);
        upstream.setTcpNoDelay(true);
        sockets.add(client);
        sockets.add(upstream);
        start(() -> pump(client, upstream, false));
        start(() -> pump(upstream, client, true));
      } catch (IOException e) {
        if (!closed) {
          continue;
        }
        return;
      }
    }
  }

  private static void start(Runnable r) {
    Thread t = new Thread(r, "fault-relay-pump");
    t.setDaemon(true);
    t.start();
  }

  private void pump(Socket from, Socket to, boolean downstream) {
    byte[] buffer = new byte[16 * 1024];
    long sent = 0;
    long started = System.nanoTime();
    try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        if (downstream) {
          long cut = cutAfter;
          if (cut >= 0 && sent + n > cut) {
            cutAfter = -1;
            int keep = (int) (cut - sent);
            out.write(buffer, 0, keep);
            out.flush();
            relayed.addAndGet(keep);
            to.setSoLinger(true, 0);
            break;
          }
          long flip = flipAt;
          if (flip >= 0 && sent <= flip && flip < sent + n) {
            flipAt = -1;
            buffer[(int) (flip - sent)] ^= 0x01;
          }
          long stall = stallAfter;
          if (stall >= 0 && sent + n > stall) {
            stallAfter = -1;
            Thread.sleep(stallMillis);
          }
          long rate = bytesPerSecond;
          if (rate > 0) {
            long due = (long) ((sent + n) * 1e9 / rate);
            long ahead = due - (System.nanoTime() - started);
            if (ahead > 0) {
              Thread.sleep(ahead / 1_000_000, (int) (ahead % 1_000_000));
            }
          }
          relayed.addAndGet(n);
        }
        out.write(buffer, 0, n);
        out.flush();
        sent += n;
      }
    } catch (IOException | InterruptedException e) {
      // a side closed; close the other
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
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
    sockets.forEach(FaultRelay::closeQuietly);
  }
}
