package io.jitdi.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jitdi.jit.NamePattern;
import io.jitdi.jit.Templates;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The rule pattern matcher: any pattern text compiles or fails with IllegalArgumentException; matching any name and
 * tag never throws, and its captures put back into the pattern give the name again; overlap never throws.
 */
class PatternFuzzTest {
  private static final List<NamePattern> FIXED = List.of(
      NamePattern.compile("llama-cpp/llama-2:{size}b-chat-{quant}-gguf"),
      NamePattern.compile("ollama/{model-name}:{ollama-tag}-{model-tag}"),
      NamePattern.compile("m:{size:\\d+}b-{q:[A-Z0-9_]+}"),
      NamePattern.compile("hf/{repo:[a-z0-9-]+/[a-z0-9.-]+}:{rev}"));

  @FuzzTest(maxExecutions = 100_000)
  void patterns(FuzzedDataProvider data) {
    check(data.consumeString(60), data.consumeString(80), data.consumeRemainingAsString());
  }

  @Test
  void smoke() {
    Smoke.strings(13, s -> check(s, "llama-cpp/llama-2", "7b-chat-" + s + "-gguf"));
    Smoke.strings(14, s -> check("a/{x}:" + s, "a/b", s));
    Smoke.strings(15, s -> check("{a}/" + s + ":{t}", s, "v1"));
  }

  static void check(String patternText, String name, String tag) {
    for (NamePattern p : FIXED) {
      verifyMatch(p, name, tag);
    }
    NamePattern p;
    try {
      p = NamePattern.compile(patternText);
    } catch (IllegalArgumentException expected) {
      return;
    }
    verifyMatch(p, name, tag);
    for (NamePattern other : FIXED) {
      try {
        Optional<String> both = p.overlap(other);
        both.ifPresent(w -> {
          int colon = w.indexOf(':');
          assertTrue(p.match(w.substring(0, colon), w.substring(colon + 1)).isPresent(), w);
          assertTrue(other.match(w.substring(0, colon), w.substring(colon + 1)).isPresent(), w);
        });
      } catch (IllegalStateException tooLarge) {
        assertTrue(tooLarge.getMessage().contains("too large"));
      }
    }
  }

  private static void verifyMatch(NamePattern p, String name, String tag) {
    Optional<Map<String, String>> captures = p.match(name, tag);
    // with plain captures only, putting the captures back gives the name again
    if (captures.isPresent() && p.captures().stream().allMatch(c -> p.text().contains("{" + c + "}"))) {
      assertEquals(name + ":" + tag, Templates.render(p.text(), captures.get()), p.text());
    }
  }
}
