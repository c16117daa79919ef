package io.jitdi.registry;

/**
 * A request path taken apart, without decoding: a name with {@code %2e}, {@code \} or {@code ..} is passed on as
 * written and fails name validation, so no decoded form can smuggle a traversal past it.
 *
 * @param kind what is asked for
 * @param name the repository name part (for manifest, blob, tags and upload paths)
 * @param reference the tag or digest (manifests) or digest (blobs)
 */
public record ApiPath(Kind kind, String name, String reference) {
  /** The endpoints jitdi knows; {@link #template()} is the route label used in logs and metrics. */
  public enum Kind {
    BASE("/v2/"),
    MANIFEST("/v2/{name}/manifests/{reference}"),
    BLOB("/v2/{name}/blobs/{digest}"),
    TAGS("/v2/{name}/tags/list"),
    UPLOAD("/v2/{name}/blobs/uploads/"),
    HEALTHZ("/healthz"),
    READYZ("/readyz"),
    METRICS("/metrics"),
    TOKEN("/_jitdi/token"),
    BUILDS("/_jitdi/builds"),
    PREFETCH("/_jitdi/prefetch"),
    STATUS("/_jitdi/status"),
    STATUS_PAGE("/_jitdi/"),
    NOT_FOUND("other");

    private final String template;

    Kind(String template) {
      this.template = template;
    }

    public String template() {
      return template;
    }

    /** Whether client authentication guards this route: the registry API and the admin endpoints. */
    public boolean isRegistryApi() {
      return template.startsWith("/v2") || this == NOT_FOUND || this == BUILDS || this == PREFETCH || this == STATUS;
    }
  }

  private static final String MANIFESTS = "/manifests";
  private static final String BLOBS = "/blobs";
  private static final String TAGS_LIST = "/tags/list";

  public static ApiPath parse(String path) {
    if (path == null) {
      return new ApiPath(Kind.NOT_FOUND, null, null);
    }
    switch (path) {
      case "/v2", "/v2/" -> {
        return new ApiPath(Kind.BASE, null, null);
      }
      case "/healthz" -> {
        return new ApiPath(Kind.HEALTHZ, null, null);
      }
      case "/readyz" -> {
        return new ApiPath(Kind.READYZ, null, null);
      }
      case "/metrics" -> {
        return new ApiPath(Kind.METRICS, null, null);
      }
      case "/_jitdi/token" -> {
        return new ApiPath(Kind.TOKEN, null, null);
      }
      case "/_jitdi/builds" -> {
        return new ApiPath(Kind.BUILDS, null, null);
      }
      case "/_jitdi/prefetch" -> {
        return new ApiPath(Kind.PREFETCH, null, null);
      }
      case "/_jitdi/status" -> {
        return new ApiPath(Kind.STATUS, null, null);
      }
      case "/", "/_jitdi", "/_jitdi/" -> {
        return new ApiPath(Kind.STATUS_PAGE, null, null);
      }
      default -> {
        // not a fixed path
      }
    }
    if (!path.startsWith("/v2/")) {
      return new ApiPath(Kind.NOT_FOUND, null, null);
    }
    String rest = path.substring("/v2/".length());
    if (rest.endsWith(TAGS_LIST)) {
      return new ApiPath(Kind.TAGS, rest.substring(0, rest.length() - TAGS_LIST.length()), null);
    }
    int uploads = rest.indexOf(BLOBS + "/uploads");
    if (uploads >= 0 && (rest.length() == uploads + (BLOBS + "/uploads").length()
        || rest.charAt(uploads + (BLOBS + "/uploads").length()) == '/')) {
      return new ApiPath(Kind.UPLOAD, rest.substring(0, uploads), null);
    }
    int lastSlash = rest.lastIndexOf('/');
    if (lastSlash < 0) {
      return new ApiPath(Kind.NOT_FOUND, null, null);
    }
    String reference = rest.substring(lastSlash + 1);
    String before = rest.substring(0, lastSlash);
    if (before.endsWith(MANIFESTS)) {
      return new ApiPath(Kind.MANIFEST, before.substring(0, before.length() - MANIFESTS.length()), reference);
    }
    if (before.endsWith(BLOBS)) {
      return new ApiPath(Kind.BLOB, before.substring(0, before.length() - BLOBS.length()), reference);
    }
    return new ApiPath(Kind.NOT_FOUND, null, null);
  }
}
