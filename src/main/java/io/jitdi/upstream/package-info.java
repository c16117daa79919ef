/**
 * The client of upstream registries: token and basic auth, {@code WWW-Authenticate} parsing, redirects, error
 * mapping, routing of a request to its upstream and to one of its replicas ({@code Replicas}: rendezvous hashing,
 * failed replicas skipped), and {@code UpstreamBody}, a blob body read as Netty buffers.
 *
 * <p>May import: {@code io.jitdi.concurrent}, {@code io.jitdi.config}, {@code io.jitdi.http}, {@code io.jitdi.metrics}, {@code io.jitdi.oci},
 * {@code io.jitdi.stream}.
 */
package io.jitdi.upstream;
