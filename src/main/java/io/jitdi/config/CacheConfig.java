package io.jitdi.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The {@code cache:} section.
 *
 * @param dir root of the cache; every file jitdi writes lives under it
 * @param maxSize LRU budget for blob bytes
 * @param manifestTtl how long a tag's answer is trusted before it is revalidated upstream
 * @param s3 the shared bucket behind the local cache (a central tier of several replicas); empty: local disk only
 */
public record CacheConfig(Path dir, long maxSize, Duration manifestTtl, Optional<S3StoreConfig> s3) {

  /** A cache on local disk only. */
  public CacheConfig(Path dir, long maxSize, Duration manifestTtl) {
    this(dir, maxSize, manifestTtl, Optional.empty());
  }
}
