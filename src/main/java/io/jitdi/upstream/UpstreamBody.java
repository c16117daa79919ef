package io.jitdi.upstream;

import io.jitdi.stream.BodySource;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.internal.buffer.BufferInternal;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.OptionalLong;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.net.impl.ConnectionBase;

/**
 * The body of an upstream blob response (200 or 206), read as Netty buffers straight off the connection.
 *
 * <p>Contract, beyond {@link BodySource}'s:
 * <ul>
 *   <li>{@link #pause()} stops reading from the socket (TCP back-pressure reaches the upstream); {@link #resume()}
 *       goes on. While nobody receives yet, a few MiB are held and then the socket is paused too.</li>
 *   <li>A body that sends nothing for the idle timeout while the receiver wants more fails with a
 *       {@link TimeoutException}, and the connection is closed.</li>
 *   <li>{@link #cancel()} closes the connection; nothing is delivered after it.</li>
 * </ul>
 *
 * <p>Normally the body is diverted by a {@link Tap} in front of Vert.x's HTTP client handler, so its buffers are
 * Netty's pooled ones (no heap copy). Where no tap could be installed it is fed from the Vert.x response instead,
 * with the same contract.
 */
public final class UpstreamBody implements BodySource {
  /** Bytes held while nobody receives, before the socket is paused. */
  static final int HOLD_LIMIT = 4 * 1024 * 1024;

  private final long idleNanos;
  private final ArrayDeque<ByteBuf> held = new ArrayDeque<>();
  private long heldBytes;
  private volatile Executor executor;
  private Channel channel;
  private HttpClientResponse response;
  private io.vertx.core.Vertx timers;
  private Receiver receiver;
  private boolean paused;
  private boolean ended;
  private Throwable failure;
  private boolean finished;
  private boolean socketPaused;
  private long lastRead = System.nanoTime();
  private long received;
  private volatile OptionalLong contentLength = OptionalLong.empty();

  UpstreamBody(long idleMillis) {
    this.idleNanos = TimeUnit.MILLISECONDS.toNanos(idleMillis);
  }

  /** The response's declared Content-Length, if it gave one. */
  public OptionalLong contentLength() {
    return contentLength;
  }

  @Override
  public void receive(Receiver receiver) {
    executor.execute(() -> {
      this.receiver = receiver;
      drain();
    });
  }

  @Override
  public void pause() {
    executor.execute(() -> {
      paused = true;
      updateSocket();
    });
  }

  @Override
  public void resume() {
    executor.execute(() -> {
      paused = false;
      lastRead = System.nanoTime();
      drain();
    });
  }

  /** Drops the body and closes the connection (the transfer is abandoned). Any thread. */
  @Override
  public void cancel() {
    executor.execute(() -> {
      if (!finished) {
        finish();
        closeConnection();
      }
    });
  }

  /**
   * Reads the whole body into memory, failing with {@link Bodies.TooLargeException} (and closing the connection) as
   * soon as it passes {@code limit} bytes.
   */
  public Future<byte[]> readAll(int limit) {
    Promise<byte[]> result = Promise.promise();
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    receive(new Receiver() {
      @Override
      public void chunk(ByteBuf data) {
        try {
          if (out.size() + data.readableBytes() > limit) {
            if (result.tryFail(new Bodies.TooLargeException(limit))) {
              cancel();
            }
            return;
          }
          data.readBytes(out, data.readableBytes());
        } catch (IOException e) {
          result.tryFail(e);
        } finally {
          data.release();
        }
      }

      @Override
      public void end() {
        result.tryComplete(out.toByteArray());
      }

      @Override
      public void failed(Throwable cause) {
        result.tryFail(cause);
      }
    });
    return result.future();
  }

  // ---- fed by a Tap, on the connection's event loop ----------------------------------------------------------

  /** The response head was a 2xx and its body is diverted here. */
  void begin(Channel channel, OptionalLong declared) {
    this.channel = channel;
    this.contentLength = declared;
    this.executor = channel.eventLoop();
    scheduleIdleCheck(idleNanos);
  }

  boolean diverted() {
    return executor != null && channel != null;
  }

  void chunk(ByteBuf data) {
    if (finished) {
      data.release();
      return;
    }
    lastRead = System.nanoTime();
    received += data.readableBytes();
    held.add(data);
    heldBytes += data.readableBytes();
    drain();
  }

  void ended() {
    ended = true;
    drain();
  }

  void failedUpstream(Throwable cause) {
    if (failure == null && !ended) {
      failure = cause;
    }
    drain();
  }

  // ---- fed by the Vert.x response when there is no tap ------------------------------------------------------------

  /** Feeds this body from a (paused) Vert.x response whose bytes were not diverted. */
  void feedFrom(HttpClientResponse response, io.vertx.core.Context context) {
    this.response = response;
    this.contentLength = UpstreamClient.contentLength(response);
    this.executor = command -> context.runOnContext(v -> command.run());
    this.timers = context.owner();
    response.handler(buffer -> chunk(((BufferInternal) buffer).getByteBuf()));
    response.endHandler(v -> ended());
    response.exceptionHandler(this::failedUpstream);
    scheduleIdleCheck(idleNanos);
    response.resume();
  }

  // ---- delivery ----------------------------------------------------------------------------------------------------

