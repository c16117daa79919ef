package io.jitdi.jit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jitdi.config.ConfigException;
import io.jitdi.config.ConfigLoader;
import io.jitdi.config.JitdiConfig;
import io.jitdi.config.ImageRuleConfig.SourceKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RuleSetTest {
  @TempDir
  Path dir;

  private static final String HEAD = """
      cache: {dir: /tmp/x, maxSize: 1GiB}
      upstreams:
        docker.io: {url: "https://registry-1.docker.io"}
        ghcr.io: {url: "https://ghcr.io"}
      jit: {fileRoots: [/mnt/models]}
      """;

  private RuleSet load(String yaml) throws Exception {
    Path file = dir.resolve("jitdi.yaml");
    Files.writeString(file, yaml);
    JitdiConfig config = new ConfigLoader(n -> null).load(file);
    return RuleSet.compile(config.images(), config.upstreams().keySet(), config.jit());
  }

  private ConfigException error(String yaml) {
    return assertThrows(ConfigException.class, () -> load(yaml));
  }

  @Test
  void jitdiFilesAreAcceptedUnchanged() throws Exception {
    Path file = dir.resolve("llama-cpp.yaml");
    Files.writeString(file, """
        apiVersion: jitdi.zsm.io/v1alpha1
        kind: Image
        metadata:
          name: llama-cpp
        spec:
          match: "llama-cpp/llama-2:{llama-tag}-{size}b-chat-{quant}-gguf"
          baseImage: "ghcr.io/ggerganov/llama.cpp:{llama-tag}"
          platforms:
          - architecture: "amd64"
            os: "linux"
          - architecture: "arm64"
            os: "linux"
          mutates:
          - file:
              source: "https://huggingface.co/TheBloke/Llama-2-{size}B-Chat-GGUF/resolve/main/llama-2-{size}b-chat.{quant}.gguf"
              destination: "/models/{size}b/llama-2-{size}b-chat.{quant}.gguf"
        ---
        apiVersion: jitdi.zsm.io/v1alpha1
        kind: Image
        metadata:
          name: file-test
        spec:
          match: "k8s/{base}/{file}:{tag}"
          baseImage: "docker.io/library/{base}:latest"
          mutates:
          - file:
              source: "https://dl.k8s.io/{tag}/bin/{GOOS}/{GOARCH}/{file}"
              destination: "/usr/local/bin/{file}"
              mode: '0755'
        """);
    JitdiConfig config = new ConfigLoader(n -> null).load(file);
    assertEquals(2, config.images().size());
    assertEquals("llama-cpp", config.images().get(0).name());
    assertEquals("linux/arm64", config.images().get(0).platforms().get(1).toString());
    assertEquals(0755, config.images().get(1).files().get(0).mode().orElseThrow());
    assertTrue(config.upstreams().containsKey("docker.io"), "a file of JITDI rules only gets the built-in defaults");
    RuleSet rules = RuleSet.compile(config.images(), config.upstreams().keySet(), config.jit());
    RuleSet.Match m = rules.match("docker.io", "llama-cpp/llama-2", "full-cuda-7b-chat-Q4_K_M-gguf").orElseThrow();
    assertEquals(Map.of("llama-tag", "full-cuda", "size", "7", "quant", "Q4_K_M"), m.captures());
    assertEquals(Map.of("base", "alpine", "file", "kubectl", "tag", "v1.29.3"),
        rules.match("docker.io", "k8s/alpine/kubectl", "v1.29.3").orElseThrow().captures());
  }

  @Test
  void theShippedExampleRulesLoad() throws Exception {
    Path config = dir.resolve("examples.yaml");
    Files.writeString(config, "include: [" + String.join(", ", java.util.List.of("file", "http", "llama-cpp",
        "model-only", "models").stream().map(n -> Path.of("conf/images/" + n + ".yaml").toAbsolutePath().toString()).toList())
        + "]\n" + new String(Files.readAllBytes(Path.of("conf/jitdi.yaml"))).replace("include:", "# include:"));
    JitdiConfig loaded = new ConfigLoader(n -> null).load(config);
    RuleSet rules = RuleSet.compile(loaded.images(), loaded.upstreams().keySet(), loaded.jit());
    assertEquals(8, rules.rules().size());
    assertTrue(rules.match("jit.local", "models/llama-2", "7b-q4_k_m").isPresent());
    assertEquals(Map.of("org", "qwen", "repo", "qwen2.5-0.5b", "rev", "main"), rules.match("jit.local",
        "vllm/qwen/qwen2.5-0.5b", "main").orElseThrow().captures());
    assertTrue(rules.match("jit.local", "ollama/llama3.2", "1b").isPresent());
    assertTrue(rules.match("jit.local", "tinyllama/chat", "Q4_K_M").isPresent());
  }

  @Test
  void includedFilesAndOurFormatMix() throws Exception {
    Files.writeString(dir.resolve("more.yaml"), """
        images:
          - match: "hf/{org}/{repo}:{rev}"
            files:
              - huggingface: {repo: "{org}/{repo}", revision: "{rev}", include: ["*.json"]}
                destination: /models/{repo}/
        """);
    RuleSet rules = load(HEAD + "include: [more.yaml]\n");
    assertEquals(SourceKind.huggingface, rules.rules().get(0).files().get(0).kind());
    assertEquals(Map.of("org", "a", "repo", "b", "rev", "main"), rules.match("docker.io", "hf/a/b", "main")
        .orElseThrow().captures());
  }

  @Test
  void ambiguityIsAnErrorNamingBothRulesAndAWitness() {
    ConfigException e = error(HEAD + """
        images:
          - {name: first, match: "a/{name}:{tag}", base: busybox}
          - {name: second, match: "a/{name}:v{version}", base: busybox}
          - {name: third, match: "{org}/b:{tag}", base: busybox}
        """);
    assertTrue(e.getMessage().contains("rule third") && e.getMessage().contains("rule first"), e.getMessage());
    assertTrue(e.getMessage().contains("both match \"a/b:"), e.getMessage());
    assertEquals(9, e.line());
    assertTrue(error(HEAD + """
        images:
          - {name: nothing, match: "a/{name}:{tag}"}
        """).getMessage().contains("base, files, or both"));
  }

  @Test
  void moreLiteralsWinAndScopedRulesWinTies() throws Exception {
    RuleSet rules = load(HEAD + """
        images:
          - {name: general, match: "models/{name}:{tag}", base: busybox}
          - {name: specific, match: "models/{name}:v{version}", base: busybox}
          - {name: scoped, match: "models/{name}:{tag}", registry: jit.local, base: busybox}
        """);
    assertEquals("specific", rules.match("docker.io", "models/a", "v1").orElseThrow().rule().name());
    assertEquals("general", rules.match("docker.io", "models/a", "latest").orElseThrow().rule().name());
    assertEquals("scoped", rules.match("jit.local", "models/a", "latest").orElseThrow().rule().name());
    assertEquals("specific", rules.match("jit.local", "models/a", "v2").orElseThrow().rule().name());
  }

  @Test
  void templatesCannotLetACaptureChooseAHostOrAnUnknownValue() {
    assertTrue(error(HEAD + """
        images:
          - {match: "m/{host}:{t}", files: [{source: "https://{host}/x", destination: /m/}]}
        """).getMessage().contains("scheme and host"));
    assertTrue(error(HEAD + """
        images:
          - {match: "m/{name}:{t}", base: "{name}/evil:1"}
        """).getMessage().contains("cannot come from a capture"));
    assertTrue(error(HEAD + """
        images:
          - {match: "m/{name}:{t}", base: "quay.io/x:1"}
        """).getMessage().contains("not under upstreams"));
    assertTrue(error(HEAD + """
        images:
          - {match: "m/{name}:{t}", files: [{source: "/mnt/models/{nope}", destination: /m/}]}
        """).getMessage().contains("{nope}"));
    assertTrue(error(HEAD + """
        images:
          - {match: "m/{name}:{t}", files: [{source: "/mnt/models/{name}", destination: "m/"}]}
        """).getMessage().contains("absolute"));
    ConfigException roots = error("""
        cache: {dir: /tmp/x, maxSize: 1GiB}
        upstreams: {docker.io: {url: "https://registry-1.docker.io"}}
        images:
          - {match: "m/{name}:{t}", files: [{source: "/mnt/models/{name}", destination: /m/}]}
        """);
    assertTrue(roots.getMessage().contains("jit.fileRoots"), roots.getMessage());
  }

  @Test
  void modelSourceRegistriesMustBeConfiguredAndLiteral() {
    ConfigException ollama = error(HEAD + """
        images:
          - match: "ollama/{model}:{tag}"
            files:
              - ollama: "{model}:{tag}"
                destination: /root/.ollama/models/
        """);
    assertTrue(ollama.getMessage().contains("jitdi.yaml:9") && ollama.getMessage().contains("registry.ollama.ai")
        && ollama.getMessage().contains("add it there"), ollama.getMessage());
    ConfigException oci = error(HEAD + """
        images:
          - match: "pack/{name}:{tag}"
            files: [{oci: "registry.example.com/models/{name}:{tag}", destination: /models/}]
        """);
    assertTrue(oci.getMessage().contains("registry.example.com, which is not under upstreams"), oci.getMessage());
    ConfigException captured = error(HEAD + """
        images:
          - match: "pack/{host}/{name}:{tag}"
            files: [{oci: "{host}/models/{name}:{tag}", destination: /models/}]
        """);
    assertTrue(captured.getMessage().contains("cannot come from a capture"), captured.getMessage());
    ConfigException unknown = error(HEAD + """
        images:
          - match: "hf/{repo}:{tag}"
            files: [{huggingface: {repo: "acme/{repo}", revision: "{rev}"}, destination: /models/}]
        """);
    assertTrue(unknown.getMessage().contains("{rev}"), unknown.getMessage());
  }
}
