package io.jitdi.upstream;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Bearer tokens by (realm, service, scope), each kept until shortly before it expires. Thread-safe; time comes from
 * the injected clock so expiry is testable without sleeping.
 */
public final class TokenCache {
  /** A token is dropped this long before its stated expiry, to cover clock skew and request time. */
  static final Duration MARGIN = Duration.ofSeconds(10);

  /** The key a token is issued for. */
  public record Key(String realm, String service, String scope) {}

  private record Entry(String token, Instant expires) {}

  private final Clock clock;
  private final ConcurrentHashMap<Key, Entry> tokens = new ConcurrentHashMap<>();

  public TokenCache(Clock clock) {
    this.clock = clock;
  }

  public Optional<String> get(Key key) {
    Entry e = tokens.get(key);
    if (e == null) {
      return Optional.empty();
    }
    if (!clock.instant().isBefore(e.expires)) {
      tokens.remove(key, e);
      return Optional.empty();
    }
    return Optional.of(e.token);
  }

  /**
   * Keeps {@code token} for {@code lifetime} minus a margin; a token that would expire within the margin is kept for
   * half its lifetime instead, so short-lived tokens still save round trips.
   */
  public void put(Key key, String token, Duration lifetime) {
    Duration keep = lifetime.compareTo(MARGIN.multipliedBy(2)) > 0 ? lifetime.minus(MARGIN) : lifetime.dividedBy(2);
    tokens.put(key, new Entry(token, clock.instant().plus(keep)));
  }

  /** Forgets {@code token} for {@code key} (the upstream refused it), unless a newer one replaced it. */
  public void invalidate(Key key, String token) {
    tokens.computeIfPresent(key, (k, e) -> e.token.equals(token) ? null : e);
  }
}
