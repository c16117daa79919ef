package io.jitdi.jit.sources;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jitdi.http.BlockingHttp;
import io.jitdi.http.HttpOrigin;
import io.jitdi.oci.Digest;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;

/**
 * The files of a Hugging Face model repository at one revision, through the Hub's HTTP API (or a mirror's, at
 * {@code endpoint}).
 *
 * <p>{@link #list()} resolves the revision (branch, tag or commit) to a commit with
 * {@code GET /api/models/{repo}/revision/{revision}}, then lists that commit with
 * {@code GET /api/models/{repo}/tree/{commit}?recursive=1} (following {@code Link: rel="next"} pages), and keeps the
 * files the include/exclude {@link Globs} select. Everything after uses the commit, never the branch, so a push
 * during a build cannot mix two revisions. The identity is the commit plus each file's oids.
 *
 * <p>Content is {@code GET /{repo}/resolve/{commit}/{path}}, following the Hub's redirect to its CDN, resumed with
 * Range, and verified while streaming: LFS files against the sha256 in {@code lfs.oid}, the others against their git
 * blob id. Every request goes through {@link BlockingHttp}: the token goes to the endpoint's origin only, never to the
 * CDN.
 */
public final class HuggingFaceSource implements Source {
  /** The Hub's address when {@code HF_ENDPOINT} is not set. */
  public static final URI DEFAULT_ENDPOINT = URI.create("https://huggingface.co");
  static final int MAX_LISTING_BYTES = 64 << 20;
  static final int MAX_PAGES = 1000;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final java.util.regex.Pattern REPO =
      java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?");
  private static final java.util.regex.Pattern COMMIT = java.util.regex.Pattern.compile("[0-9a-f]{40}");
  private static final java.util.regex.Pattern NEXT = java.util.regex.Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?");

  private final URI endpoint;
  private final String repo;
  private final String revision;
  private final Globs globs;
  private final Optional<String> token;
  private final String userAgent;
  private final BlockingHttp http;

  /**
   * @throws IllegalArgumentException when {@code repo} is not {@code name} or {@code org/name}, or the revision is
   *     empty or has {@code ..}
   */
  public HuggingFaceSource(URI endpoint, String repo, String revision, Globs globs, Optional<String> token,
      String userAgent) {
    if (!REPO.matcher(repo).matches() || repo.contains("..")) {
      throw new IllegalArgumentException("\"" + repo + "\" is not a Hugging Face repo id (org/name)");
    }
    if (revision.isEmpty() || revision.contains("..") || revision.length() > 256) {
      throw new IllegalArgumentException("\"" + revision + "\" is not a revision (a branch, tag or commit)");
    }
    String base = endpoint.toString();
    this.endpoint = URI.create(base.endsWith("/") ? base.substring(0, base.length() - 1) : base);
    this.repo = repo;
    this.revision = revision;
    this.globs = globs;
    this.token = token;
    this.userAgent = userAgent;
    this.http = BlockingHttp.bearer(userAgent, token);
  }

  @Override
  public Listing list() throws IOException {
    String commit = commit();
    List<JsonNode> entries = tree(commit);
    List<SourceFile> files = new ArrayList<>();
    StringBuilder identity = new StringBuilder("hf:").append(endpoint).append('/').append(repo).append('@')
        .append(commit).append('\n');
    for (JsonNode e : entries) {
      String path = e.path("path").asText();
      if (!"file".equals(e.path("type").asText()) || !globs.matches(path)) {
        continue;
      }
      try {
        SourcePaths.checkRelative(path);
      } catch (IllegalArgumentException bad) {
        throw new IOException(describe() + " lists a file with an unusable path: " + bad.getMessage());
      }
      long size = e.path("size").asLong(-1);
      JsonNode lfs = e.get("lfs");
      String what = describe() + " " + path;
      HttpSource resolve = new HttpSource(URI.create(endpoint + "/" + repo + "/resolve/" + commit + "/"
          + encodePath(path)), Optional.empty(), token, userAgent);
      SourceFile file;
      if (lfs != null && lfs.hasNonNull("oid")) {
        Digest sha256 = Digest.parse("sha256:" + lfs.path("oid").asText());
        long lfsSize = lfs.path("size").asLong(size);
        file = resolve.file(path, lfsSize, in -> new VerifyingInputStream(in, sha256, lfsSize, what));
        identity.append(path).append('|').append(sha256).append('|').append(lfsSize).append('\n');
      } else {
        String oid = e.path("oid").asText();
        if (!oid.matches("[0-9a-f]{40}") || size < 0) {
          throw new IOException(describe() + " lists " + path + " without a git oid and size");
        }
        file = resolve.file(path, size, in -> VerifyingInputStream.gitBlob(in, oid, size, what));
        identity.append(path).append('|').append(oid).append('|').append(size).append('\n');
      }
      files.add(file);
    }
    if (files.isEmpty()) {
      throw new IOException(describe() + " at commit " + commit + " has no file that the include/exclude patterns "
          + "select (" + entries.size() + " entries listed)");
    }
    files.sort(Comparator.comparing(SourceFile::name));
    return new Listing("hf:" + Digest.sha256Of(identity.toString().getBytes(StandardCharsets.UTF_8)).hex() + "@"
        + commit, files);
  }

