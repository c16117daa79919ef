package io.jitdi.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

class AcceptsTest {
  private static final String OCI = "application/vnd.oci.image.manifest.v1+json";
  private static final String INDEX = "application/vnd.oci.image.index.v1+json";
  private static final String V2 = "application/vnd.docker.distribution.manifest.v2+json";

  @Test
  void separateLinesAndOneJoinedLineGiveTheSameSet() {
    String skopeo = Accepts.normalize(List.of(OCI, V2, INDEX));
    String containerd = Accepts.normalize(List.of(INDEX + ", " + V2 + ",  " + OCI));
    assertEquals(skopeo, containerd);
    assertEquals(String.join(", ", List.of(V2, OCI, INDEX).stream().sorted().toList()), skopeo);
  }

  @Test
  void dropsParametersDuplicatesAndJunk() {
    assertEquals(OCI + ", */*", Accepts.normalize(List.of(OCI + "; q=0.9", "*/*;q=0.1", OCI.toUpperCase(), "bogus",
        "")).replace("*/*, " + OCI, OCI + ", */*"));
    assertNull(Accepts.normalize(List.of()));
    assertNull(Accepts.normalize(List.of(" , ")));
  }
}
