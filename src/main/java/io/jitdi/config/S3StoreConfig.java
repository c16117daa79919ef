package io.jitdi.config;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

/**
 * {@code cache.store.s3}: a bucket on an S3-compatible object store behind the local cache, shared by the replicas
 * of a central tier.
 *
 * @param endpoint the store's URL; empty for AWS S3 in {@code region}
 * @param region the signing region (most non-AWS stores accept any, e.g. {@code us-east-1})
 * @param bucket an existing bucket; jitdi does not create it
 * @param prefix a key prefix ending in {@code /}, or empty
 * @param pathStyle {@code http://endpoint/bucket/key} rather than {@code http://bucket.endpoint/key}
 * @param accessKeyId with {@code secretAccessKey}; empty: the SDK's default chain (environment, web identity, instance
 *     profile)
 * @param secretAccessKey the secret for {@code accessKeyId}
 * @param redirect whether blob GETs answered from the bucket get a {@code 307} to a presigned URL
 * @param redirectTtl how long a presigned URL is valid
 */
public record S3StoreConfig(Optional<URI> endpoint, String region, String bucket, String prefix, boolean pathStyle,
    Optional<String> accessKeyId, Optional<String> secretAccessKey, boolean redirect, Duration redirectTtl) {

  @Override
  public String toString() {
    return "s3://" + bucket + "/" + prefix + endpoint.map(e -> " at " + e).orElse(" in " + region);
  }
}
