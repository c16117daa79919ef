package io.jitdi.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChallengeTest {
  @Test
  void parsesDockerHubsBearerChallenge() {
    List<Challenge> cs = Challenge.parseAll(List.of("Bearer realm=\"https://auth.docker.io/token\","
        + "service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\""));
    assertEquals(1, cs.size());
    Challenge c = cs.get(0);
    assertEquals("bearer", c.scheme());
    assertEquals("https://auth.docker.io/token", c.param("realm").orElseThrow());
    assertEquals("registry.docker.io", c.param("service").orElseThrow());
    assertEquals("repository:library/busybox:pull", c.param("scope").orElseThrow());
  }

  @Test
  void parsesSeveralChallengesInOneOrManyHeaders() {
    List<Challenge> cs = Challenge.parseAll(List.of("Basic realm=\"x\", Bearer realm=\"https://r/t\",service=s",
        "Negotiate abc=="));
    assertEquals(List.of("basic", "bearer", "negotiate"), cs.stream().map(Challenge::scheme).toList());
    assertEquals("s", Challenge.find(cs, "bearer").orElseThrow().param("service").orElseThrow());
  }

  @Test
  void unescapesQuotedValuesWithCommas() {
    Challenge c = Challenge.parseAll(List.of("Bearer realm=\"https://r/t?a=1,b=2\",scope=\"x \\\"y\\\"\"")).get(0);
    assertEquals("https://r/t?a=1,b=2", c.param("realm").orElseThrow());
    assertEquals("x \"y\"", c.param("scope").orElseThrow());
  }

  @Test
  void toleratesGarbage() {
    assertTrue(Challenge.parseAll(List.of("", ",,,", "\"")).stream().allMatch(c -> c.params().isEmpty()));
  }
}
