package io.jitdi.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TokenCacheTest {
  /** A clock the test moves by hand. */
  static final class ManualClock extends Clock {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    @Override
    public ZoneId getZone() {
      return ZoneId.of("UTC");
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  private final ManualClock clock = new ManualClock();
  private final TokenCache cache = new TokenCache(clock);
  private final TokenCache.Key key = new TokenCache.Key("https://auth/token", "reg", "repository:a:pull");

  @Test
  void keepsATokenUntilShortlyBeforeItExpires() {
    cache.put(key, "t1", Duration.ofSeconds(300));
    clock.now = clock.now.plusSeconds(289);
    assertEquals(Optional.of("t1"), cache.get(key));
    clock.now = clock.now.plusSeconds(1);
    assertEquals(Optional.empty(), cache.get(key));
  }

  @Test
  void keepsShortLivedTokensForHalfTheirLife() {
    cache.put(key, "t1", Duration.ofSeconds(2));
    clock.now = clock.now.plusMillis(999);
    assertTrue(cache.get(key).isPresent());
    clock.now = clock.now.plusMillis(1);
    assertTrue(cache.get(key).isEmpty());
  }

  @Test
  void invalidatesOnlyTheRefusedToken() {
    cache.put(key, "t1", Duration.ofMinutes(5));
    cache.put(key, "t2", Duration.ofMinutes(5));
    cache.invalidate(key, "t1");
    assertEquals(Optional.of("t2"), cache.get(key));
    cache.invalidate(key, "t2");
    assertEquals(Optional.empty(), cache.get(key));
  }

  @Test
  void keysAreScoped() {
    cache.put(key, "t1", Duration.ofMinutes(5));
    assertTrue(cache.get(new TokenCache.Key("https://auth/token", "reg", "repository:b:pull")).isEmpty());
  }
}
