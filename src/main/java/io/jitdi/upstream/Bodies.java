package io.jitdi.upstream;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;

/** Reading and discarding upstream response bodies with a size bound, so an upstream cannot exhaust memory. */
public final class Bodies {
  /** Bodies of error, redirect and token responses are read up to this size. */
  public static final int SMALL = 64 * 1024;

  private Bodies() {}

  /** A response body that was longer than the caller allows. */
  public static final class TooLargeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TooLargeException(long limit) {
      super("body is larger than " + limit + " bytes", null, false, false);
    }
  }

  /**
   * Reads the whole body of a (paused) response, failing with {@link TooLargeException} and closing the connection
   * as soon as it passes {@code limit} bytes.
   */
  public static Future<Buffer> read(HttpClientResponse response, int limit) {
    Promise<Buffer> promise = Promise.promise();
    String declared = response.getHeader("Content-Length");
    if (declared != null) {
      try {
        if (Long.parseLong(declared.trim()) > limit) {
          response.request().reset();
          return Future.failedFuture(new TooLargeException(limit));
        }
      } catch (NumberFormatException ignored) {
        // the decoder will fail the response
      }
    }
    Buffer body = Buffer.buffer();
    response.handler(chunk -> {
      if (body.length() + chunk.length() > limit) {
        if (promise.tryFail(new TooLargeException(limit))) {
          response.request().reset();
        }
      } else {
        body.appendBuffer(chunk);
      }
    });
    response.exceptionHandler(promise::tryFail);
    response.endHandler(v -> promise.tryComplete(body));
    response.resume();
    return promise.future();
  }

  /** Reads and drops a small body so the connection can be reused; closes it instead if the body is large. */
  public static Future<Void> discard(HttpClientResponse response) {
    return read(response, SMALL).<Void>mapEmpty().recover(e -> Future.succeededFuture());
  }
}