  /** The commit {@code revision} names now; a commit id is taken as it is. */
  String commit() throws IOException {
    if (COMMIT.matcher(revision).matches()) {
      return revision;
    }
    JsonNode answer = api(URI.create(endpoint + "/api/models/" + repo + "/revision/"
        + URLEncoder.encode(revision, StandardCharsets.UTF_8)));
    String sha = answer.path("sha").asText();
    if (!COMMIT.matcher(sha).matches()) {
      throw new IOException(describe() + ": the Hub did not resolve the revision to a commit (no \"sha\")");
    }
    return sha;
  }

  private List<JsonNode> tree(String commit) throws IOException {
    List<JsonNode> entries = new ArrayList<>();
    URI page = URI.create(endpoint + "/api/models/" + repo + "/tree/" + commit + "?recursive=1");
    for (int n = 0; page != null; n++) {
      if (n >= MAX_PAGES) {
        throw new IOException(describe() + ": the file listing has more than " + MAX_PAGES + " pages");
      }
      Answer answer = get(page, MAX_LISTING_BYTES);
      JsonNode array = JSON.readTree(answer.body());
      if (!array.isArray()) {
        throw new IOException(page + " did not answer a JSON array");
      }
      array.forEach(entries::add);
      Matcher next = answer.link() == null ? null : NEXT.matcher(answer.link());
      page = next != null && next.find() ? page.resolve(next.group(1)) : null;
      if (page != null && !HttpOrigin.same(page, endpoint)) {
        throw new IOException(describe() + ": the listing's next page " + page + " is on another host");
      }
    }
    return entries;
  }

  private JsonNode api(URI uri) throws IOException {
    return JSON.readTree(get(uri, 1 << 20).body());
  }

  /** An API answer: its body and its {@code Link} header. */
  private record Answer(byte[] body, String link) {}

  /** GETs an API URL with the token, turning the Hub's refusals into what to do about them. */
  private Answer get(URI uri, int limit) throws IOException {
    BlockingHttp.Response c;
    try {
      c = http.open("GET", uri, 0);
    } catch (BlockingHttp.StatusException e) {
      String hint = switch (e.status()) {
        case 401, 403 -> token.isPresent() ? "the token was refused; check it has access to " + repo
            : "the repo is gated or private; set HF_TOKEN for jitdi";
        case 404 -> "no repo " + repo + " with revision " + revision + " on " + endpoint;
        default -> "the Hub answered " + e.status();
      };
      throw new IOException(describe() + ": " + hint + " (" + e.getMessage() + ")", e);
    }
    try (c; var in = c.body()) {
      byte[] body = in.readNBytes(limit + 1);
      if (body.length > limit) {
        throw new IOException(uri + " answered more than " + limit + " bytes");
      }
      return new Answer(body, c.header("Link"));
    }
  }

  /** Percent-encodes each path segment (a space is %20, not +). */
  static String encodePath(String path) {
    List<String> parts = new ArrayList<>();
    for (String p : path.split("/")) {
      parts.add(URLEncoder.encode(p, StandardCharsets.UTF_8).replace("+", "%20"));
    }
    return String.join("/", parts);
  }

  @Override
  public String describe() {
    return "huggingface " + repo + "@" + revision;
  }
}
