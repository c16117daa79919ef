/**
 * Just-in-time images: rules and their patterns, planning (base image, sources, build key), single-flight builds
 * with progress, and the records that let an evicted JIT blob be rebuilt.
 *
 * <p>May import: {@code io.jitdi.cache}, {@code io.jitdi.concurrent}, {@code io.jitdi.config}, {@code io.jitdi.metrics},
 * {@code io.jitdi.oci}, {@code io.jitdi.stream}, {@code io.jitdi.upstream}, {@code io.jitdi.http},
 * {@code io.jitdi.jit.compose},
 * {@code io.jitdi.jit.layer}, {@code io.jitdi.jit.sources}.
 */
package io.jitdi.jit;
