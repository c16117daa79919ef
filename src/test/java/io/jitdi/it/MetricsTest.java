package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The test helper that reads a scrape: a series that is not there fails, it never reads as 0. */
class MetricsTest {
  static final Metrics SCRAPE = Metrics.parse("""
      # HELP jitdi_cache_requests_total Cache lookups
      # TYPE jitdi_cache_requests_total counter
      jitdi_cache_requests_total{kind="blob",result="hit"} 3.0
      jitdi_cache_requests_total{kind="blob",result="miss"} 2.0
      jitdi_cache_requests_total{kind="manifest",result="miss"} 1.0
      jitdi_fills_inflight 0.0
      """);

  @Test
  void sumsTheMatchingSamples() {
    assertEquals(3.0, SCRAPE.value("jitdi_cache_requests_total", "kind", "blob", "result", "hit"), 0.0);
    assertEquals(3.0, SCRAPE.value("jitdi_cache_requests_total", "result", "miss"), 0.0);
    assertEquals(6.0, SCRAPE.value("jitdi_cache_requests_total"), 0.0);
    assertEquals(0.0, SCRAPE.value("jitdi_fills_inflight"), 0.0);
  }

  @Test
  void aMissingSeriesFailsAndNamesTheSimilarOnes() {
    AssertionError renamed = assertThrows(AssertionError.class, () -> SCRAPE.value("jitdi_fill_inflight"));
    assertTrue(renamed.getMessage().contains("jitdi_fill_inflight{}"), renamed.getMessage());
    assertTrue(renamed.getMessage().contains("similar series: [jitdi_fills_inflight]"), renamed.getMessage());

    AssertionError label = assertThrows(AssertionError.class,
        () -> SCRAPE.value("jitdi_cache_requests_total", "kind", "blob", "result", "coalesced"));
    assertTrue(label.getMessage().contains("result=\"coalesced\""), label.getMessage());
    assertTrue(label.getMessage().contains("result=hit"), label.getMessage());
  }

  @Test
  void valueOrZeroIsZeroOnlyForAMissingSeries() {
    assertEquals(0.0, SCRAPE.valueOrZero("jitdi_upstream_requests_total", "status", "200"), 0.0);
    assertEquals(2.0, SCRAPE.valueOrZero("jitdi_cache_requests_total", "kind", "blob", "result", "miss"), 0.0);
  }
}
