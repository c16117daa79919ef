/**
 * Meter names and the Micrometer Prometheus registry.
 *
 * <p>May import: nothing of jitdi.
 */
package io.jitdi.metrics;
