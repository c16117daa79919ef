package io.jitdi.upstream;

import io.jitdi.oci.ErrorCode;
import io.jitdi.oci.RegistryException;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.Optional;

/** Turns an upstream's failure answers into the {@link RegistryException} jitdi answers its own client with. */
public final class UpstreamErrors {
  private UpstreamErrors() {}

  /** What the request was for, which decides the code of a 404. */
  public enum Subject { manifest, blob, tags, token }

  /**
   * The error for a non-2xx upstream response; reads (and thereby releases) its small body to carry the upstream's
   * own message. The returned future always succeeds with the exception to fail with.
   */
  public static Future<RegistryException> of(String upstream, Subject subject, HttpClientResponse response) {
    int status = response.statusCode();
    Optional<Duration> retryAfter = retryAfter(response.getHeader("Retry-After"));
    return Bodies.read(response, Bodies.SMALL)
        .map(body -> build(upstream, subject, status, upstreamMessage(body), retryAfter))
        .otherwise(e -> build(upstream, subject, status, null, retryAfter));
  }

  static RegistryException build(String upstream, Subject subject, int status, String upstreamMessage,
      Optional<Duration> retryAfter) {
    String said = upstreamMessage == null ? "" : ": " + upstreamMessage;
    Map<String, Object> detail = Map.of("upstream", upstream, "upstreamStatus", status);
    RegistryException e;
    if (status == 404) {
      ErrorCode code = switch (subject) {
        case manifest -> ErrorCode.MANIFEST_UNKNOWN;
        case blob -> ErrorCode.BLOB_UNKNOWN;
        default -> ErrorCode.NAME_UNKNOWN;
      };
      e = new RegistryException(code, 404, "upstream " + upstream + " has no such " + subject + said, detail, null, null);
    } else if (status == 401) {
      e = new RegistryException(ErrorCode.UNAUTHORIZED, 401, "upstream " + upstream + " requires credentials that "
          + "were not accepted; check username and password under upstreams." + upstream + said, detail, null, null);
    } else if (status == 403) {
      e = new RegistryException(ErrorCode.DENIED, 403, "upstream " + upstream + " denied access" + said, detail,
          null, null);
    } else if (status == 429) {
      e = new RegistryException(ErrorCode.TOOMANYREQUESTS, 429, "upstream " + upstream + " is rate-limiting" + said,
          detail, null, null);
    } else if (status == 503) {
      e = new RegistryException(ErrorCode.UNAVAILABLE, 503, "upstream " + upstream + " is unavailable" + said, detail,
          null, null);
    } else if (status >= 500) {
      e = new RegistryException(ErrorCode.UNAVAILABLE, 502, "upstream " + upstream + " failed with " + status + said,
          detail, null, null);
    } else {
      e = new RegistryException(ErrorCode.UNKNOWN, 502, "upstream " + upstream + " answered " + status + said, detail,
          null, null);
    }
    return retryAfter.map(e::retryAfter).orElse(e);
  }

  /** The error for an upstream that could not be reached or broke off. */
  public static RegistryException unreachable(String upstream, Throwable cause) {
    return new RegistryException(ErrorCode.UNAVAILABLE, 502, "upstream " + upstream + " is unreachable: "
        + describe(cause), Map.of("upstream", upstream), null, cause);
  }

  /** A short description of a network failure, for messages. */
  public static String describe(Throwable e) {
    String message = e.getMessage();
    return message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
  }

  private static String upstreamMessage(Buffer body) {
    try {
      JsonArray errors = new JsonObject(body).getJsonArray("errors");
      if (errors != null && !errors.isEmpty()) {
        JsonObject first = errors.getJsonObject(0);
        String text = first.getString("code", "") + " " + first.getString("message", "");
        text = text.trim();
        return text.length() > 300 ? text.substring(0, 300) : text;
      }
    } catch (RuntimeException ignored) {
      // not OCI error JSON
    }
    return null;
  }

  static Optional<Duration> retryAfter(String header) {
    if (header == null || header.isBlank()) {
      return Optional.empty();
    }
    String h = header.trim();
    try {
      long seconds = Long.parseLong(h);
      return seconds >= 0 ? Optional.of(Duration.ofSeconds(seconds)) : Optional.empty();
    } catch (NumberFormatException notSeconds) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(h, DateTimeFormatter.RFC_1123_DATE_TIME);
        Duration d = Duration.between(ZonedDateTime.now(at.getZone()), at);
        return Optional.of(d.isNegative() ? Duration.ZERO : d);
      } catch (RuntimeException notDate) {
        return Optional.empty();
      }
    }
  }
}
