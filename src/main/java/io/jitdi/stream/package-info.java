/**
 * Stream pieces for blob bodies: {@code BodySource} (a body as Netty buffers), the digesting file sink (hash and
 * write lanes, and a lane for a container's digest), {@code Envelope} (the bytes around a blob written inside
 * another, such as a model inside its layer), {@code Growth} (how far a file being filled may be read, and whether it
 * is verified) and the verified relay.
 *
 * <p>May import: {@code io.jitdi.concurrent}, {@code io.jitdi.oci}.
 */
package io.jitdi.stream;
