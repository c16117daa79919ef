package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Ports for fixtures: a lost bind race is retried on another port, any other failure is not. */
class PortsTest {
  private static ServerSocket bind(int port) {
    try {
      return new ServerSocket(port, 1, InetAddress.getLoopbackAddress());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot bind " + port, e);
    }
  }

  @Test
  void aPortTakenBetweenThePickAndTheBindIsReplacedByAnother() throws Exception {
    try (ServerSocket thief = bind(0)) {
      AtomicInteger picks = new AtomicInteger();
      List<Integer> tried = new ArrayList<>();
      // the first pick is a port someone else has just bound
      try (ServerSocket mine = Ports.withFreePort(() -> picks.getAndIncrement() == 0 ? thief.getLocalPort()
          : Ports.free(), port -> {
            tried.add(port);
            return bind(port);
          })) {
        assertEquals(2, tried.size(), "tried " + tried);
        assertEquals(thief.getLocalPort(), tried.get(0));
        assertNotEquals(thief.getLocalPort(), mine.getLocalPort());
      }
    }
  }

  @Test
  void aProgramThatLogsAddressInUseCountsAsALostRace() {
    assertTrue(Ports.lostTheBindRace(new AssertionError("docker-registry exited (1) before ...: listen tcp "
        + "127.0.0.1:41234: bind: address already in use")));
    assertTrue(Ports.lostTheBindRace(new UncheckedIOException(new java.net.BindException("Address already in use"))));
  }

  @Test
  void otherFailuresAreNotRetried() {
    AtomicInteger attempts = new AtomicInteger();
    assertThrows(AssertionError.class, () -> Ports.withFreePort(port -> {
      attempts.incrementAndGet();
      throw new AssertionError("timed out waiting for /readyz");
    }));
    assertEquals(1, attempts.get());
  }

  @Test
  void theDeadEndResetsEveryConnection() throws Exception {
    String url = Ports.deadEnd();
    int port = Integer.parseInt(url.substring(url.lastIndexOf(':') + 1));
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      IOException e = assertThrows(IOException.class, () -> {
        s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
        if (s.getInputStream().read() >= 0) {
          throw new AssertionError("the dead end answered");
        }
      });
      assertTrue(e.getMessage().contains("reset"), e.toString());
    }
    assertEquals(url, Ports.deadEnd(), "one per JVM");
  }
}
