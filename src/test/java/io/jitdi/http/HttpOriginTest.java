package io.jitdi.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import org.junit.jupiter.api.Test;

class HttpOriginTest {
  @Test
  void aDefaultPortWrittenOutIsTheSameOrigin() {
    assertTrue(HttpOrigin.same(URI.create("https://huggingface.co/api/x"), URI.create("https://huggingface.co:443")));
    assertTrue(HttpOrigin.same(URI.create("http://h/x"), URI.create("http://h:80/y")));
    assertTrue(HttpOrigin.same(URI.create("HTTPS://GHCR.io/v2/x"), URI.create("https://ghcr.io")));
  }

  @Test
  void anotherHostSchemeOrPortIsAnotherOrigin() {
    assertFalse(HttpOrigin.same(URI.create("https://cdn.ghcr.io/x"), URI.create("https://ghcr.io")));
    assertFalse(HttpOrigin.same(URI.create("http://ghcr.io/x"), URI.create("https://ghcr.io")));
    assertFalse(HttpOrigin.same(URI.create("https://ghcr.io:8443/x"), URI.create("https://ghcr.io")));
    assertFalse(HttpOrigin.same(URI.create("http://h:443/x"), URI.create("https://h")));
  }

  @Test
  void contentRangeGivesItsFirstByte() {
    assertEquals(100, ContentRange.start("bytes 100-199/200"));
    assertEquals(-1, ContentRange.start("items 1-2/3"));
    assertEquals(-1, ContentRange.start(null));
    assertEquals(-1, ContentRange.start("bytes x-1/2"));
  }
}
