/**
 * Deterministic tar layers (sorted entries, fixed times and owners, PAX for long names and big files) in none, gzip
 * or zstd, with their digest and diff id computed while writing; and an uncompressed layer's bytes around one of its
 * files (a {@code stream.Envelope}), for a model fetched straight into its layer.
 *
 * <p>May import: {@code io.jitdi.config}, {@code io.jitdi.oci}, {@code io.jitdi.stream}, {@code io.jitdi.jit.sources}.
 */
package io.jitdi.jit.layer;
