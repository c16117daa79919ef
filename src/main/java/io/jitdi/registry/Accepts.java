package io.jitdi.registry;

import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The client's {@code Accept}, normalized. skopeo and podman send one header line per media type, containerd sends
 * one comma-joined line; both must give the same set, or an answer negotiated for one would be served to the other.
 * Parameters ({@code ;q=0.9}) are dropped, types lowercased, duplicates removed and the rest sorted, so the result is
 * both the header sent upstream and the key under which a tag answer is cached.
 */
public final class Accepts {
  private static final Pattern MEDIA_RANGE = Pattern.compile("[a-z0-9*][a-z0-9!#$&^_.+*-]{0,126}/"
      + "[a-z0-9*][a-z0-9!#$&^_.+*-]{0,126}");
  private static final int MAX_TYPES = 32;

  private Accepts() {}

  /** The normalized, comma-joined Accept set, or null when the client sent none. */
  public static String normalize(List<String> headerLines) {
    TreeSet<String> types = new TreeSet<>();
    for (String line : headerLines) {
      for (String part : line.split(",")) {
        int semicolon = part.indexOf(';');
        String type = (semicolon >= 0 ? part.substring(0, semicolon) : part).trim().toLowerCase(Locale.ROOT);
        if (MEDIA_RANGE.matcher(type).matches() && types.size() < MAX_TYPES) {
          types.add(type);
        }
      }
    }
    return types.isEmpty() ? null : String.join(", ", types);
  }
}
