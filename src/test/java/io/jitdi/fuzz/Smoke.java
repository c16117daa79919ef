package io.jitdi.fuzz;

import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The normal suite's short run of a fuzz target: seeded random strings drawn from an alphabet biased towards the
 * characters that matter to registry grammars. Deterministic, so a failure reproduces.
 */
final class Smoke {
  static final int RUNS = 2000;
  private static final String ALPHABET = "abcz019AZ:/._-%\\@+=;, *\"\n\t?&sha256:";

  private Smoke() {}

  static void strings(long seed, Consumer<String> target) {
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < RUNS; i++) {
      int length = random.nextInt(0, random.nextInt(1, 8) == 1 ? 400 : 80);
      StringBuilder s = new StringBuilder(length);
      for (int j = 0; j < length; j++) {
        s.append(random.nextInt(10) == 0 ? (char) random.nextInt(0, 0x3000) : ALPHABET.charAt(random.nextInt(
            ALPHABET.length())));
      }
      target.accept(s.toString());
    }
  }
}
