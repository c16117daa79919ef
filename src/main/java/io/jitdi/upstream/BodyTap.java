package io.jitdi.upstream;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.net.impl.ConnectionBase;
import java.io.IOException;
import java.util.OptionalLong;

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
final class BodyTap extends ChannelInboundHandlerAdapter {
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
    BodyTap tap = pipeline.get(BodyTap.class);
    if (tap == null) {
      if (pipeline.get(VERTX_HANDLER) == null) {
        return null;
      }
      try {
        pipeline.addBefore(VERTX_HANDLER, NAME, new BodyTap());
      } catch (IllegalArgumentException | java.util.NoSuchElementException raced) {
        // installed meanwhile, or the connection is going away
      }
      tap = pipeline.get(BodyTap.class);
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
