package io.jitdi.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The whole configuration, validated. Built by {@link ConfigLoader}; immutable.
 *
 * @param file where it was read from
 * @param upstreams by key, in file order
 * @param defaultUpstream key of the upstream for requests that name no registry
 * @param images just-in-time image rules, from {@code images:}, included files and JITDI {@code kind: Image}
 *     documents
 */
public record JitdiConfig(Path file, ServerConfig server, CacheConfig cache, Map<String, UpstreamConfig> upstreams,
    String defaultUpstream, LogConfig log, List<ImageRuleConfig> images, JitConfig jit) {

  public JitdiConfig {
    upstreams = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(upstreams));
    images = List.copyOf(images);
  }

  public Optional<UpstreamConfig> upstream(String key) {
    return Optional.ofNullable(upstreams.get(key));
  }
}
