/**
 * Stream pieces for blob bodies: {@code BodySource} (a body as Netty buffers), the digesting file sink (hash and
 * write lanes), {@code Growth} (how far a file being filled may be read, and whether it is verified) and the verified
 * relay.
 *
 * <p>May import: {@code io.jitdi.concurrent}, {@code io.jitdi.oci}.
 */
package io.jitdi.stream;