  private void drain() {
    while (!finished && receiver != null && !paused && !held.isEmpty()) {
      ByteBuf next = held.poll();
      heldBytes -= next.readableBytes();
      receiver.chunk(next);
    }
    if (!finished && receiver != null && held.isEmpty() && (ended || failure != null)) {
      Receiver r = receiver;
      finish();
      if (failure != null) {
        r.failed(failure);
      } else {
        r.end();
      }
      return;
    }
    updateSocket();
  }

  private void updateSocket() {
    boolean wantPaused = !finished && !ended && failure == null && (paused || heldBytes >= HOLD_LIMIT);
    if (wantPaused == socketPaused) {
      return;
    }
    socketPaused = wantPaused;
    if (channel != null) {
      channel.config().setAutoRead(!wantPaused);
    } else if (response != null) {
      if (wantPaused) {
        response.pause();
      } else {
        response.resume();
      }
    }
  }

  private void finish() {
    finished = true;
    ByteBuf b;
    while ((b = held.poll()) != null) {
      ReferenceCountUtil.safeRelease(b);
    }
    heldBytes = 0;
    if (channel != null && socketPaused) {
      socketPaused = false;
      channel.config().setAutoRead(true);
    }
  }

  private void closeConnection() {
    if (channel != null) {
      channel.close();
    } else if (response != null) {
      response.request().reset();
    }
  }

  private void scheduleIdleCheck(long delayNanos) {
    if (idleNanos <= 0) {
      return;
    }
    Runnable check = () -> executor.execute(this::checkIdle);
    if (channel != null) {
      channel.eventLoop().schedule(check, delayNanos, TimeUnit.NANOSECONDS);
    } else {
      timers.setTimer(Math.max(1, TimeUnit.NANOSECONDS.toMillis(delayNanos)), id -> check.run());
    }
  }

  private void checkIdle() {
    if (finished || ended || failure != null) {
      return;
    }
    long now = System.nanoTime();
    if (socketPaused) {
      // waiting for our receiver, not for the upstream
      lastRead = now;
    }
    long quiet = now - lastRead;
    if (quiet >= idleNanos) {
      failure = new TimeoutException("the upstream sent nothing for " + TimeUnit.NANOSECONDS.toMillis(idleNanos)
          + " ms after " + received + " bytes of the body");
      closeConnection();
      drain();
      return;
    }
    scheduleIdleCheck(idleNanos - quiet);
  }

  /**
   * A Netty handler in an upstream HTTP/1.1 connection, just before Vert.x's own, that diverts the body of one armed
   * 2xx response to an {@link UpstreamBody} as Netty's pooled buffers. Vert.x would copy each of them into a fresh heap
   * buffer; for a blob of many GiB that copy (and the zeroing of the heap it needs) costs more CPU than the hash.
   *
   * <p>Vert.x still sees the response head and an empty end, so its connection pool and keep-alive work as usual.
   * Responses that were not armed, and non-2xx answers (redirects, 401, errors), pass through untouched.
   * This goes below Vert.x's public API (the connection's Netty pipeline); {@link #arm} returns null where that is not
   * possible, and the caller reads the Vert.x response instead.
   */
  static final class Tap extends ChannelInboundHandlerAdapter {
    private static final String NAME = "jitdi-body-tap";
    private static final String VERTX_HANDLER = "handler";

    private volatile UpstreamBody armed;
    private UpstreamBody current;

    /**
     * Arms the tap of the connection {@code request} will be sent on, installing it on first use; call before sending.
     *
     * @return the body the response will be diverted into if it is a 2xx, or null when the connection cannot be tapped
     */
    static UpstreamBody arm(HttpClientRequest request, long idleMillis) {
      if (!(request.connection() instanceof ConnectionBase connection)) {
        return null;
      }
      ChannelPipeline pipeline = connection.channel().pipeline();
      Tap tap = pipeline.get(Tap.class);
      if (tap == null) {
        if (pipeline.get(VERTX_HANDLER) == null) {
          return null;
        }
        try {
          pipeline.addBefore(VERTX_HANDLER, NAME, new Tap());
        } catch (IllegalArgumentException | java.util.NoSuchElementException raced) {
          // installed meanwhile, or the connection is going away
        }
        tap = pipeline.get(Tap.class);
        if (tap == null) {
          return null;
        }
      }
      UpstreamBody body = new UpstreamBody(idleMillis);
      tap.armed = body;
      return body;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof HttpResponse head) {
        UpstreamBody body = armed;
        armed = null;
        int status = head.status().code();
        if (body != null && (status == 200 || status == 206) && !(msg instanceof HttpContent)) {
          long declared = HttpUtil.getContentLength(head, -1L);
          body.begin(ctx.channel(), declared >= 0 ? OptionalLong.of(declared) : OptionalLong.empty());
          current = body;
        }
        ctx.fireChannelRead(msg);
        return;
      }
      if (current != null && msg instanceof HttpContent content) {
        UpstreamBody body = current;
        try {
          if (content.content().isReadable()) {
            body.chunk(content.content().retain());
          }
          if (msg instanceof LastHttpContent last) {
            current = null;
            body.ended();
            ctx.fireChannelRead(new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, last.trailingHeaders()));
          }
        } finally {
          ReferenceCountUtil.release(msg);
        }
        return;
      }
      ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      cut(new IOException("the upstream closed the connection in the middle of the body"));
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
      cut(cause);
      super.exceptionCaught(ctx, cause);
    }

    private void cut(Throwable cause) {
      UpstreamBody body = current;
      current = null;
      if (body != null) {
        body.failedUpstream(cause);
      }
    }
  }
}
