package io.jitdi.it;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.jitdi.oci.Digest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The parts of the Hugging Face Hub a download uses, as the Hub answers them: {@code /api/models/{repo}/revision/{rev}}
 * (the commit), {@code /api/models/{repo}/tree/{rev}?recursive=1} (paged with {@code Link: rel="next"}), and
 * {@code /{repo}/resolve/{rev}/{path}}: files in git are answered directly with their git blob id as ETag; LFS files
 * (large ones and weights) get a 302 to a CDN on another origin, with {@code X-Linked-Etag}, {@code X-Linked-Size} and
 * {@code X-Repo-Commit}. The CDN serves Range requests and can cut or corrupt a response once. A gated repo answers 401
 * without the right bearer token. Every request is logged.
 */
public final class HubServer implements AutoCloseable {
  static final int PAGE = 2;
  static final int LFS_THRESHOLD = 1024;

  /** One request: which server (hub or cdn), method, path with query, Range and Authorization. */
  public record Request(String server, String method, String path, String range, String authorization) {}

  private record Commit(String sha, TreeMap<String, byte[]> files) {}

  private final HttpServer hub;
  private final HttpServer cdn;
  private final Map<String, Map<String, String>> branches = new ConcurrentHashMap<>();
  private final Map<String, Commit> commits = new ConcurrentHashMap<>();
  private final Map<String, byte[]> lfs = new ConcurrentHashMap<>();
  private final Map<String, String> gated = new ConcurrentHashMap<>();
  private final Map<String, Long> cuts = new ConcurrentHashMap<>();
  private final Set<String> corrupt = ConcurrentHashMap.newKeySet();
  private final List<Request> requests = new CopyOnWriteArrayList<>();

  private HubServer(HttpServer hub, HttpServer cdn) {
    this.hub = hub;
    this.cdn = cdn;
  }

  public static HubServer start() {
    HttpServer hub = Ports.httpServer();
    HttpServer cdn = Ports.httpServer();
    HubServer s = new HubServer(hub, cdn);
    hub.createContext("/", e -> s.handle(e, s::hub));
    cdn.createContext("/", e -> s.handle(e, s::cdn));
    hub.start();
    cdn.start();
    return s;
  }

  /** What to set HF_ENDPOINT to. */
  public String endpoint() {
    return "http://127.0.0.1:" + hub.getAddress().getPort();
  }

  /** Commits {@code files} to {@code repo} and moves {@code branch} there; returns the commit id. */
  public String publish(String repo, String branch, Map<String, byte[]> files) {
    MessageDigest sha1 = sha1();
    sha1.update((repo + "\n" + commits.size()).getBytes(StandardCharsets.UTF_8));
    new TreeMap<>(files).forEach((path, content) -> {
      sha1.update(path.getBytes(StandardCharsets.UTF_8));
      sha1.update(content);
      if (isLfs(path, content)) {
        lfs.put(Digest.sha256Of(content).hex(), content);
      }
    });
    String sha = HexFormat.of().formatHex(sha1.digest());
    commits.put(sha, new Commit(sha, new TreeMap<>(files)));
    branches.computeIfAbsent(repo, r -> new ConcurrentHashMap<>()).put(branch, sha);
    return sha;
  }

  /** {@code repo} answers 401 unless asked with this bearer token. */
  public HubServer gate(String repo, String token) {
    gated.put(repo, token);
    return this;
  }

  /** The next CDN response for this content is cut after {@code bytes}. */
  public HubServer cutOnce(byte[] content, long bytes) {
    cuts.put(Digest.sha256Of(content).hex(), bytes);
    return this;
  }

  /** The next CDN response for this content has one byte changed. */
  public HubServer corruptOnce(byte[] content) {
    corrupt.add(Digest.sha256Of(content).hex());
    return this;
  }

  public List<Request> requests() {
    return List.copyOf(requests);
  }

  static boolean isLfs(String path, byte[] content) {
    return content.length >= LFS_THRESHOLD || path.endsWith(".safetensors") || path.endsWith(".gguf");
  }

