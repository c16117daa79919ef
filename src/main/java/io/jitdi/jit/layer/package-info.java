/**
 * Deterministic tar layers (sorted entries, fixed times and owners, PAX for long names and big files) in none, gzip
 * or zstd, with their digest and diff id computed while writing.
 *
 * <p>May import: {@code io.jitdi.config}, {@code io.jitdi.oci}, {@code io.jitdi.jit.sources}.
 */
package io.jitdi.jit.layer;
