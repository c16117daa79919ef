package io.jitdi.jit.layer;

import io.jitdi.oci.Digest;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * An output stream into a file, computing the sha256 of what it writes, in a three-stage pipeline: the caller fills
 * 1 MiB chunks, one pool thread hashes them, another writes them. On two cores the build is then bounded by the
 * slowest stage (hashing) rather than by the sum of all three.
 */
final class HashingFileWriter extends OutputStream {
  static final int CHUNK = 1 << 20;
  private static final int DEPTH = 4;

  private record Chunk(byte[] bytes, int length) {}

  private static final Chunk END = new Chunk(new byte[0], -1);

  private final FileChannel channel;
  private final BlockingQueue<Chunk> toHash = new ArrayBlockingQueue<>(DEPTH);
  private final BlockingQueue<Chunk> toWrite = new ArrayBlockingQueue<>(DEPTH);
  private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(2 * DEPTH + 2);
  private final MessageDigest sha256 = Digest.newSha256();
  private final CompletableFuture<Void> hashed = new CompletableFuture<>();
  private final CompletableFuture<Void> written = new CompletableFuture<>();
  private volatile Throwable failure;
  private byte[] current = new byte[CHUNK];
  private int filled;
  private long size;
  private boolean closed;
  private Digest result;

  HashingFileWriter(FileChannel channel, Executor pool) {
    this.channel = channel;
    pool.execute(this::hash);
    pool.execute(this::write);
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    while (len > 0) {
      int n = Math.min(len, CHUNK - filled);
      System.arraycopy(b, off, current, filled, n);
      filled += n;
      off += n;
      len -= n;
      size += n;
      if (filled == CHUNK) {
        handOff(new Chunk(current, filled));
        byte[] recycled = free.poll();
        current = recycled != null ? recycled : new byte[CHUNK];
        filled = 0;
      }
    }
  }

  private void handOff(Chunk chunk) throws IOException {
    try {
      while (!toHash.offer(chunk, 100, TimeUnit.MILLISECONDS)) {
        checkFailure();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    checkFailure();
  }

  private void checkFailure() throws IOException {
    Throwable f = failure;
    if (f != null) {
      throw f instanceof IOException io ? io : new IOException(f);
    }
  }

  private void hash() {
    try {
      while (true) {
        Chunk c = toHash.take();
        if (c != END) {
          sha256.update(c.bytes(), 0, c.length());
        }
        while (!toWrite.offer(c, 100, TimeUnit.MILLISECONDS)) {
          if (failure != null) {
            throw new IOException("the writer failed");
          }
        }
        if (c == END) {
          hashed.complete(null);
          return;
        }
      }
    } catch (Throwable e) {
      fail(e);
      hashed.completeExceptionally(e);
    }
  }

  private void write() {
    try {
      while (true) {
        Chunk c = toWrite.take();
        if (c == END) {
          written.complete(null);
          return;
        }
        ByteBuffer buffer = ByteBuffer.wrap(c.bytes(), 0, c.length());
        while (buffer.hasRemaining()) {
          channel.write(buffer);
        }
        free.offer(c.bytes());
      }
    } catch (Throwable e) {
      fail(e);
      written.completeExceptionally(e);
    }
  }

  private void fail(Throwable e) {
    if (failure == null) {
      failure = e;
    }
  }

  /** Ends the stream and waits for every byte to be hashed and written; returns the digest. Idempotent. */
  Digest finish() throws IOException {
    if (result != null) {
      return result;
    }
    if (!closed) {
      closed = true;
      if (filled > 0) {
        handOff(new Chunk(current, filled));
      }
      handOff(END);
    }
    try {
      hashed.get();
      written.get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    result = Digest.ofSha256Bytes(sha256.digest());
    return result;
  }

  long size() {
    return size;
  }

  @Override
  public void close() throws IOException {
    finish();
  }
}