  /** Git's blob id: the SHA-1 of "blob <size>\0" and the content. */
  static String gitBlobId(byte[] content) {
    MessageDigest sha1 = sha1();
    sha1.update(("blob " + content.length + "\0").getBytes(StandardCharsets.US_ASCII));
    return HexFormat.of().formatHex(sha1.digest(content));
  }

  private interface Handler {
    void handle(HttpExchange exchange, String path) throws IOException;
  }

  private void handle(HttpExchange exchange, Handler handler) throws IOException {
    String server = exchange.getHttpContext().getServer() == hub ? "hub" : "cdn";
    requests.add(new Request(server, exchange.getRequestMethod(), exchange.getRequestURI().toString(),
        exchange.getRequestHeaders().getFirst("Range"), exchange.getRequestHeaders().getFirst("Authorization")));
    try (exchange) {
      handler.handle(exchange, exchange.getRequestURI().getRawPath());
    }
  }

  private void hub(HttpExchange exchange, String path) throws IOException {
    String[] api = path.startsWith("/api/models/") ? path.substring("/api/models/".length()).split("/", 5) : null;
    String repo;
    String rest;
    if (api != null && api.length >= 4) {
      repo = api[0] + "/" + api[1];
      rest = api[2] + "/" + decode(api[3]) + (api.length == 5 ? "/" + api[4] : "");
    } else {
      String[] parts = path.substring(1).split("/", 5);
      if (parts.length < 5 || !parts[2].equals("resolve")) {
        send(exchange, 404, "{\"error\":\"not found\"}");
        return;
      }
      repo = parts[0] + "/" + parts[1];
      rest = "resolve/" + decode(parts[3]) + "/" + parts[4];
    }
    String token = gated.get(repo);
    if (token != null && !("Bearer " + token).equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
      send(exchange, 401, "{\"error\":\"Access to model " + repo + " is restricted.\"}");
      return;
    }
    String kind = rest.substring(0, rest.indexOf('/'));
    String afterKind = rest.substring(kind.length() + 1);
    String revision = kind.equals("resolve") ? afterKind.substring(0, afterKind.indexOf('/')) : afterKind;
    Commit commit = commit(repo, revision);
    if (commit == null) {
      send(exchange, 404, "{\"error\":\"Revision Not Found\"}");
      return;
    }
    switch (kind) {
      case "revision" -> send(exchange, 200, new JsonObject().put("id", repo).put("sha", commit.sha()).encode());
      case "tree" -> tree(exchange, repo, revision, commit);
      case "resolve" -> resolve(exchange, commit, decode(afterKind.substring(revision.length() + 1)));
      default -> send(exchange, 404, "{}");
    }
  }

  private void tree(HttpExchange exchange, String repo, String revision, Commit commit) throws IOException {
    TreeSet<String> directories = new TreeSet<>();
    commit.files().keySet().forEach(p -> {
      for (int i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) {
        directories.add(p.substring(0, i));
      }
    });
    JsonArray all = new JsonArray();
    TreeSet<String> paths = new TreeSet<>(commit.files().keySet());
    paths.addAll(directories);
    for (String p : paths) {
      byte[] content = commit.files().get(p);
      if (content == null) {
        all.add(new JsonObject().put("type", "directory").put("oid", "0".repeat(40)).put("size", 0).put("path", p));
        continue;
      }
      JsonObject entry = new JsonObject().put("type", "file").put("oid", gitBlobId(content)).put("size",
          content.length).put("path", p);
      if (isLfs(p, content)) {
        entry.put("lfs", new JsonObject().put("oid", Digest.sha256Of(content).hex()).put("size", content.length)
            .put("pointerSize", 134));
      }
      all.add(entry);
    }
    String query = exchange.getRequestURI().getRawQuery();
    int cursor = query != null && query.contains("cursor=") ? Integer.parseInt(query.replaceAll(".*cursor=(\\d+).*",
        "$1")) : 0;
    JsonArray page = new JsonArray();
    for (int i = cursor; i < Math.min(all.size(), cursor + PAGE); i++) {
      page.add(all.getValue(i));
    }
    if (cursor + PAGE < all.size()) {
      exchange.getResponseHeaders().set("Link", "<" + endpoint() + "/api/models/" + repo + "/tree/" + revision
          + "?recursive=1&cursor=" + (cursor + PAGE) + ">; rel=\"next\"");
    }
    send(exchange, 200, page.encode());
  }

