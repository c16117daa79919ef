package io.jitdi.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir
  Path dir;

  private Path write(String yaml) throws IOException {
    Path file = dir.resolve("jitdi.yaml");
    Files.writeString(file, yaml);
    return file;
  }

  private JitdiConfig load(String yaml, Map<String, String> env) throws IOException {
    return new ConfigLoader(env::get).load(write(yaml));
  }

  private ConfigException error(String yaml) {
    return error(yaml, Map.of());
  }

  private ConfigException error(String yaml, Map<String, String> env) {
    return assertThrows(ConfigException.class, () -> load(yaml, env));
  }

  private static final String VALID = """
      server:
        listen: 127.0.0.1:8888
      cache:
        dir: ./data
        maxSize: 50GiB
        manifestTtl: 5m
      upstreams:
        docker.io:
          url: https://registry-1.docker.io
          username: me
          password: ${DOCKERHUB_TOKEN}
        ghcr.io:
          url: https://ghcr.io
      defaultUpstream: docker.io
      """;

  static final String S3 = """
      cache:
        dir: /var/cache/jitdi
        maxSize: 1TiB
        store:
          s3:
            endpoint: http://minio.storage:9000
            bucket: jitdi
            prefix: cluster-a
            pathStyle: true
            accessKeyId: ${S3_ACCESS_KEY_ID}
            secretAccessKey: ${S3_SECRET_ACCESS_KEY}
            redirect: true
            redirectTtl: 2m
      upstreams: {docker.io: {url: https://registry-1.docker.io}}
      """;

  @Test
  void readsTheSharedBucket() throws IOException {
    S3StoreConfig s3 = load(S3, Map.of("S3_ACCESS_KEY_ID", "AKIA1", "S3_SECRET_ACCESS_KEY", "secret")).cache().s3()
        .orElseThrow();
    assertEquals(java.net.URI.create("http://minio.storage:9000"), s3.endpoint().orElseThrow());
    assertEquals("us-east-1", s3.region());
    assertEquals("jitdi", s3.bucket());
    assertEquals("cluster-a/", s3.prefix(), "a prefix is a folder");
    assertTrue(s3.pathStyle() && s3.redirect());
    assertEquals(Duration.ofMinutes(2), s3.redirectTtl());
    assertEquals("AKIA1", s3.accessKeyId().orElseThrow());
    assertTrue(load("""
        cache: {dir: /var/cache/jitdi, maxSize: 1TiB}
        upstreams: {docker.io: {url: https://registry-1.docker.io}}
        """, Map.of()).cache().s3().isEmpty(), "without store: the local disk only");
  }

  @Test
  void aBadBucketSettingNamesFileLineAndFix() {
    Map<String, String> env = Map.of("S3_ACCESS_KEY_ID", "AKIA1", "S3_SECRET_ACCESS_KEY", "secret");
    ConfigException name = error(S3.replace("bucket: jitdi", "bucket: Jitdi_Models"), env);
    assertEquals(7, name.line());
    assertTrue(name.getMessage().contains("cache.store.s3.bucket") && name.getMessage().contains("lowercase"),
        name.getMessage());
    ConfigException half = error(S3.replace("      secretAccessKey: ${S3_SECRET_ACCESS_KEY}\n", ""), env);
    assertTrue(half.getMessage().contains("set both accessKeyId and secretAccessKey"), half.getMessage());
    assertEquals(10, half.line());
    ConfigException ttl = error(S3.replace("redirectTtl: 2m", "redirectTtl: 30d"), env);
    assertTrue(ttl.getMessage().contains("between 10s and 7d"), ttl.getMessage());
    ConfigException path = error(S3.replace("minio.storage:9000", "minio.storage:9000/jitdi"), env);
    assertTrue(path.getMessage().contains("has a path"), path.getMessage());
    ConfigException unknown = error(S3.replace("pathStyle:", "pathstyle:"), env);
    assertTrue(unknown.getMessage().contains("did you mean 'pathStyle'"), unknown.getMessage());
  }

  @Test
  void readsTheDocumentedKeys() throws IOException {
    JitdiConfig config = load(VALID, Map.of("DOCKERHUB_TOKEN", "s3cret"));
    assertEquals(new HostPort("127.0.0.1", 8888), config.server().listen());
    assertEquals(50L << 30, config.cache().maxSize());
    assertEquals(Duration.ofMinutes(5), config.cache().manifestTtl());
    assertTrue(config.cache().dir().isAbsolute());
    UpstreamConfig hub = config.upstream("docker.io").orElseThrow();
    assertEquals("registry-1.docker.io", hub.host());
    assertEquals(443, hub.port());
    assertEquals("s3cret", hub.password().orElseThrow());
    assertEquals("docker.io", config.defaultUpstream());
    assertEquals(2, config.upstreams().size());
  }

  @Test
  void defaultsListenTtlAndDefaultUpstream() throws IOException {
    JitdiConfig config = load("""
        cache: {dir: /var/cache/jitdi, maxSize: 1TiB}
        upstreams:
          registry.local:5000: {url: "http://10.0.0.5:5000"}
        """, Map.of());
    assertEquals(8888, config.server().listen().port());
    assertEquals(Duration.ofMinutes(5), config.cache().manifestTtl());
    assertEquals("registry.local:5000", config.defaultUpstream());
    assertEquals(5000, config.upstreams().get("registry.local:5000").port());
  }

  @Test
  void readsMetricsListenAndTheLogSection() throws IOException {
    JitdiConfig config = load("""
        server: {listen: 0.0.0.0:8888, metricsListen: 127.0.0.1:9102}
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams: {docker.io: {url: https://registry-1.docker.io}}
        log: {format: json, level: debug}
        """, Map.of());
    assertEquals(new HostPort("127.0.0.1", 9102), config.server().metricsListen().orElseThrow());
    assertEquals(LogConfig.Format.json, config.log().format());
    assertEquals("DEBUG", config.log().level().orElseThrow());
    assertTrue(error("""
        server: {listen: 0.0.0.0:8888, metricsListen: 127.0.0.1:8888}
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams: {docker.io: {url: https://registry-1.docker.io}}
        """).getMessage().contains("same port"));
    assertTrue(error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams: {docker.io: {url: https://registry-1.docker.io}}
        log: {format: xml}
        """).getMessage().contains("use text or json"));
  }

  @Test
  void aMissingEnvironmentVariableNamesFileLineAndFix() {
    ConfigException e = error(VALID);
    assertEquals(11, e.line());
    assertTrue(e.getMessage().startsWith(dir.resolve("jitdi.yaml") + ":11: upstreams.docker.io.password:"),
        e.getMessage());
    assertTrue(e.getMessage().contains("DOCKERHUB_TOKEN is not set"), e.getMessage());
  }

  @Test
  void anEnvironmentDefaultApplies() throws IOException {
    JitdiConfig config = load(VALID.replace("${DOCKERHUB_TOKEN}", "${DOCKERHUB_TOKEN:-}"), Map.of());
    assertTrue(config.upstream("docker.io").orElseThrow().password().isEmpty());
  }

  @Test
  void anUnknownKeySuggestsTheNearestOne() {
    ConfigException e = error("""
        cache:
          dir: ./data
          maxsize: 10GiB
        upstreams:
          docker.io: {url: https://registry-1.docker.io}
        """);
    assertEquals(3, e.line());
    assertTrue(e.getMessage().contains("cache.maxsize: unknown key; did you mean 'maxSize'?"), e.getMessage());
  }

  @Test
  void aBadSizeSaysHowToWriteOne() {
    ConfigException e = error("""
        cache:
          dir: ./data
          maxSize: lots
        upstreams:
          docker.io: {url: https://registry-1.docker.io}
        """);
    assertEquals(3, e.line());
    assertTrue(e.getMessage().contains("e.g. 50GiB"), e.getMessage());
  }

  @Test
  void aDefaultUpstreamMustBeConfigured() {
    ConfigException e = error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          docker.io: {url: https://registry-1.docker.io}
        defaultUpstream: quay.io
        """);
    assertEquals(4, e.line());
    assertTrue(e.getMessage().contains("use one of docker.io"), e.getMessage());
  }

  @Test
  void upstreamUrlsAreCheckedForSchemeCredentialsAndV2() {
    assertTrue(error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          docker.io: {url: ftp://registry-1.docker.io}
        """).getMessage().contains("https://"));
    assertTrue(error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          docker.io: {url: "https://me:pw@registry-1.docker.io"}
        """).getMessage().contains("username and password"));
    assertTrue(error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          docker.io: {url: "https://registry-1.docker.io/v2/"}
        """).getMessage().contains("/v2"));
  }

  @Test
  void anUpstreamThatIsAnotherJitdiGetsNsOnlyWhenAsked() throws IOException {
    JitdiConfig config = load("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          ghcr.io: {url: "http://jitdi-central:8888", sendNs: true}
          docker.io: {url: "https://registry-1.docker.io"}
        """, Map.of());
    assertTrue(config.upstreams().get("ghcr.io").sendNs());
    assertTrue(!config.upstreams().get("docker.io").sendNs());
    assertTrue(error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          ghcr.io: {url: "http://jitdi-central:8888", sendNs: yes}
        """).getMessage().contains("write true or false"));
  }

  @Test
  void anUpstreamMayListReplicasUnderUrls() throws IOException {
    JitdiConfig config = load("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          jit.local:
            urls: [http://central-0.jitdi:8888, http://central-1.jitdi:8888/, http://central-2.jitdi:8888]
            sendNs: true
          docker.io: {url: "https://registry-1.docker.io"}
        """, Map.of());
    UpstreamConfig jit = config.upstreams().get("jit.local");
    assertEquals(3, jit.urls().size());
    assertEquals("central-0.jitdi", jit.host(), "url() is the first of urls");
    assertEquals(8888, jit.port());
    assertEquals("", jit.pathPrefix());
    assertEquals(java.util.List.of(java.net.URI.create("https://registry-1.docker.io")),
        config.upstreams().get("docker.io").urls());
  }

  @Test
  void urlAndUrlsAreExclusiveAndReplicasShareSchemeAndPath() {
    ConfigException both = error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          jit.local:
            url: http://central-0.jitdi:8888
            urls: [http://central-1.jitdi:8888]
        """);
    assertEquals(5, both.line());
    assertTrue(both.getMessage().contains("upstreams.jit.local.urls: give either url"), both.getMessage());

    ConfigException neither = error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          jit.local: {sendNs: true}
        """);
    assertEquals(3, neither.line());
    assertTrue(neither.getMessage().contains("'url' is required"), neither.getMessage());

    ConfigException empty = error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          jit.local:
            urls: []
        """);
    assertEquals(4, empty.line());
    assertTrue(empty.getMessage().contains("at least one URL"), empty.getMessage());

    ConfigException scheme = error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          jit.local:
            urls:
              - http://central-0.jitdi:8888
              - https://central-1.jitdi:8888
        """);
    assertEquals(6, scheme.line());
    assertTrue(scheme.getMessage().contains("share the scheme, so write http://central-1.jitdi:8888"),
        scheme.getMessage());

    ConfigException path = error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          jit.local:
            urls:
              - http://central-0.jitdi:8888/mirror
              - http://central-1.jitdi:8888
        """);
    assertEquals(6, path.line());
    assertTrue(path.getMessage().contains("share the path, so write http://central-1.jitdi:8888/mirror"),
        path.getMessage());

    ConfigException twice = error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          jit.local:
            urls:
              - http://central-0.jitdi:8888
              - http://CENTRAL-0.jitdi:8888/
        """);
    assertEquals(6, twice.line());
    assertTrue(twice.getMessage().contains("listed twice"), twice.getMessage());

    ConfigException bad = error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          jit.local:
            urls: [http://central-0.jitdi:8888, "ftp://central-1.jitdi"]
        """);
    assertTrue(bad.getMessage().contains("upstreams.jit.local.urls"), bad.getMessage());
    assertTrue(bad.getMessage().contains("https://"), bad.getMessage());
  }

  @Test
  void upstreamKeysAreRegistryHosts() {
    ConfigException e = error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          Docker Hub: {url: https://registry-1.docker.io}
        """);
    assertTrue(e.getMessage().contains("lowercase registry host"), e.getMessage());
  }

  @Test
  void cacheAndUpstreamsAreRequired() {
    assertTrue(error("upstreams: {docker.io: {url: https://x.io}}\n").getMessage().contains("'cache' is required"));
    assertTrue(error("cache: {dir: ./d, maxSize: 1GiB}\n").getMessage().contains("'upstreams' is required"));
    assertTrue(error("").getMessage().contains("empty"));
  }

  @Test
  void duplicateKeysAreErrors() {
    ConfigException e = error("""
        cache: {dir: ./data, maxSize: 1GiB}
        upstreams:
          docker.io: {url: https://registry-1.docker.io}
          docker.io: {url: https://mirror.gcr.io}
        """);
    assertEquals(4, e.line());
    assertTrue(e.getMessage().contains("duplicate key"), e.getMessage());
  }

  @Test
  void brokenYamlGivesALine() {
    ConfigException e = error("cache:\n  dir: [unclosed\nupstreams: {}\n");
    assertTrue(e.line() > 0, e.getMessage());
    assertTrue(e.getMessage().contains("not valid YAML"), e.getMessage());
  }

  @Test
  void aMissingFileSaysHowToPassOne() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigLoader.withSystemEnv().load(dir.resolve("nope.yaml")));
    assertTrue(e.getMessage().contains("--config"), e.getMessage());
  }

  @Test
  void theBuiltInDefaultsAreTheShippedConfigs() throws IOException {
    Path onlyRules = write("""
        apiVersion: jitdi.zsm.io/v1alpha1
        kind: Image
        spec: {match: "a/{x}:{t}", baseImage: "busybox"}
        """);
    JitdiConfig defaults = new ConfigLoader(name -> null).load(onlyRules);
    JitdiConfig shipped = new ConfigLoader(name -> null).load(Path.of("conf/jitdi.yaml"));
    assertEquals(shipped.upstreams(), defaults.upstreams());
    assertEquals(shipped.cache(), defaults.cache());
    assertEquals(shipped.server(), defaults.server());
    assertEquals(1, defaults.images().size());
  }

  @Test
  void theShippedConfigLoads() {
    Path shipped = Path.of("conf/jitdi.yaml");
    JitdiConfig config = new ConfigLoader(name -> null).load(shipped);
    assertTrue(config.upstreams().containsKey("docker.io"));
    assertEquals("docker.io", config.defaultUpstream());
  }
}
