package io.jitdi.config;

import io.jitdi.oci.Platform;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One just-in-time image rule, as written (templates not yet compiled: the {@code jit} package does that and reports
 * its errors at {@link #file()}:{@link #line()}).
 *
 * @param name the rule's name in metrics and logs (JITDI's {@code metadata.name}, our {@code name}, or the pattern)
 * @param match the pattern, e.g. {@code llama-cpp/llama-2:{size}b-chat-{quant}-gguf}
 * @param registry when present, the rule answers only requests for this registry host
 * @param base the base image reference template; empty for a model-only image
 * @param platforms filter for a multi-arch base (or the platforms of a model-only image); empty means all
 * @param compression layer compression
 * @param files what goes into the layer
 * @param env {@code KEY=value} templates merged into the image config
 * @param labels label templates merged into the image config
 */
public record ImageRuleConfig(String name, String match, Optional<String> registry, Optional<String> base,
    List<Platform> platforms, Compression compression, List<FileSpec> files, List<String> env,
    Map<String, String> labels, Path file, int line) {

  /** Layer compression. */
  public enum Compression { none, gzip, zstd }

  /** What kind of source a file entry reads. */
  public enum SourceKind { path, ollama, huggingface, oci }

  /**
   * One entry of {@code files:} (or JITDI's {@code mutates:}).
   *
   * @param source a URL or local path template ({@link SourceKind#path}), an Ollama model reference, a Hugging Face repo
   *     or an OCI artifact reference
   * @param destination absolute path template in the image; ending in {@code /} keeps the source's file name
   * @param mode octal permission bits for files, e.g. {@code 0644}
   * @param sha256 expected sha256 of a single-file source
   * @param options source-specific settings (Hugging Face {@code revision}, {@code include}, {@code exclude}; Ollama
   *     {@code layout}), as written
   */
  public record FileSpec(SourceKind kind, String source, String destination, Optional<Integer> mode,
      Optional<String> sha256, Map<String, List<String>> options, int line) {
    public FileSpec {
      options = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(options));
    }
  }

  public ImageRuleConfig {
    platforms = List.copyOf(platforms);
    files = List.copyOf(files);
    env = List.copyOf(env);
    labels = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(labels));
  }

  /** {@code file:line} of the rule, for messages. */
  public String where() {
    return file + ":" + line;
  }
}
