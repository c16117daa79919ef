package io.jitdi.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SingleFlightTest {
  private final SingleFlight<String, String> flights = new SingleFlight<>();

  @Test
  void callersWhileARunIsUnderWayJoinIt() {
    AtomicInteger starts = new AtomicInteger();
    Promise<String> work = Promise.promise();
    SingleFlight.Joined<String> first = flights.run("k", () -> {
      starts.incrementAndGet();
      return work.future();
    });
    SingleFlight.Joined<String> second = flights.run("k", () -> {
      starts.incrementAndGet();
      return Future.succeededFuture("other");
    });
    assertFalse(first.coalesced());
    assertTrue(second.coalesced());
    assertSame(first.future(), second.future());
    work.complete("v");
    assertEquals("v", second.future().result());
    assertEquals(1, starts.get());
    assertEquals(0, flights.size());
  }

  @Test
  void aFailureIsNotCached() {
    flights.run("k", () -> Future.failedFuture("boom"));
    SingleFlight.Joined<String> next = flights.run("k", () -> Future.succeededFuture("ok"));
    assertFalse(next.coalesced());
    assertEquals("ok", next.future().result());
  }

  @Test
  void aThrowingStarterFailsTheRunAndIsForgotten() {
    SingleFlight.Joined<String> j = flights.run("k", () -> {
      throw new IllegalStateException("bad");
    });
    assertTrue(j.future().failed());
    assertFalse(flights.running("k"));
  }
}
