package io.jitdi.cache;

import io.jitdi.oci.Digest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;

/** The eviction policy: least recently accessed first. Pure, so the order is unit-testable. */
public final class Evictor {
  private Evictor() {}

  /** A blob that could be evicted. */
  public record Candidate(Digest digest, long size, long lastAccess) {}

  /**
   * The blobs to evict to free at least {@code bytes}: least recently accessed first (ties broken by digest, so the
   * choice is deterministic), skipping pinned ones. Fewer bytes may come back when too much is pinned.
   */
  public static List<Candidate> choose(List<Candidate> candidates, long bytes, Predicate<Digest> pinned) {
    List<Candidate> sorted = new ArrayList<>(candidates);
    sorted.sort(Comparator.comparingLong(Candidate::lastAccess).thenComparing(Candidate::digest));
    List<Candidate> victims = new ArrayList<>();
    long freed = 0;
    for (Candidate c : sorted) {
      if (freed >= bytes) {
        break;
      }
      if (!pinned.test(c.digest())) {
        victims.add(c);
        freed += c.size();
      }
    }
    return victims;
  }
}
