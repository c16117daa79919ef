/**
 * The HTTP API: paths, {@code Accept}, {@code Range}, the endpoints, the one way to send a blob body
 * ({@code BlobResponder}), OCI error responses, client auth and the admin endpoints. The only package that knows
 * HTTP server types.
 *
 * <p>May import: {@code io.jitdi.cache}, {@code io.jitdi.concurrent}, {@code io.jitdi.config}, {@code io.jitdi.jit},
 * {@code io.jitdi.metrics}, {@code io.jitdi.oci}, {@code io.jitdi.stream}, {@code io.jitdi.upstream}.
 */
package io.jitdi.registry;
