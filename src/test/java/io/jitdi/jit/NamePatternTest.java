package io.jitdi.jit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NamePatternTest {
  @Test
  void capturesTheIssuesExample() {
    NamePattern p = NamePattern.compile("llama-cpp/llama-2:{size}b-chat-{quant}-gguf");
    assertEquals(Optional.of(Map.of("size", "7", "quant", "Q4_K_M")), p.match("llama-cpp/llama-2", "7b-chat-Q4_K_M-gguf"));
    assertEquals(Optional.empty(), p.match("llama-cpp/llama-2", "7b-chat-Q4_K_M"));
    assertEquals(Optional.empty(), p.match("llama-cpp/llama-3", "7b-chat-Q4_K_M-gguf"));
  }

  @Test
  void backtracksWhereAFirstOccurrenceMatcherFails() {
    NamePattern p = NamePattern.compile("llama:{tag}-{size}b");
    assertEquals(Optional.of(Map.of("tag", "full-cuda", "size", "7")), p.match("llama", "full-cuda-7b"));
    NamePattern jitdi = NamePattern.compile("ollama/{model-name}:{ollama-tag}-{model-tag}");
    assertEquals(Map.of("model-name", "llama2", "ollama-tag", "0.1.29", "model-tag", "7b"),
        jitdi.match("ollama/llama2", "0.1.29-7b").orElseThrow());
  }

  @Test
  void plainCapturesNeverSpanSlashOrColon() {
    NamePattern p = NamePattern.compile("models/{name}:{tag}");
    assertTrue(p.match("models/a/b", "x").isEmpty());
    assertEquals("a", p.match("models/a", "x").orElseThrow().get("name"));
  }

  @Test
  void constrainedCaptures() {
    NamePattern p = NamePattern.compile("m:{size:\\d+}b-{quant:Q[0-9](_K(_[SML])?)?|f16}");
    assertEquals(Map.of("size", "13", "quant", "Q4_K_M"), p.match("m", "13b-Q4_K_M").orElseThrow());
    assertEquals(Map.of("size", "7", "quant", "f16"), p.match("m", "7b-f16").orElseThrow());
    assertTrue(p.match("m", "xb-f16").isEmpty());
    assertTrue(p.match("m", "7b-Q4_X").isEmpty());
    NamePattern paths = NamePattern.compile("hf/{repo:[a-z0-9-]+/[a-z0-9.-]+}:{rev}");
    assertEquals("org/model-1.5", paths.match("hf/org/model-1.5", "main").orElseThrow().get("repo"));
  }

  @Test
  void precedenceCountsLiteralCharacters() {
    assertEquals("llama-cpp/llama-2:b-chat--gguf".length(),
        NamePattern.compile("llama-cpp/llama-2:{size}b-chat-{quant}-gguf").literalCount());
  }

  @Test
  void overlapIsDecidedWithAWitness() {
    NamePattern a = NamePattern.compile("models/{name}:{tag}");
    NamePattern b = NamePattern.compile("models/{name}:v{version}");
    Optional<String> both = a.overlap(b);
    assertTrue(both.isPresent());
    assertTrue(a.match(both.get().split(":")[0], both.get().split(":")[1]).isPresent(), both.get());
    assertTrue(b.match(both.get().split(":")[0], both.get().split(":")[1]).isPresent(), both.get());
    assertTrue(NamePattern.compile("m:{size:\\d+}b").overlap(NamePattern.compile("m:{name:[a-z]+}b")).isEmpty(),
        "constraints disambiguate");
    assertTrue(NamePattern.compile("a/{x}:{t}").overlap(NamePattern.compile("b/{x}:{t}")).isEmpty());
    assertTrue(NamePattern.compile("a/{x}:{t}").overlap(NamePattern.compile("{x}/b:{t}")).isPresent());
  }

  @Test
  void badPatternsSayWhatIsWrong() {
    assertThrows(IllegalArgumentException.class, () -> NamePattern.compile("no-colon/{x}"));
    assertThrows(IllegalArgumentException.class, () -> NamePattern.compile("a:{x"));
    assertThrows(IllegalArgumentException.class, () -> NamePattern.compile("a:{x}{x}"));
    assertThrows(IllegalArgumentException.class, () -> NamePattern.compile("Upper:{x}"));
    assertThrows(IllegalArgumentException.class, () -> NamePattern.compile("a:{os}"));
    assertThrows(IllegalArgumentException.class, () -> NamePattern.compile("a:{x:(?=y)}"));
    assertThrows(IllegalArgumentException.class, () -> NamePattern.compile("a:{x:\\1}"));
    assertThrows(IllegalArgumentException.class, () -> NamePattern.compile("a:{x:a{1,1000}}"));
    assertThrows(IllegalArgumentException.class, () -> NamePattern.compile("a:{x:a+?}"));
  }

  @Test
  void aHostileNameCannotMakeMatchingSlow() {
    // backtracking alone would try ~128^5 splits here; the automaton rejects it in one pass
    NamePattern p = NamePattern.compile("x:{a}-{b}-{c}-{d}-{e}z");
    assertTrue(p.match("x", "a-".repeat(63) + "a").isEmpty());
  }
}
