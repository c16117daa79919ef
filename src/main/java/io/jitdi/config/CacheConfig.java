package io.jitdi.config;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The {@code cache:} section.
 *
 * @param dir root of the cache; every file jitdi writes lives under it
 * @param maxSize LRU budget for blob bytes
 * @param manifestTtl how long a tag's answer is trusted before it is revalidated upstream
 */
public record CacheConfig(Path dir, long maxSize, Duration manifestTtl) {}
