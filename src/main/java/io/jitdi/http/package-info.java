/**
 * HTTP client rules shared by the upstream registry client and the model sources: what an origin is (credentials go
 * to their own origin only), how many redirects a request follows and where to ({@code Redirects}), and how a
 * {@code Content-Range} answer reads; and {@code BlockingHttp}, the one blocking client of the model sources, which
 * applies those rules.
 *
 * <p>May import: nothing of jitdi.
 */
package io.jitdi.http;
