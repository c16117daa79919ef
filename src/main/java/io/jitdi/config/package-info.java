/**
 * The configuration: immutable records, YAML loading, and validation whose errors name the file, the line and the
 * fix. No Vert.x types.
 *
 * <p>May import: {@code io.jitdi.oci}.
 */
package io.jitdi.config;
