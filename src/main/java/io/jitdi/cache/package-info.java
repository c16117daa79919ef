/**
 * The content-addressed cache: the on-disk layout (known to {@code CacheLayout} alone), the RocksDB index with
 * Caffeine in front, the blob store and its one way in ({@code BlobStore.TempBlob}), fills, blob answers
 * ({@code BlobBody}), manifests, eviction, start-up reconciliation, and the shared bucket behind the local disk
 * ({@code BucketTier}).
 *
 * <p>May import: {@code io.jitdi.bucket}, {@code io.jitdi.concurrent}, {@code io.jitdi.config}, {@code io.jitdi.http},
 * {@code io.jitdi.metrics}, {@code io.jitdi.oci}, {@code io.jitdi.stream}, {@code io.jitdi.upstream}.
 */
package io.jitdi.cache;
