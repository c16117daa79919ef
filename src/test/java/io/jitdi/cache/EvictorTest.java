package io.jitdi.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jitdi.oci.Digest;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EvictorTest {
  private static Digest d(int n) {
    return Digest.sha256Of(new byte[] {(byte) n});
  }

  @Test
  void evictsLeastRecentlyAccessedFirstUntilEnoughIsFreed() {
    List<Evictor.Candidate> all = List.of(new Evictor.Candidate(d(1), 10, 300), new Evictor.Candidate(d(2), 10, 100),
        new Evictor.Candidate(d(3), 10, 200), new Evictor.Candidate(d(4), 10, 400));
    assertEquals(List.of(d(2), d(3)), Evictor.choose(all, 15, x -> false).stream().map(Evictor.Candidate::digest)
        .toList());
  }

  @Test
  void skipsPinnedBlobs() {
    List<Evictor.Candidate> all = List.of(new Evictor.Candidate(d(1), 10, 100), new Evictor.Candidate(d(2), 10, 200),
        new Evictor.Candidate(d(3), 10, 300));
    Set<Digest> pinned = Set.of(d(1));
    assertEquals(List.of(d(2)), Evictor.choose(all, 10, pinned::contains).stream().map(Evictor.Candidate::digest)
        .toList());
  }

  @Test
  void freesWhatItCanWhenTooMuchIsPinned() {
    List<Evictor.Candidate> all = List.of(new Evictor.Candidate(d(1), 10, 100), new Evictor.Candidate(d(2), 10, 200));
    assertEquals(1, Evictor.choose(all, 100, d(2)::equals).size());
  }
}
