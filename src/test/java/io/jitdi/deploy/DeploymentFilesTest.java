package io.jitdi.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.jitdi.config.ConfigLoader;
import io.jitdi.config.JitdiConfig;
import io.jitdi.jit.RuleSet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docker/Dockerfile and docker/k8s/ agree with each other and with the jar: the image's command line and paths, the
 * configs (which must load), the ports, probes and volumes. No cluster is needed: every document is parsed.
 */
class DeploymentFilesTest {
  private static final Path DOCKER = Path.of("docker");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<JsonNode> DOCS = new ArrayList<>();
  private static String dockerfile;

  @TempDir
  Path tmp;

  @BeforeAll
  static void parse() throws IOException {
    dockerfile = Files.readString(DOCKER.resolve("Dockerfile"));
    List<Path> files;
    try (Stream<Path> s = Stream.concat(Files.list(DOCKER.resolve("k8s")), Files.list(DOCKER.resolve("k8s-uninstall")))) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    for (Path f : files) {
      try (var values = yaml.readerFor(JsonNode.class).readValues(f.toFile())) {
        while (values.hasNext()) {
          JsonNode doc = (JsonNode) values.next();
          if (doc != null && !doc.isNull()) {
            DOCS.add(doc);
          }
        }
      }
    }
  }

