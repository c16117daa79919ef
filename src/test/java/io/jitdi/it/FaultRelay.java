package io.jitdi.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;

/**
 * A small TCP relay in front of a real upstream that injects faults into what the upstream sends back, the way
 * MockWebServer scripts them: cut after N bytes, stall, throttle, or flip a byte. It counts every byte relayed back.
 *
 * <p>A fault aimed at a path ({@link #onRequest}) is armed when a request line containing that path goes upstream,
 * and its offset counts from the start of that request's response; it fires once. The connection-wide faults
 * ({@link #cutAfter}, {@link #cutEveryConnectionAfter}, {@link #flipByteAt}, {@link #stallAfter}) count from the
 * start of the next connection that gets that far.
 *
 * <p>A fault aimed with {@link #onNextRequest} is narrower: it is armed by the next request line with that method and
 * path, its offset counts from the first byte of that response's body (after the header block), and it is dropped if
 * that response ends before the offset. The relay also records every request line it passes upstream
 * ({@link #requests}) and the bytes of the response to each ({@link #bytesRelayedFor}).
 */
public final class FaultRelay implements AutoCloseable {
  /** What to do to a response. */
  public enum Kind { CUT, STALL, FLIP }

  /**
   * A fault aimed at the response to a request whose request line contains {@code path}; with a {@code method}, only
   * a request line of that method arms it, and then {@code offset} counts from the start of the response body.
   */
  record Aimed(String path, Kind kind, long offset, long millis, String method) {
    Aimed(String path, Kind kind, long offset, long millis) {
      this(path, kind, offset, millis, null);
    }

    boolean fromBody() {
      return method != null;
    }
  }

  private static final Pattern REQUEST_LINE = Pattern.compile("[A-Z]+ \\S+ HTTP/1\\.[01]");

  private final ServerSocket server;
  private final int targetPort;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final AtomicLong relayed = new AtomicLong();
  private final AtomicInteger connections = new AtomicInteger();
  private final AtomicReference<Aimed> aimed = new AtomicReference<>();
  private final List<String> requestLines = new CopyOnWriteArrayList<>();
  private final Map<String, AtomicLong> bytesByRequestLine = new ConcurrentHashMap<>();
  private volatile long cutAfter = -1;
  private volatile long cutEveryAfter = -1;
  private volatile long flipAt = -1;
  private volatile long stallAfter = -1;
  private volatile long stallMillis;
  private volatile long bytesPerSecond = -1;
  private final AtomicLong throttleEpoch = new AtomicLong();
  private volatile boolean closed;

  private FaultRelay(ServerSocket server, int targetPort) {
    this.server = server;
    this.targetPort = targetPort;
  }

  public static FaultRelay to(int targetPort) {
    return to(targetPort, InetAddress.getLoopbackAddress(), 0);
  }

