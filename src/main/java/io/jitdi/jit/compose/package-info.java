/**
 * Composing a JIT image: the base manifest or index and config plus new layers give a new config (diff ids, history,
 * env, labels), manifest and index.
 *
 * <p>May import: {@code io.jitdi.config}, {@code io.jitdi.oci}.
 */
package io.jitdi.jit.compose;
