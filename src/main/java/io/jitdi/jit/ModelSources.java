package io.jitdi.jit;

import io.jitdi.config.ImageRuleConfig.FileSpec;
import io.jitdi.config.JitConfig;
import io.jitdi.jit.sources.ArtifactRegistry;
import io.jitdi.jit.sources.Globs;
import io.jitdi.jit.sources.HttpSource;
import io.jitdi.jit.sources.HuggingFaceSource;
import io.jitdi.jit.sources.OciArtifactSource;
import io.jitdi.jit.sources.OllamaName;
import io.jitdi.jit.sources.OllamaSource;
import io.jitdi.jit.sources.Source;
import io.jitdi.jit.sources.SourcePaths;
import io.jitdi.oci.ImageReference;
import io.jitdi.oci.RegistryException;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Makes the model sources: {@code ollama:}, {@code huggingface:} and {@code oci:} file entries.
 *
 * <p>Safety: a capture cannot move a source to another registry or Hub: the rendered reference must name the same
 * registry as the template does with its placeholders filled in by a plain word.
 *
 * <p>Hugging Face: the endpoint is {@code HF_ENDPOINT} (default {@code https://huggingface.co}); the token is the one
 * {@code jit.tokens} names for the endpoint's host, else {@code HF_TOKEN}.
 */
public final class ModelSources implements Planner.SourceFactory {
  private final ArtifactRegistry registry;
  private final JitConfig config;
  private final Function<String, String> environment;
  private final String userAgent;

  /**
   * @param environment reads an environment variable (null when unset); {@code System::getenv} in production
   */
  public ModelSources(ArtifactRegistry registry, JitConfig config, Function<String, String> environment,
      String userAgent) {
    this.registry = registry;
    this.config = config;
    this.environment = environment;
    this.userAgent = userAgent;
  }

  @Override
  public Optional<Source> create(Rule rule, FileSpec spec, String source, Map<String, String> values) {
    return switch (spec.kind()) {
      case path -> Optional.empty();
      case ollama -> {
        OllamaName name = parse(rule, source, OllamaName::parse);
        OllamaName template = OllamaName.parse(Templates.filledWithWords(spec.source()));
        if (!name.host().equals(template.host())) {
          throw SourcePaths.refused(rule.name(), "\"" + source + "\" would leave " + template.host());
        }
        yield Optional.of(new OllamaSource(registry, name, option(spec, "layout", values).orElse("ollama")
            .equals("files") ? OllamaSource.Layout.files : OllamaSource.Layout.ollama));
      }
      case oci -> {
        ImageReference ref = parse(rule, source, ImageReference::parse);
        String expected = ImageReference.parse(Templates.filledWithWords(spec.source())).registry();
        if (!ref.registry().equals(expected)) {
          throw SourcePaths.refused(rule.name(), "\"" + source + "\" would leave " + expected);
        }
        yield Optional.of(new OciArtifactSource(registry, ref));
      }
      case huggingface -> {
        URI endpoint = Optional.ofNullable(environment.apply("HF_ENDPOINT")).filter(s -> !s.isBlank())
            .map(URI::create).orElse(HuggingFaceSource.DEFAULT_ENDPOINT);
        Optional<String> token = HttpSource.tokenFor(endpoint, config.tokens(), environment)
            .or(() -> Optional.ofNullable(environment.apply("HF_TOKEN")).filter(s -> !s.isEmpty()));
        Globs globs = new Globs(list(spec, "include", values), list(spec, "exclude", values));
        String revision = option(spec, "revision", values).orElse("main");
        try {
          yield Optional.of(new HuggingFaceSource(endpoint, source, revision, globs, token, userAgent));
        } catch (IllegalArgumentException e) {
          throw SourcePaths.refused(rule.name(), e.getMessage());
        }
      }
    };
  }

  private static <T> T parse(Rule rule, String source, Function<String, T> parser) {
    try {
      return parser.apply(source);
    } catch (RegistryException | IllegalArgumentException e) {
      throw SourcePaths.refused(rule.name(), "\"" + source + "\" is not a reference: " + e.getMessage());
    }
  }

  private static Optional<String> option(FileSpec spec, String key, Map<String, String> values) {
    List<String> v = spec.options().getOrDefault(key, List.of());
    return v.isEmpty() ? Optional.empty() : Optional.of(Templates.render(v.get(0), values));
  }

  private static List<String> list(FileSpec spec, String key, Map<String, String> values) {
    return spec.options().getOrDefault(key, List.of()).stream().map(p -> Templates.render(p, values)).toList();
  }
}
