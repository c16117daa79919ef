package io.jitdi.oci;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A content digest, {@code sha256:<64 lowercase hex>}, validated on construction.
 *
 * <p>jitdi stores and verifies sha256 content only. Other algorithms of the grammar (sha512, ...) are rejected with
 * {@link ErrorCode#DIGEST_INVALID}, as are uppercase hex and wrong lengths: the spec's canonical form is lowercase, and
 * accepting two spellings of one digest would give two cache keys for the same bytes.
 *
 * <p>Example: {@code sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b}.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests">image-spec digests</a>
 */
public final class Digest implements Comparable<Digest> {
  public static final String SHA256 = "sha256";
  private static final Pattern GRAMMAR = Pattern.compile("[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+");
  private static final Pattern SHA256_HEX = Pattern.compile("[a-f0-9]{64}");
  private static final Digest OF_NOTHING = sha256Of(new byte[0]);

  private final String hex;

  private Digest(String hex) {
    this.hex = hex;
  }

  /**
   * Parses a digest string.
   *
   * @throws RegistryException {@link ErrorCode#DIGEST_INVALID} naming what is wrong
   */
  public static Digest parse(String text) {
    if (text == null || text.isEmpty()) {
      throw invalid(String.valueOf(text), "a digest is required");
    }
    if (text.length() > 256 || !GRAMMAR.matcher(text).matches()) {
      throw invalid(text, "not of the form algorithm:hex");
    }
    int colon = text.indexOf(':');
    String algorithm = text.substring(0, colon);
    String encoded = text.substring(colon + 1);
    if (!SHA256.equals(algorithm)) {
      throw invalid(text, "unsupported digest algorithm " + algorithm + "; jitdi stores sha256 content only");
    }
    if (!SHA256_HEX.matcher(encoded).matches()) {
      throw invalid(text, "a sha256 digest is 64 lowercase hex characters");
    }
    return new Digest(encoded);
  }

  /** The digest of a sha256 value as computed by {@link MessageDigest#digest()}. */
  public static Digest ofSha256Bytes(byte[] sha256) {
    if (sha256.length != 32) {
      throw new IllegalArgumentException("sha256 is 32 bytes, got " + sha256.length);
    }
    return new Digest(HexFormat.of().formatHex(sha256));
  }

  /** The sha256 digest of {@code content}. */
  public static Digest sha256Of(byte[] content) {
    return ofSha256Bytes(newSha256().digest(content));
  }

  /** Whether this is the digest of no bytes at all, the only content a 0-byte answer can be. */
  public boolean isOfNothing() {
    return this.equals(OF_NOTHING);
  }

  public static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }

  public String algorithm() {
    return SHA256;
  }

  /** The lowercase hex part. */
  public String hex() {
    return hex;
  }

  @Override
  public String toString() {
    return SHA256 + ":" + hex;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Digest d && d.hex.equals(hex);
  }

  @Override
  public int hashCode() {
    return hex.hashCode();
  }

  @Override
  public int compareTo(Digest o) {
    return hex.compareTo(o.hex);
  }

  private static RegistryException invalid(String text, String why) {
    return new RegistryException(ErrorCode.DIGEST_INVALID, "invalid digest \"" + Strings.clip(text) + "\": " + why,
        Map.of("digest", Strings.clip(text)));
  }
}
