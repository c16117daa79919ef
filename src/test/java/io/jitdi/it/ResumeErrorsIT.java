package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A blob transfer from a real docker-registry is cut, and the upstream answers jitdi's resume request (a
 * {@code Range} GET) with 429 or 503 (a {@link RegistryFront} in front of the registry does both). The client gets a
 * broken transfer, never a clean body; nothing is cached; and a later pull, with the upstream healthy, works.
 */
class ResumeErrorsIT extends UpstreamPerClass {
  static final long MIB = 1L << 20;

  RegistryFront front;
  Jitdi jitdi;

  @AfterEach
  void stopJitdi() {
    Tools.closeAll(jitdi, front);
  }

  @ParameterizedTest(name = "resume answered {0}")
  @ValueSource(ints = {429, 503})
  void aResumeAnsweredWithAnErrorStatusBreaksTheTransferAndCachesNothing(int status) throws Exception {
    front = RegistryFront.to(upstream.url());
    jitdi = Jitdi.start(dir.resolve("jitdi"), Jitdi.config(front.url(), "1GiB"));
    String repo = "resume/s" + status;
    long size = 16 * MIB;
    Path file = dir.resolve("blob");
    Digest digest = Images.randomFile(file, size, status);
    upstream.pushBlobFile(repo, file, digest);
    String path = "/v2/" + repo + "/blobs/" + digest;
    front.cutNextGet(path, 4 * MIB).answerNextRangedGet(path, status);

    Http.Streamed got = Http.stream(jitdi.url() + path);
    assertTrue(got.broken(), "a broken transfer, not a clean end: status " + got.status() + ", " + got.bytes()
        + " bytes, " + got.digest());
    assertFalse(digest.equals(got.digest()) && !got.broken(), "never a clean answer");
    assertTrue(got.bytes() < size, got.bytes() + " bytes");
    List<String> asked = front.requests().stream().filter(r -> r.contains(path)).toList();
    assertEquals(2, asked.size(), "one GET, cut, and one resume: " + asked);
    assertEquals("GET " + path, asked.get(0));
    assertTrue(asked.get(1).matches("GET " + java.util.regex.Pattern.quote(path) + " bytes=\\d+- -> " + status),
        "the resume asked for a Range and got " + status + ": " + asked.get(1));
    long resumedAt = Long.parseLong(asked.get(1).replaceAll(".* bytes=(\\d+)- .*", "$1"));
    assertTrue(resumedAt > 0 && resumedAt <= 4 * MIB, "resumed from the byte it had: " + resumedAt);

    BudgetRaceIT.awaitNoFills(jitdi);
    assertFalse(Files.exists(BudgetRaceIT.cached(jitdi, digest)), "nothing cached");
    try (Stream<Path> tmp = Files.list(jitdi.cacheDir().resolve("tmp"))) {
      assertEquals(List.of(), tmp.toList(), "tmp/ is empty");
    }
    assertTrue(jitdi.log().contains("fill " + digest + " from docker.io failed"), "the fill failed");

    Http.Streamed later = Http.stream(jitdi.url() + path);
    assertEquals(200, later.status());
    assertFalse(later.broken());
    assertEquals(digest, later.digest(), "a later pull works");
    assertEquals(3, front.count("GET", path), "fetched again: " + front.requests());
    assertTrue(Files.exists(BudgetRaceIT.cached(jitdi, digest)), "and is cached");
  }
}
