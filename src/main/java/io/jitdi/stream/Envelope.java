package io.jitdi.stream;

/**
 * Where a blob is written inside another one, its container: the container's bytes are {@code head}, then the blob's
 * {@code blobSize} bytes, then {@code tail}. A layer of one model file is the model blob in an envelope of tar
 * headers and padding, so the model is fetched, verified and made a layer in one pass.
 */
public record Envelope(byte[] head, long blobSize, byte[] tail) {
  /** Told of the container once it is stored, before anyone else is told the fill ended; blocking. */
  @FunctionalInterface
  public interface Committed {
    void committed(DigestingFileSink.Written container) throws java.io.IOException;
  }

  public Envelope {
    if (blobSize < 0) {
      throw new IllegalArgumentException("an enveloped blob's size must be known, not " + blobSize);
    }
    head = head.clone();
    tail = tail.clone();
  }

  /** Where the blob's first byte is in the container. */
  public long blobOffset() {
    return head.length;
  }

  /** The container's size. */
  public long size() {
    return head.length + blobSize + tail.length;
  }

  @Override
  public byte[] head() {
    return head.clone();
  }

  @Override
  public byte[] tail() {
    return tail.clone();
  }
}
