package io.jitdi.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * Loads and validates {@code jitdi.yaml}. Every problem is reported as a {@link ConfigException} naming the file, the
 * line, the key and the fix; nothing is half-applied.
 */
public final class ConfigLoader {
  private static final Pattern UPSTREAM_KEY =
      Pattern.compile("[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?");
  static final Duration DEFAULT_TTL = Duration.ofMinutes(5);
  static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
  static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);

  private final UnaryOperator<String> env;

  public ConfigLoader(UnaryOperator<String> env) {
    this.env = env;
  }

  /** A loader that expands {@code ${VAR}} from the process environment. */
  public static ConfigLoader withSystemEnv() {
    return new ConfigLoader(System::getenv);
  }

  /**
   * Loads a config file: one jitdi document, plus any number of JITDI {@code kind: Image} documents. A file of JITDI
   * documents only gets the built-in defaults (those of conf/jitdi.yaml) for everything else.
   */
  public JitdiConfig load(Path file) {
    List<ConfigNode> documents = YamlDocuments.read(file, env);
    if (documents.isEmpty()) {
      throw new ConfigException(file, 0, "the file is empty; see conf/jitdi.yaml for a complete example");
    }
    ConfigNode.Mapping main = null;
    List<ImageRuleConfig> rules = new ArrayList<>();
    for (ConfigNode document : documents) {
      ConfigNode.Mapping m = document.mapping();
      if (ImageRules.isJitdiImage(m)) {
        rules.add(ImageRules.jitdiImage(m));
      } else if (main == null) {
        main = m;
      } else {
        throw new ConfigException(file, m.line(), "a second jitdi config document; other documents of this file must "
            + "be JITDI rules (apiVersion: " + ImageRules.JITDI_API_VERSION + ", kind: Image)");
      }
    }
    if (main == null) {
      main = defaults();
    }
    return read(file, main, rules);
  }

  private ConfigNode.Mapping defaults() {
    try (var in = ConfigLoader.class.getResourceAsStream("defaults.yaml")) {
      String text = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      return YamlDocuments.parse(Path.of("(built-in defaults)"), new java.io.StringReader(text), env).get(0)
          .mapping();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("the jar lacks its defaults", e);
    }
  }

  JitdiConfig read(Path file, ConfigNode.Mapping root, List<ImageRuleConfig> documentRules) {
    root.allowOnly(Set.of("server", "cache", "upstreams", "defaultUpstream", "log", "images", "jit", "include"));
    ServerConfig server = root.get("server").map(n -> server(n.mapping()))
        .orElse(ServerConfig.defaults());
    LogConfig log = root.get("log").map(n -> log(n.mapping())).orElse(LogConfig.DEFAULT);
    CacheConfig cache = cache(root.require("cache").mapping());
    ConfigNode.Mapping upstreamsNode = root.require("upstreams").mapping();
    Map<String, UpstreamConfig> upstreams = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigNode> e : upstreamsNode.entries().entrySet()) {
      upstreams.put(e.getKey(), upstream(e.getKey(), e.getValue()));
    }
    if (upstreams.isEmpty()) {
      throw upstreamsNode.error("at least one upstream is required, e.g. docker.io: {url: https://registry-1.docker.io}");
    }
    String defaultUpstream;
    Optional<ConfigNode> defaultNode = root.get("defaultUpstream");
    if (defaultNode.isPresent()) {
      defaultUpstream = defaultNode.get().text();
      if (!upstreams.containsKey(defaultUpstream)) {
        throw defaultNode.get().error("\"" + defaultUpstream + "\" is not a key of upstreams; use one of "
            + String.join(", ", upstreams.keySet()));
      }
    } else {
      defaultUpstream = upstreams.keySet().iterator().next();
    }
    List<ImageRuleConfig> rules = new ArrayList<>(documentRules);
    root.get("images").ifPresent(n -> n.sequence().items().forEach(i -> rules.add(ImageRules.rule(i.mapping()))));
    root.get("include").ifPresent(n -> n.sequence().items().forEach(i -> rules.addAll(include(file, i))));
    JitConfig jit = root.get("jit").map(n -> jit(n.mapping(), file)).orElse(JitConfig.defaults());
    return new JitdiConfig(file, server, cache, upstreams, defaultUpstream, log, rules, jit);
  }

  /** The rules of an included file: JITDI documents, or one document with only {@code images:}. */
  private List<ImageRuleConfig> include(Path file, ConfigNode pathNode) {
    Path path = pathNode.as(Path::of);
    Path resolved = (path.isAbsolute() ? path : file.toAbsolutePath().getParent().resolve(path)).normalize();
    if (!java.nio.file.Files.isReadable(resolved)) {
      throw pathNode.error(resolved + " is not a readable file");
    }
    List<ImageRuleConfig> rules = new ArrayList<>();
    for (ConfigNode document : YamlDocuments.read(resolved, env)) {
      ConfigNode.Mapping m = document.mapping();
      if (ImageRules.isJitdiImage(m)) {
        rules.add(ImageRules.jitdiImage(m));
      } else {
        m.allowOnly(Set.of("images"));
        m.require("images").sequence().items().forEach(i -> rules.add(ImageRules.rule(i.mapping())));
      }
    }
    return rules;
  }

  private static JitConfig jit(ConfigNode.Mapping node, Path file) {
    node.allowOnly(Set.of("fileRoots", "ttl", "waitBudget", "tokens"));
    List<Path> roots = new ArrayList<>();
    node.get("fileRoots").ifPresent(n -> n.sequence().items().forEach(i -> {
      Path root = i.as(Path::of);
      if (!root.isAbsolute()) {
        root = file.toAbsolutePath().getParent().resolve(root);
      }
      roots.add(root.normalize());
    }));
    Duration ttl = node.get("ttl").map(n -> n.as(Durations::parse)).orElse(JitConfig.DEFAULT_TTL);
    Duration wait = node.get("waitBudget").map(n -> n.as(Durations::parse)).orElse(JitConfig.DEFAULT_WAIT);
    Map<String, String> tokens = new LinkedHashMap<>(JitConfig.DEFAULT_TOKENS);
    node.get("tokens").ifPresent(n -> n.mapping().entries().forEach((host, var) -> {
      String name = var.text();
      if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
        throw var.error("the value is the name of an environment variable holding the token, e.g. HF_TOKEN");
      }
      tokens.put(host.toLowerCase(java.util.Locale.ROOT), name);
    }));
    return new JitConfig(roots, ttl, wait, tokens);
  }

  private static ServerConfig server(ConfigNode.Mapping node) {
    node.allowOnly(Set.of("listen", "metricsListen", "auth", "tls"));
    HostPort listen = node.get("listen").map(n -> n.as(HostPort::parse)).orElse(ServerConfig.DEFAULT_LISTEN);
    Optional<HostPort> metrics = node.get("metricsListen").map(n -> n.as(HostPort::parse));
    if (metrics.isPresent() && metrics.get().port() == listen.port() && listen.port() != 0) {
      throw node.require("metricsListen").error("uses the same port as listen; pick another port, e.g. "
          + "127.0.0.1:9102, or remove it to serve /metrics on the main port");
    }
    Optional<ClientAuthConfig> auth = node.get("auth").map(n -> clientAuth(n.mapping()));
    Optional<TlsConfig> tls = node.get("tls").map(n -> tls(n.mapping()));
    return new ServerConfig(listen, metrics, auth, tls);
  }

  private static ClientAuthConfig clientAuth(ConfigNode.Mapping node) {
    node.allowOnly(Set.of("basic", "bearer"));
    List<ClientAuthConfig.BasicUser> users = new ArrayList<>();
    node.get("basic").ifPresent(list -> list.sequence().items().forEach(item -> {
      ConfigNode.Mapping user = item.mapping().allowOnly(Set.of("username", "password"));
      String name = user.require("username").text();
      if (name.indexOf(':') >= 0) {
        throw user.require("username").error("a username cannot contain ':'");
      }
      users.add(new ClientAuthConfig.BasicUser(name, user.require("password").text()));
    }));
    List<String> tokens = new ArrayList<>();
    node.get("bearer").ifPresent(list -> list.sequence().items().forEach(item -> {
      String token = item.text();
      if (token.length() < 16) {
        throw item.error("a bearer token shorter than 16 characters is too easy to guess");
      }
      tokens.add(token);
    }));
    if (users.isEmpty() && tokens.isEmpty()) {
      throw node.error("give at least one basic user or bearer token, or remove server.auth to leave the API open");
    }
    return new ClientAuthConfig(users, tokens);
  }

  private static TlsConfig tls(ConfigNode.Mapping node) {
    node.allowOnly(Set.of("cert", "key"));
    return new TlsConfig(readableFile(node.require("cert")), readableFile(node.require("key")));
  }

  private static Path readableFile(ConfigNode node) {
    Path file = node.as(Path::of);
    if (!java.nio.file.Files.isReadable(file)) {
      throw node.error(file.toAbsolutePath() + " is not a readable file");
    }
    return file;
  }

  private static LogConfig log(ConfigNode.Mapping node) {
    node.allowOnly(Set.of("format", "level"));
    LogConfig.Format format = node.get("format").map(n -> n.as(text -> {
      try {
        return LogConfig.Format.valueOf(text);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("\"" + text + "\" is not a log format; use text or json");
      }
    })).orElse(LogConfig.Format.text);
    Optional<String> level = node.get("level").map(n -> n.as(text -> {
      String upper = text.toUpperCase(java.util.Locale.ROOT);
      if (!Set.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR").contains(upper)) {
        throw new IllegalArgumentException("\"" + text + "\" is not a log level; use debug, info, warn or error");
      }
      return upper;
    }));
    return new LogConfig(format, level);
  }

  private static CacheConfig cache(ConfigNode.Mapping node) {
    node.allowOnly(Set.of("dir", "maxSize", "manifestTtl", "store"));
    Path dir = node.require("dir").as(Path::of).toAbsolutePath().normalize();
    ConfigNode maxNode = node.require("maxSize");
    long maxSize = maxNode.as(ByteSize::parse);
    if (maxSize <= 0) {
      throw maxNode.error("the budget must be larger than 0, e.g. 50GiB");
    }
    Duration ttl = node.get("manifestTtl").map(n -> n.as(Durations::parse)).orElse(DEFAULT_TTL);
    Optional<S3StoreConfig> s3 = node.get("store").map(store -> {
      ConfigNode.Mapping mapping = store.mapping();
      mapping.allowOnly(Set.of("s3"));
      return s3(mapping.require("s3").mapping());
    });
    return new CacheConfig(dir, maxSize, ttl, s3);
  }

  /** A bucket name as S3 allows it: 3 to 63 lowercase letters, digits, dots and hyphens. */
  private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
  static final Duration DEFAULT_REDIRECT_TTL = Duration.ofMinutes(5);

  private static S3StoreConfig s3(ConfigNode.Mapping node) {
    node.allowOnly(Set.of("endpoint", "region", "bucket", "prefix", "pathStyle", "accessKeyId", "secretAccessKey",
        "redirect", "redirectTtl"));
    Optional<URI> endpoint = node.get("endpoint").map(n -> n.as(text -> {
      URI uri = registryUrl(text);
      if (!uri.getRawPath().isEmpty() && !uri.getRawPath().equals("/")) {
        throw new IllegalArgumentException("\"" + text + "\" has a path; give only scheme, host and port, e.g. "
            + "http://minio.storage:9000");
      }
      return uri;
    }));
    String region = node.get("region").map(ConfigNode::text).orElse("us-east-1");
    String bucket = node.require("bucket").as(text -> {
      if (!BUCKET.matcher(text).matches()) {
        throw new IllegalArgumentException("\"" + text + "\" is not a bucket name: 3 to 63 lowercase letters, "
            + "digits, dots and hyphens; put a key prefix in prefix:");
      }
      return text;
    });
    String prefix = node.get("prefix").map(n -> n.as(text -> {
      if (text.startsWith("/") || text.contains("//") || text.contains("..")) {
        throw new IllegalArgumentException("\"" + text + "\" is not a key prefix; write e.g. cluster-a/");
      }
      return text.isEmpty() || text.endsWith("/") ? text : text + "/";
    })).orElse("");
    boolean pathStyle = node.get("pathStyle").map(n -> n.as(ConfigLoader::bool)).orElse(false);
    Optional<String> keyId = node.get("accessKeyId").map(n -> n.scalar().rawText()).filter(s -> !s.isEmpty());
    Optional<String> secret = node.get("secretAccessKey").map(n -> n.scalar().rawText()).filter(s -> !s.isEmpty());
    if (keyId.isPresent() != secret.isPresent()) {
      throw (keyId.isPresent() ? node.require("accessKeyId") : node.require("secretAccessKey"))
          .error("set both accessKeyId and secretAccessKey, or neither to use the SDK's default credential chain");
    }
    boolean redirect = node.get("redirect").map(n -> n.as(ConfigLoader::bool)).orElse(false);
    Duration redirectTtl = node.get("redirectTtl").map(n -> {
      Duration ttl = n.as(Durations::parse);
      if (ttl.compareTo(Duration.ofSeconds(10)) < 0 || ttl.compareTo(Duration.ofDays(7)) > 0) {
        throw n.error("a presigned URL lives between 10s and 7d; write e.g. 5m");
      }
      return ttl;
    }).orElse(DEFAULT_REDIRECT_TTL);
    return new S3StoreConfig(endpoint, region, bucket, prefix, pathStyle, keyId, secret, redirect, redirectTtl);
  }

  private static UpstreamConfig upstream(String key, ConfigNode value) {
    ConfigNode.Mapping node = value.mapping();
    if (!UPSTREAM_KEY.matcher(key).matches()) {
      throw node.error("an upstream key is a lowercase registry host as written in image names, e.g. docker.io, "
          + "ghcr.io or registry.local:5000");
    }
    node.allowOnly(Set.of("url", "urls", "username", "password", "connectTimeout", "idleTimeout", "tokenRealms",
        "sendNs"));
    List<URI> urls = urls(node);
    Optional<String> username = node.get("username").map(ConfigNode::text);
    Optional<String> password = node.get("password").map(n -> n.scalar().rawText()).filter(s -> !s.isEmpty());
    if (password.isPresent() && username.isEmpty()) {
      throw node.require("password").error("a password needs a username; set username too");
    }
    Duration connect = node.get("connectTimeout").map(n -> n.as(Durations::parse)).orElse(DEFAULT_CONNECT_TIMEOUT);
    Duration idle = node.get("idleTimeout").map(n -> n.as(Durations::parse)).orElse(DEFAULT_IDLE_TIMEOUT);
    List<String> realms = new ArrayList<>();
    node.get("tokenRealms").ifPresent(n -> n.sequence().items().forEach(i -> realms.add(i.text().toLowerCase())));
    boolean sendNs = node.get("sendNs").map(n -> n.as(ConfigLoader::bool)).orElse(false);
    return new UpstreamConfig(key, urls, username, password, connect, idle, realms, sendNs);
  }

  /**
   * The upstream's {@code url}, or its {@code urls} (replicas of one registry: at least one, no repeats, all with the
   * scheme and path of the first); exactly one of the two keys.
   */
  private static List<URI> urls(ConfigNode.Mapping node) {
    Optional<ConfigNode> one = node.get("url");
    Optional<ConfigNode> many = node.get("urls");
    if (one.isPresent() && many.isPresent()) {
      throw many.get().error("give either url (one registry) or urls (replicas of one registry), not both; "
          + "move the url into the urls list");
    }
    if (one.isPresent()) {
      return List.of(one.get().as(ConfigLoader::registryUrl));
    }
    if (many.isEmpty()) {
      throw node.error("the key 'url' is required, e.g. url: https://registry-1.docker.io (or urls: [...] for "
          + "replicas of one registry)");
    }
    List<ConfigNode> items = many.get().sequence().items();
    if (items.isEmpty()) {
      throw many.get().error("the list is empty; give at least one URL, e.g. urls: [http://central-0.jitdi:8888]");
    }
    List<URI> urls = new ArrayList<>();
    Set<String> seen = new java.util.HashSet<>();
    for (ConfigNode item : items) {
      URI url = item.as(ConfigLoader::registryUrl);
      if (!urls.isEmpty()) {
        URI first = urls.get(0);
        if (!first.getScheme().equals(url.getScheme())) {
          throw item.error("\"" + url + "\" uses " + url.getScheme() + " but the first url uses "
              + first.getScheme() + "; replicas of one upstream share the scheme, so write " + first.getScheme()
              + "://" + url.getRawAuthority() + UpstreamConfig.pathPrefix(url));
        }
        if (!UpstreamConfig.pathPrefix(first).equals(UpstreamConfig.pathPrefix(url))) {
          throw item.error("\"" + url + "\" has the path \"" + UpstreamConfig.pathPrefix(url) + "\" but the first url "
              + "has \"" + UpstreamConfig.pathPrefix(first) + "\"; replicas of one upstream share the path, so write "
              + url.getScheme() + "://" + url.getRawAuthority() + UpstreamConfig.pathPrefix(first));
        }
      }
      String origin = url.getScheme() + "://" + url.getHost().toLowerCase(java.util.Locale.ROOT) + ":"
          + (url.getPort() > 0 ? url.getPort() : "https".equals(url.getScheme()) ? 443 : 80);
      if (!seen.add(origin)) {
        throw item.error("\"" + url + "\" is listed twice; remove the repeat");
      }
      urls.add(url);
    }
    return urls;
  }

  static boolean bool(String text) {
    return switch (text) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new IllegalArgumentException("\"" + text + "\" is not a boolean; write true or false");
    };
  }

  static URI registryUrl(String text) {
    URI uri;
    try {
      uri = new URI(text);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("\"" + text + "\" is not a URL; write e.g. https://registry-1.docker.io");
    }
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
      throw new IllegalArgumentException("\"" + text + "\" must start with https:// (or http:// for in-cluster and "
          + "test registries)");
    }
    if (uri.getHost() == null) {
      throw new IllegalArgumentException("\"" + text + "\" has no host");
    }
    if (uri.getRawUserInfo() != null) {
      throw new IllegalArgumentException("put credentials in username and password, not in the URL");
    }
    if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
      throw new IllegalArgumentException("\"" + text + "\" must not have a query or fragment");
    }
    if (uri.getRawPath() != null && uri.getRawPath().replaceAll("/+$", "").endsWith("/v2")) {
      throw new IllegalArgumentException("\"" + text + "\" ends in /v2; give the base URL, jitdi adds /v2/ itself");
    }
    return uri;
  }
}
