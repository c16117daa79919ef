package io.jitdi.jit.sources;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.oci.Digest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Names and checks of the model sources: Ollama names, Hub file patterns, git blob ids. */
class ModelNamesTest {
  @Test
  void ollamaNamesTakeOllamasDefaults() {
    assertEquals(new OllamaName("registry.ollama.ai", "library", "llama3.2", "latest"), OllamaName.parse("llama3.2"));
    assertEquals(new OllamaName("registry.ollama.ai", "team", "tiny", "q4"), OllamaName.parse("team/tiny:q4"));
    OllamaName local = OllamaName.parse("127.0.0.1:5000/library/tiny:1b");
    assertEquals("127.0.0.1:5000", local.host());
    assertEquals("127.0.0.1:5000/library/tiny:1b", local.reference().toString());
    assertThrows(IllegalArgumentException.class, () -> OllamaName.parse("a/b/c/d"));
    assertThrows(IllegalArgumentException.class, () -> OllamaName.parse("library/..:x"));
    assertThrows(IllegalArgumentException.class, () -> OllamaName.parse("library/tiny:"));
  }

  @Test
  void hubPatternsMatchAsAllowPatternsDo() {
    Globs globs = new Globs(List.of("*.safetensors", "*.json", "tokenizer*", "onnx/"), List.of("*.md", "onnx/big*"));
    assertTrue(globs.matches("model-00001-of-00002.safetensors"));
    assertTrue(globs.matches("sub/config.json"), "* spans directories, as fnmatch does");
    assertTrue(globs.matches("tokenizer.model"));
    assertTrue(globs.matches("onnx/model.onnx"), "a trailing / selects the directory");
    assertFalse(globs.matches("onnx/big.onnx"), "excluded");
    assertFalse(globs.matches("README.md"));
    assertFalse(globs.matches("pytorch_model.bin"));
    assertTrue(new Globs(List.of(), List.of()).matches("anything/at/all"));
    assertTrue(new Globs(List.of("model-[0-9].bin", "x?.txt", "[!a]b"), List.of()).matches("model-3.bin"));
    assertTrue(new Globs(List.of("x?.txt"), List.of()).matches("x1.txt"));
    assertTrue(new Globs(List.of("[!a]b"), List.of()).matches("cb"));
    assertFalse(new Globs(List.of("[!a]b"), List.of()).matches("ab"));
    assertFalse(new Globs(List.of("a.b"), List.of()).matches("aXb"), "a dot is literal");
  }

  @Test
  void gitBlobIdsAreCheckedAsGitComputesThem() throws IOException {
    byte[] content = "hello\n".getBytes(StandardCharsets.UTF_8);
    // `printf 'hello\n' | git hash-object --stdin`
    String id = "ce013625030ba8dba906f756967f9e9ca394464a";
    try (var in = VerifyingInputStream.gitBlob(new ByteArrayInputStream(content), id, content.length, "hello")) {
      assertEquals(content.length, in.readAllBytes().length);
    }
    IOException wrong = assertThrows(IOException.class, () -> VerifyingInputStream.gitBlob(
        new ByteArrayInputStream("hellO\n".getBytes(StandardCharsets.UTF_8)), id, 6, "hello").readAllBytes());
    assertTrue(wrong.getMessage().contains("git blob id"), wrong.getMessage());
    Digest sha = Digest.sha256Of(content);
    assertThrows(IOException.class, () -> new VerifyingInputStream(new ByteArrayInputStream(content, 0, 5), sha, 6,
        "short").readAllBytes());
  }
}