  /**
   * A relay listening on {@code address:port} (port 0: a free one), e.g. on 127.0.0.2 with the port of a relay on
   * 127.0.0.1, so that one host name with several loopback addresses names several relays.
   */
  public static FaultRelay to(int targetPort, InetAddress address, int port) {
    try {
      ServerSocket server = new ServerSocket(port, 50, address);
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
    return "http://" + server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
  }

  public int port() {
    return server.getLocalPort();
  }

  /** Arms a one-shot fault for the response to the next request whose request line contains {@code path}. */
  public FaultRelay onRequest(String path, Kind kind, long offset, long millis) {
    aimed.set(new Aimed(path, kind, offset, millis));
    return this;
  }

  /**
   * Arms a one-shot fault for the response to the next request whose request line is {@code method} with a target
   * containing {@code path}; {@code bodyOffset} counts from the first byte of the response body.
   */
  public FaultRelay onNextRequest(String method, String path, Kind kind, long bodyOffset, long millis) {
    aimed.set(new Aimed(path, kind, bodyOffset, millis, method));
    return this;
  }

  /** Flips the byte at {@code bodyOffset} of the body of the response to the next GET whose target contains path. */
  public FaultRelay flipBodyByteOfNextGet(String path, long bodyOffset) {
    return onNextRequest("GET", path, Kind.FLIP, bodyOffset, 0);
  }

  /** The next connection that passes {@code bytes} bytes downstream is cut there. */
  public FaultRelay cutAfter(long bytes) {
    cutAfter = bytes;
    return this;
  }

  /** Every connection is cut once it passes {@code bytes}, until {@link #heal()}: an upstream that keeps failing. */
  public FaultRelay cutEveryConnectionAfter(long bytes) {
    cutEveryAfter = bytes;
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
    throttleEpoch.incrementAndGet();
    return this;
  }

  /** Clears every fault. */
  public FaultRelay heal() {
    aimed.set(null);
    cutAfter = -1;
    cutEveryAfter = -1;
    flipAt = -1;
    stallAfter = -1;
    bytesPerSecond = -1;
    return this;
  }

  /** Bytes relayed from the upstream to jitdi so far. */
  public long bytesRelayed() {
    return relayed.get();
  }

  public int connections() {
    return connections.get();
  }

  /** How many request lines of {@code method} whose target contains {@code pathPart} went upstream so far. */
  public long requests(String method, String pathPart) {
    return requestLines.stream().filter(l -> l.startsWith(method + " ") && target(l).contains(pathPart)).count();
  }

  /** Every request line that went upstream so far, in order. */
  public List<String> requestLines() {
    return List.copyOf(requestLines);
  }

  /** Bytes relayed back (head and body) in answer to requests whose target contains {@code pathPart}. */
  public long bytesRelayedFor(String pathPart) {
    return bytesByRequestLine.entrySet().stream().filter(e -> target(e.getKey()).contains(pathPart))
        .mapToLong(e -> e.getValue().get()).sum();
  }

  private static String target(String requestLine) {
    String[] parts = requestLine.split(" ");
    return parts.length > 1 ? parts[1] : "";
  }

  /**
   * Per connection: the aimed fault armed by the last request, the bytes of its response so far and where in the
   * response it fires (-1 until the end of the head is seen, for a body offset); the request line being answered.
   */
  private static final class Connection {
    volatile Aimed armed;
    volatile long responseBytes;
    volatile long armedAt = -1;
    volatile String currentRequest;
    volatile int headMatch;
    final StringBuilder line = new StringBuilder();
  }

  private static void arm(Connection connection, Aimed a) {
    connection.responseBytes = 0;
    connection.headMatch = 0;
    connection.armedAt = a.fromBody() ? -1 : a.offset();
    connection.armed = a;
  }

  /** Feeds request bytes going upstream; records each complete request line and arms a fault aimed by method. */
  private void scanRequestLines(Connection connection, byte[] buffer, int n) {
    for (int k = 0; k < n; k++) {
      char c = (char) (buffer[k] & 0xff);
      if (c != '\n') {
        if (connection.line.length() < 8192) {
          connection.line.append(c);
        }
        continue;
      }
      int end = connection.line.length();
      if (end > 0 && connection.line.charAt(end - 1) == '\r') {
        end--;
      }
      String requestLine = connection.line.substring(0, end);
      connection.line.setLength(0);
      if (!REQUEST_LINE.matcher(requestLine).matches()) {
        continue;
      }
      requestLines.add(requestLine);
      connection.currentRequest = requestLine;
      Aimed previous = connection.armed;
      if (previous != null && previous.fromBody()) {
        connection.armed = null; // the response it was aimed at ended before its offset
      }
      Aimed a = aimed.get();
      if (a != null && a.fromBody() && requestLine.startsWith(a.method() + " ")
          && target(requestLine).contains(a.path()) && aimed.compareAndSet(a, null)) {
        arm(connection, a);
      }
    }
  }

  /** The index just past the end of the response head ({@code \r\n\r\n}) in this buffer, or -1. */
  private static int headEnd(Connection connection, byte[] buffer, int n) {
    int m = connection.headMatch;
    for (int k = 0; k < n; k++) {
      byte b = buffer[k];
      if (m % 2 == 0 && b == '\r' || m % 2 == 1 && b == '\n') {
        m++;
      } else {
        m = b == '\r' ? 1 : 0;
      }
      if (m == 4) {
        connection.headMatch = 0;
        return k + 1;
      }
    }
    connection.headMatch = m;
    return -1;
  }

  private void count(Connection connection, long n) {
    relayed.addAndGet(n);
    String request = connection.currentRequest;
    if (request != null && n > 0) {
      bytesByRequestLine.computeIfAbsent(request, k -> new AtomicLong()).addAndGet(n);
    }
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
        Connection connection = new Connection();
        start(() -> pump(client, upstream, false, connection));
        start(() -> pump(upstream, client, true, connection));
      } catch (IOException e) {
        if (closed) {
          return;
        }
      }
    }
  }

  private static void start(Runnable r) {
    Thread t = new Thread(r, "fault-relay-pump");
    t.setDaemon(true);
    t.start();
  }

  private void pump(Socket from, Socket to, boolean downstream, Connection connection) {
    byte[] buffer = new byte[16 * 1024];
    long sent = 0;
    long epoch = -1;
    long epochStarted = 0;
    long epochBytes = 0;
    try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        if (!downstream) {
          Aimed a = aimed.get();
          if (a != null && !a.fromBody() && new String(buffer, 0, n, StandardCharsets.ISO_8859_1).contains(a.path())
              && aimed.compareAndSet(a, null)) {
            arm(connection, a);
          }
          scanRequestLines(connection, buffer, n);
        } else {
          Aimed a = connection.armed;
          if (a != null) {
            long at = connection.responseBytes;
            if (connection.armedAt < 0) {
              int body = headEnd(connection, buffer, n);
              if (body >= 0) {
                connection.armedAt = at + body + a.offset();
              }
            }
            long fireAt = connection.armedAt;
            if (fireAt >= 0 && at + n > fireAt) {
              int i = (int) (fireAt - at);
              connection.armed = null;
              switch (a.kind()) {
                case CUT -> {
                  out.write(buffer, 0, i);
                  out.flush();
                  count(connection, i);
                  to.setSoLinger(true, 0);
                  return;
                }
                case FLIP -> buffer[i] ^= 0x01;
                case STALL -> {
                  out.write(buffer, 0, i);
                  out.flush();
                  count(connection, i);
                  Thread.sleep(a.millis());
                  System.arraycopy(buffer, i, buffer, 0, n - i);
                  n -= i;
                  sent += i;
                }
              }
            }
            connection.responseBytes = at + n;
          }
          long every = cutEveryAfter;
          long cut = every >= 0 ? every : cutAfter;
          if (cut >= 0 && sent + n > cut) {
            if (every < 0) {
              cutAfter = -1;
            }
            // a reused connection may already be past the cut point: then it is cut before this read
            int keep = (int) Math.max(0, cut - sent);
            out.write(buffer, 0, keep);
            out.flush();
            count(connection, keep);
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
            // the rate counts from when the throttle was set, not from when the connection opened
            long current = throttleEpoch.get();
            if (current != epoch) {
              epoch = current;
              epochStarted = System.nanoTime();
              epochBytes = 0;
            }
            epochBytes += n;
            long ahead = (long) (epochBytes * 1e9 / rate) - (System.nanoTime() - epochStarted);
            if (ahead > 0) {
              Thread.sleep(ahead / 1_000_000, (int) (ahead % 1_000_000));
            }
          }
          count(connection, n);
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