  private static JsonNode doc(String kind, String name) {
    return DOCS.stream().filter(d -> d.path("kind").asText().equals(kind)
        && d.path("metadata").path("name").asText().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no " + kind + " " + name + " in docker/k8s"));
  }

  /** The JSON array of a Dockerfile instruction in exec form, e.g. CMD ["--config", "..."]. */
  private static List<String> execForm(String instruction) throws IOException {
    Matcher m = Pattern.compile("(?m)^" + instruction + " (\\[.*\\])$").matcher(dockerfile);
    assertTrue(m.find(), instruction + " in exec form");
    List<String> out = new ArrayList<>();
    JSON.readTree(m.group(1)).forEach(n -> out.add(n.asText()));
    return out;
  }

  private static JsonNode container(JsonNode workload, String name) {
    for (String list : List.of("containers", "initContainers")) {
      for (JsonNode c : workload.path("spec").path("template").path("spec").path(list)) {
        if (c.path("name").asText().equals(name)) {
          return c;
        }
      }
    }
    throw new AssertionError("no container " + name);
  }

  private static String mountPath(JsonNode container, String volume) {
    for (JsonNode m : container.path("volumeMounts")) {
      if (m.path("name").asText().equals(volume)) {
        return m.path("mountPath").asText();
      }
    }
    throw new AssertionError(container.path("name").asText() + " does not mount " + volume);
  }

  private static JsonNode volume(JsonNode workload, String name) {
    for (JsonNode v : workload.path("spec").path("template").path("spec").path("volumes")) {
      if (v.path("name").asText().equals(name)) {
        return v;
      }
    }
    throw new AssertionError("no volume " + name);
  }

  /** Loads the jitdi.yaml of a ConfigMap the way the jar does (--config on a file), rules included. */
  private JitdiConfig config(String configMap) throws IOException {
    return config(configMap, Map.of());
  }

  /** The config in {@code configMap}, loaded by the real loader with {@code env} as the environment. */
  private JitdiConfig config(String configMap, Map<String, String> env) throws IOException {
    String yaml = doc("ConfigMap", configMap).path("data").path("jitdi.yaml").asText();
    Path file = Files.writeString(tmp.resolve(configMap + ".yaml"), yaml);
    JitdiConfig config = new ConfigLoader(env::get).load(file);
    RuleSet.compile(config.images(), config.upstreams().keySet(), config.jit());
    return config;
  }

  @Test
  void theImageRunsTheJarWithItsConfigAsANonRootUserAndExposesTheRegistry() throws IOException {
    List<String> entrypoint = execForm("ENTRYPOINT");
    assertEquals(List.of("-jar", "/opt/jitdi/jitdi.jar"), entrypoint.subList(entrypoint.size() - 2, entrypoint.size()));
    assertEquals(List.of("--config", "/etc/jitdi/jitdi.yaml"), execForm("CMD"));
    assertTrue(dockerfile.contains("COPY docker/jitdi.yaml /etc/jitdi/jitdi.yaml"));
    assertTrue(dockerfile.contains("COPY --from=build /src/target/jitdi.jar /opt/jitdi/jitdi.jar"));
    assertTrue(dockerfile.contains("\nEXPOSE 8888\n") && dockerfile.contains("\nVOLUME /var/cache/jitdi\n"));
    assertTrue(dockerfile.contains("\nUSER 65532:65532\n"));
    assertTrue(Pattern.compile("(?s)HEALTHCHECK .*/healthz").matcher(dockerfile).find());
    for (Matcher from = Pattern.compile("(?m)^FROM (\\S+)").matcher(dockerfile); from.find(); ) {
      assertFalse(from.group(1).endsWith(":latest") || !from.group(1).contains(":"), "pinned base: " + from.group(1));
    }
  }

  @Test
  void theImagesOwnConfigLoadsAndListensOnTheExposedPortWithTheCacheOnTheVolume() throws IOException {
    JitdiConfig config = new ConfigLoader(Map.<String, String>of()::get).load(DOCKER.resolve("jitdi.yaml"));
    assertEquals(8888, config.server().listen().port());
    assertEquals(Path.of("/var/cache/jitdi"), config.cache().dir());
  }

  @Test
  void theNodeDaemonSetRunsOnGpuNodesNextToContainerd() throws IOException {
    JsonNode ds = doc("DaemonSet", "jitdi-node");
    JsonNode pod = ds.path("spec").path("template").path("spec");
    assertFalse(pod.path("nodeSelector").isEmpty(), "GPU nodes only");
    assertFalse(pod.path("tolerations").isEmpty(), "tolerates the GPU taint");
    assertTrue(pod.path("hostNetwork").asBoolean(), "containerd reaches it on 127.0.0.1");
    assertNotNull(doc("PriorityClass", pod.path("priorityClassName").asText()));
    assertEquals(1, ds.path("spec").path("updateStrategy").path("rollingUpdate").path("maxUnavailable").asInt());
    assertTrue(pod.path("terminationGracePeriodSeconds").asInt() >= 60, "fills get time to finish");

    JsonNode jitdi = container(ds, "jitdi");
    assertEquals(execForm("CMD"), JSON.convertValue(jitdi.path("args"), List.class), "the image's own command");
    assertTrue(jitdi.path("securityContext").path("runAsNonRoot").asBoolean());
    assertFalse(jitdi.path("resources").path("requests").isEmpty() || jitdi.path("resources").path("limits").isEmpty());

    // the config is mounted where --config points, from a ConfigMap that has that file
    String configPath = execForm("CMD").get(1);
    assertEquals(Path.of(configPath).getParent().toString(), mountPath(jitdi, "config"));
    String configMap = volume(ds, "config").path("configMap").path("name").asText();
    JitdiConfig config = config(configMap);

    // probes on the ports the config listens on
    assertEquals(config.server().listen().port(), jitdi.path("readinessProbe").path("httpGet").path("port").asInt());
    assertEquals("/readyz", jitdi.path("readinessProbe").path("httpGet").path("path").asText());
    assertEquals("127.0.0.1", config.server().listen().host(), "the registry port is the node's own");
    assertEquals("127.0.0.1", jitdi.path("readinessProbe").path("httpGet").path("host").asText());
    int metricsPort = config.server().metricsListen().orElseThrow().port();
    assertEquals(metricsPort, jitdi.path("livenessProbe").path("httpGet").path("port").asInt());
    assertEquals("/healthz", jitdi.path("livenessProbe").path("httpGet").path("path").asText());

    // the cache is a hostPath mounted at cache.dir
    assertEquals(config.cache().dir().toString(), mountPath(jitdi, "cache"));
    assertFalse(volume(ds, "cache").path("hostPath").path("path").asText().isEmpty());

    // the init container writes hosts.toml into the node's certs.d, pointing containerd at the registry port
    JsonNode init = container(ds, "containerd-config");
    String script = String.join(" ", JSON.convertValue(init.path("args"), List.class));
    assertTrue(script.contains("jitdi.jar containerd-config"), script);
    assertTrue(script.contains("--dir " + mountPath(init, "certs-d")), script);
    assertTrue(script.contains("--mirror http://127.0.0.1:" + config.server().listen().port()), script);
    assertEquals("/etc/containerd/certs.d", volume(ds, "certs-d").path("hostPath").path("path").asText());
    for (String registry : config.upstreams().keySet()) {
      assertTrue(script.contains(registry), "containerd is pointed at jitdi for " + registry);
    }
  }

  @Test
  void theNodeTierSpreadsJitNamesAndChosenRegistriesOverTheCentralReplicas() throws IOException {
    JitdiConfig node = config("jitdi-node");
    JsonNode central = doc("StatefulSet", "jitdi-central");
    JsonNode service = doc("Service", "jitdi-central");
    // the S3 keys come from the Secret, through the environment the config expands
    Map<String, String> env = new java.util.HashMap<>();
    JsonNode secret = doc("Secret", "jitdi-s3");
    for (JsonNode variable : container(central, "jitdi").path("env")) {
      JsonNode ref = variable.path("valueFrom").path("secretKeyRef");
      assertEquals("jitdi-s3", ref.path("name").asText(), variable.toString());
      assertTrue(secret.path("stringData").has(ref.path("key").asText()), "the Secret has " + ref);
      env.put(variable.path("name").asText(), "from-secret");
    }
    JitdiConfig centralConfig = config(volume(central, "config").path("configMap").path("name").asText(), env);
    var s3 = centralConfig.cache().s3().orElseThrow(() -> new AssertionError("the central tier has a bucket"));
    assertEquals("from-secret", s3.accessKeyId().orElseThrow());
    assertEquals("from-secret", s3.secretAccessKey().orElseThrow());

    // a headless Service names each replica; the nodes list exactly those names
    assertEquals("None", service.path("spec").path("clusterIP").asText(), "headless");
    assertEquals(service.path("metadata").path("name").asText(), central.path("spec").path("serviceName").asText());
    assertEquals(central.path("spec").path("selector").path("matchLabels"), service.path("spec").path("selector"));
    int replicas = central.path("spec").path("replicas").asInt();
    assertTrue(replicas >= 2, "several replicas: " + replicas);
    int port = service.path("spec").path("ports").get(0).path("port").asInt();
    assertEquals(centralConfig.server().listen().port(), port);
    List<java.net.URI> expected = new ArrayList<>();
    for (int i = 0; i < replicas; i++) {
      expected.add(java.net.URI.create("http://jitdi-central-" + i + ".jitdi-central."
          + service.path("metadata").path("namespace").asText() + ".svc.cluster.local:" + port));
    }
    assertTrue(node.images().isEmpty(), "JIT rules live only on the central tier");
    assertFalse(centralConfig.images().isEmpty());
    var jit = node.upstreams().get("jit.local");
    assertEquals(expected, jit.urls(), "jit.local is spread over every replica");
    assertTrue(jit.sendNs(), "the central tier routes by ?ns=");
    for (var upstream : node.upstreams().values()) {
      if (expected.contains(upstream.url())) {
        assertEquals(expected, upstream.urls(), upstream.key() + " lists every replica");
        assertTrue(upstream.sendNs(), upstream.key() + " goes through the central tier with ?ns=");
        assertTrue(upstream.key().equals("jit.local") || centralConfig.upstreams().containsKey(upstream.key()),
            "the central tier knows " + upstream.key());
      }
    }
    // each replica's hot tier is a volume of its own
    assertEquals("cache", central.path("spec").path("volumeClaimTemplates").get(0).path("metadata").path("name")
        .asText());
    assertEquals(centralConfig.cache().dir().toString(), mountPath(container(central, "jitdi"), "cache"));
  }

  @Test
  void everyObjectIsInTheJitdiNamespaceAndMonitoringSelectsRealPods() {
    for (JsonNode d : DOCS) {
      String kind = d.path("kind").asText();
      if (!List.of("Namespace", "PriorityClass").contains(kind)
          && !d.path("metadata").path("name").asText().equals("jitdi-containerd-config-remove")) {
        assertEquals("jitdi", d.path("metadata").path("namespace").asText(), kind + " " + d.path("metadata"));
      }
    }
    JsonNode nodeLabels = doc("DaemonSet", "jitdi-node").path("spec").path("template").path("metadata").path("labels");
    assertEquals(nodeLabels, doc("ServiceMonitor", "jitdi-node").path("spec").path("selector").path("matchLabels"));
    assertEquals(nodeLabels, doc("Service", "jitdi-node").path("spec").path("selector"));
    JsonNode centralLabels = doc("StatefulSet", "jitdi-central").path("spec").path("template").path("metadata")
        .path("labels");
    assertEquals(centralLabels, doc("PodMonitor", "jitdi-central").path("spec").path("selector").path("matchLabels"));
  }

  @Test
  void theUninstallDaemonSetRemovesWhatTheInitContainerWrote() {
    JsonNode remove = doc("DaemonSet", "jitdi-containerd-config-remove");
    List<?> command = JSON.convertValue(container(remove, "remove").path("command"), List.class);
    assertTrue(command.contains("--remove") && command.contains("containerd-config"));
    String installed = String.join(" ", JSON.convertValue(container(doc("DaemonSet", "jitdi-node"),
        "containerd-config").path("args"), List.class));
    String registries = (String) command.get(command.indexOf("--registries") + 1);
    assertTrue(installed.contains("--registries " + registries), "the same registries: " + registries);
  }
}
