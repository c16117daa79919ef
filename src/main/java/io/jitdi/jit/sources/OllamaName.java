package io.jitdi.jit.sources;

import io.jitdi.oci.ImageReference;
import java.util.regex.Pattern;

/**
 * An Ollama model name, {@code [host/][namespace/]model[:tag]}, with Ollama's defaults: host
 * {@code registry.ollama.ai}, namespace {@code library}, tag {@code latest}. Examples: {@code llama3.2},
 * {@code registry.ollama.ai/library/llama3.2:1b}, {@code 127.0.0.1:5000/team/tiny:q4}.
 */
public record OllamaName(String host, String namespace, String model, String tag) {
  public static final String DEFAULT_HOST = "registry.ollama.ai";
  public static final String DEFAULT_NAMESPACE = "library";
  public static final String DEFAULT_TAG = "latest";
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?");
  private static final Pattern PART = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,79}");

  public OllamaName {
    if (!HOST.matcher(host).matches() || !PART.matcher(namespace).matches() || !PART.matcher(model).matches()
        || !PART.matcher(tag).matches() || (namespace + model + tag).contains("..")) {
      throw new IllegalArgumentException("\"" + host + "/" + namespace + "/" + model + ":" + tag
          + "\" is not an Ollama model name ([host/][namespace/]model[:tag])");
    }
  }

  /**
   * @throws IllegalArgumentException when {@code text} is not a model name
   */
  public static OllamaName parse(String text) {
    String rest = text;
    String tag = DEFAULT_TAG;
    int colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      tag = rest.substring(colon + 1);
      rest = rest.substring(0, colon);
    }
    String[] parts = rest.split("/", -1);
    return switch (parts.length) {
      case 1 -> new OllamaName(DEFAULT_HOST, DEFAULT_NAMESPACE, parts[0], tag);
      case 2 -> new OllamaName(DEFAULT_HOST, parts[0], parts[1], tag);
      case 3 -> new OllamaName(parts[0], parts[1], parts[2], tag);
      default -> throw new IllegalArgumentException("\"" + text + "\" is not an Ollama model name "
          + "([host/][namespace/]model[:tag])");
    };
  }

  /** The same model as a registry reference (Ollama's registry speaks the OCI distribution API). */
  public ImageReference reference() {
    return ImageReference.parse(host + "/" + namespace + "/" + model + ":" + tag);
  }

  @Override
  public String toString() {
    return host + "/" + namespace + "/" + model + ":" + tag;
  }
}
