package io.jitdi.stream;

import io.netty.buffer.ByteBuf;

/**
 * A body that arrives as Netty buffers, in order, with back-pressure: an upstream response body, for instance.
 *
 * <p>Contract: chunks reach the {@link Receiver} in order, on one thread at a time, and each belongs to the receiver,
 * which must release it. After {@link Receiver#end()} or {@link Receiver#failed(Throwable)} nothing more is
 * delivered; chunks that arrived before a failure are delivered before it.
 */
public interface BodySource {
  /** Receives the body. Called on one thread at a time. */
  interface Receiver {
    /** The next bytes of the body; the receiver owns {@code data} and must release it. */
    void chunk(ByteBuf data);

    /** The body ended where its sender said it ends. */
    void end();

    /** The body was cut: the connection closed, failed or went idle. */
    void failed(Throwable cause);
  }

  /** Starts delivery to {@code receiver}; call once. */
  void receive(Receiver receiver);

  /** Stops delivery (and reading from the network) until {@link #resume()}. Any thread. */
  void pause();

  /** Goes on after {@link #pause()}. Any thread. */
  void resume();

  /** Drops the body (the transfer is abandoned). Any thread. */
  void cancel();
}