  private void resolve(HttpExchange exchange, Commit commit, String file) throws IOException {
    byte[] content = commit.files().get(file);
    if (content == null) {
      send(exchange, 404, "{\"error\":\"Entry not found\"}");
      return;
    }
    exchange.getResponseHeaders().set("X-Repo-Commit", commit.sha());
    if (isLfs(file, content)) {
      String sha256 = Digest.sha256Of(content).hex();
      exchange.getResponseHeaders().set("X-Linked-Etag", "\"" + sha256 + "\"");
      exchange.getResponseHeaders().set("X-Linked-Size", Integer.toString(content.length));
      exchange.getResponseHeaders().set("ETag", "\"" + gitBlobId(("version https://git-lfs.github.com/spec/v1\noid "
          + "sha256:" + sha256 + "\nsize " + content.length + "\n").getBytes(StandardCharsets.UTF_8)) + "\"");
      exchange.getResponseHeaders().set("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/repos/"
          + sha256.substring(0, 2) + "/" + sha256 + "?X-Amz-Signature=test");
      exchange.sendResponseHeaders(302, -1);
      return;
    }
    exchange.getResponseHeaders().set("ETag", "\"" + gitBlobId(content) + "\"");
    if (corrupt.remove(Digest.sha256Of(content).hex())) {
      content = content.clone();
      content[content.length / 2] ^= 0x5a;
    }
    body(exchange, content, 0, false);
  }

  private void cdn(HttpExchange exchange, String path) throws IOException {
    String sha256 = path.substring(path.lastIndexOf('/') + 1);
    byte[] content = lfs.get(sha256);
    if (content == null) {
      send(exchange, 404, "<Error><Code>NoSuchKey</Code></Error>");
      return;
    }
    long start = 0;
    String range = exchange.getRequestHeaders().getFirst("Range");
    if (range != null && range.matches("bytes=\\d+-")) {
      start = Long.parseLong(range.substring(6, range.length() - 1));
      exchange.getResponseHeaders().set("Content-Range", "bytes " + start + "-" + (content.length - 1) + "/"
          + content.length);
    }
    exchange.getResponseHeaders().set("ETag", "\"" + sha256 + "\"");
    exchange.getResponseHeaders().set("Accept-Ranges", "bytes");
    Long cut = cuts.remove(sha256);
    byte[] sent = content;
    if (corrupt.remove(sha256)) {
      sent = content.clone();
      sent[sent.length / 2] ^= 0x5a;
    }
    if (cut != null) {
      exchange.sendResponseHeaders(200, content.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(sent, 0, cut.intValue());
        out.flush();
      }
      return;
    }
    body(exchange, sent, (int) start, start > 0);
  }

  private static void body(HttpExchange exchange, byte[] content, int start, boolean partial) throws IOException {
    if (exchange.getRequestMethod().equals("HEAD")) {
      exchange.getResponseHeaders().set("Content-Length", Integer.toString(content.length));
      exchange.sendResponseHeaders(200, -1);
      return;
    }
    exchange.sendResponseHeaders(partial ? 206 : 200, content.length - start);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(content, start, content.length - start);
    }
  }

  private Commit commit(String repo, String revision) {
    Commit byId = commits.get(revision);
    if (byId != null) {
      return byId;
    }
    String sha = branches.getOrDefault(repo, Map.of()).get(revision);
    return sha == null ? null : commits.get(sha);
  }

  private static void send(HttpExchange exchange, int status, String json) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  private static MessageDigest sha1() {
    try {
      return MessageDigest.getInstance("SHA-1");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    hub.stop(0);
    cdn.stop(0);
  }
}
