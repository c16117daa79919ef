/**
 * The shared bucket of a central tier: keys, verified blob uploads (multipart, completed only after the digest
 * matched), small records, presigned URLs and the store's health, on any S3-compatible object store through the AWS
 * SDK. Knows nothing of the local cache; {@code cache} decides when to read and write here.
 *
 * <p>May import: {@code io.jitdi.concurrent}, {@code io.jitdi.config}, {@code io.jitdi.metrics}, {@code io.jitdi.oci},
 * {@code io.jitdi.stream}.
 */
package io.jitdi.bucket;
