package io.jitdi.cache;

import io.jitdi.oci.Digest;
import io.jitdi.oci.MediaType;

/**
 * The cached answer to a manifest request by tag, for one upstream, repository, tag and negotiated Accept set.
 *
 * @param fetchedAt epoch millis of the last time the upstream confirmed this answer
 */
public record TagRecord(Digest digest, MediaType mediaType, long size, long fetchedAt) {
  TagRecord confirmedAt(long at) {
    return new TagRecord(digest, mediaType, size, at);
  }
}
