/**
 * The wiring of one running instance ({@code Server}: upstreams, cache, JIT images, HTTP servers; start and stop).
 *
 * <p>May import: {@code io.jitdi.bucket}, {@code io.jitdi.cache}, {@code io.jitdi.concurrent}, {@code io.jitdi.config}, {@code io.jitdi.jit},
 * {@code io.jitdi.jit.sources}, {@code io.jitdi.metrics}, {@code io.jitdi.oci}, {@code io.jitdi.registry},
 * {@code io.jitdi.upstream}.
 */
package io.jitdi;
