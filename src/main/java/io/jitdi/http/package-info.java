/**
 * HTTP client rules shared by the upstream registry client and the model sources: what an origin is (credentials go
 * to their own origin only) and how a {@code Content-Range} answer reads.
 *
 * <p>May import: nothing of jitdi.
 */
package io.jitdi.http;
