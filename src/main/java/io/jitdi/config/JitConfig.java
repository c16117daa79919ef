package io.jitdi.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The {@code jit:} section.
 *
 * @param fileRoots local sources must resolve (symlinks too) inside one of these
 * @param ttl how long a JIT tag's answer is trusted before its sources' identities are checked again
 * @param waitBudget how long a manifest request waits for a build before answering "building, retry"
 * @param tokens per source host, the environment variable holding a bearer token for it (huggingface.co → HF_TOKEN)
 */
public record JitConfig(List<Path> fileRoots, Duration ttl, Duration waitBudget, Map<String, String> tokens) {
  public static final Duration DEFAULT_TTL = Duration.ofHours(1);
  public static final Duration DEFAULT_WAIT = Duration.ofSeconds(25);
  public static final Map<String, String> DEFAULT_TOKENS = Map.of("huggingface.co", "HF_TOKEN");

  public JitConfig {
    fileRoots = List.copyOf(fileRoots);
    tokens = Map.copyOf(tokens);
  }

  public static JitConfig defaults() {
    return new JitConfig(List.of(), DEFAULT_TTL, DEFAULT_WAIT, DEFAULT_TOKENS);
  }
}
