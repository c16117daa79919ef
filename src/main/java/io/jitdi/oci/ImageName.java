package io.jitdi.oci;

import java.util.Map;

/**
 * An image name as an operator types it for jitdi's own commands and endpoints: {@code [registry/]name:tag}, always by
 * tag (e.g. {@code jit.local/llama-cpp/llama-2:7b-chat-Q4_K_M-gguf}). The registry part, if any, is left in
 * {@link #path()}, for the upstream router to tell it from the repository name as it does for request paths.
 *
 * @param path {@code [registry/]name}, not yet split
 */
public record ImageName(String path, Tag tag) {
  /**
   * Parses {@code [registry/]name:tag}.
   *
   * @throws RegistryException {@link ErrorCode#NAME_INVALID} when it is not of that form (a digest, no tag), or
   *     {@link ErrorCode#TAG_INVALID} for a bad tag
   */
  public static ImageName parse(String text) {
    int colon = text == null ? -1 : text.lastIndexOf(':');
    if (colon <= 0 || text.indexOf('@') >= 0 || text.lastIndexOf('/') > colon || text.length() > 512) {
      throw new RegistryException(ErrorCode.NAME_INVALID, "\"" + Strings.clip(text) + "\" is not an image name; give "
          + "[registry/]name:tag, e.g. jit.local/llama-cpp/llama-2:7b-chat-Q4_K_M-gguf", Map.of());
    }
    return new ImageName(text.substring(0, colon), Tag.parse(text.substring(colon + 1)));
  }

  @Override
  public String toString() {
    return path + ":" + tag;
  }
}
