/**
 * Concurrency pieces: {@code Io} (the one pool for blocking work), {@code SerialExecutor} and {@code SingleFlight}.
 *
 * <p>May import: nothing of jitdi.
 */
package io.jitdi.concurrent;
