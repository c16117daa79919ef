package io.jitdi.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's "Quickstart on loopback", run exactly as a new user pastes it.
 *
 * <p>The first {@code ```sh} block after the heading is run verbatim with bash ({@code set -euo pipefail} prepended),
 * with one substitution: the README's placeholder jar path becomes {@code target/jitdi.jar}. Its directory comes from
 * {@code $QS}, which this test points at a temp dir. The script runs as the leader of its own process group (setsid),
 * and the whole group is stopped by its id at the end, pass or fail, so the servers it starts in the background never
 * outlive the test.
 *
 * <p>The quickstart listens on fixed ports (5000, 8888). As root, it runs in a private network namespace with only a
 * loopback interface, so a user's own registry on 5000 neither breaks the test nor gets its traffic, and the
 * quickstart cannot reach the internet. Elsewhere (or with {@code -Djitdi.quickstart.hostNetwork=true}) it runs on the
 * host's loopback, and the test first checks that those ports are free, failing with a clear message if not.
 */
class QuickstartIT {
  static final Path README = Path.of("README.md").toAbsolutePath();
  static final String HEADING = "## Quickstart on loopback";
  /** The jar path as the README writes it: the only text this test replaces. */
  static final String README_JAR = "/path/to/jitdi/target/jitdi.jar";
  static final Duration SCRIPT_TIMEOUT = Duration.ofMinutes(5);

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path dir;

  @Test
  void quickstartRunsAsWrittenAndDoesWhatItPromises() throws Exception {
    Tools.require();
    assertTrue(Files.isRegularFile(Jitdi.JAR), Jitdi.JAR + " is missing: run `mvn -B package -DskipTests` first");

    String block = quickstartBlock(Files.readString(README));
    assertTrue(block.contains("QS=${QS:-"), "the quickstart must take its directory from $QS (QS=${QS:-...}),"
        + " so that this test can run it in a temp dir without touching the user's; block:\n" + block);
    int placeholders = count(block, README_JAR);
    assertEquals(1, placeholders, "the quickstart must name the jar exactly once as " + README_JAR
        + " (the only text this test substitutes); found " + placeholders + " times in:\n" + block);
    String jar = Jitdi.JAR.toString();
    String body = block.replace(README_JAR, jar);
    assertEquals(count(block, jar) + 1, count(body, jar), "the jar path is substituted exactly once");
    assertEquals(block.length() - README_JAR.length() + jar.length(), body.length(), "and nothing else changes");
    assertTrue(!body.contains("/path/to/"), "another placeholder path is left in the quickstart:\n" + body);
    String script = "set -euo pipefail\n" + body;

    assertEveryServerIsAwaited(block);

    // What the README promises, read from its comments, so the test checks the text a user reads.
    int promisedBlobGets = promisedBlobGets(block);
    assertEquals(2, promisedBlobGets, "the pushed image is one config and one layer: 2 upstream blob GETs");
    Map<String, Integer> promisedCounts = promisedCacheCounts(block);

    Path qs = dir.resolve("qs");
    Path scriptFile = dir.resolve("quickstart.sh");
    Files.writeString(scriptFile, script);
    Path stdout = dir.resolve("stdout.txt");
    Path stderr = dir.resolve("stderr.txt");

    List<String> command = new ArrayList<>(List.of("setsid"));
    if (privateNetwork()) {
      command.addAll(List.of("unshare", "--net", "sh", "-c", "ip link set lo up && exec bash \"$0\"",
          scriptFile.toString()));
    } else {
      checkPortsFree(block);
      command.addAll(List.of("bash", scriptFile.toString()));
    }
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile())
        .redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
    pb.environment().put("QS", qs.toString());
    Process p = pb.start();
    long group = p.pid(); // setsid execs in place (the JVM's child is no group leader): its pid is the group's id
    awaitOwnGroup(p);
    int exit;
    List<String> leftovers;
    try {
      if (!p.waitFor(SCRIPT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        fail("the quickstart did not finish in " + SCRIPT_TIMEOUT + "\n" + evidence(stdout, stderr, qs));
      }
      exit = p.exitValue();
      // The quickstart ends by stopping the servers it started: give them time to exit on their own.
      leftovers = exit == 0 ? awaitGroupGone(group, Duration.ofSeconds(30)) : List.of();
    } finally {
      stopGroup(group);
    }

    String out = Files.readString(stdout);
    assertEquals(0, exit, "the quickstart failed (exit " + exit + ")\n" + evidence(stdout, stderr, qs));
    assertTrue(Files.isRegularFile(qs.resolve("registry.log")), "the quickstart did not work in $QS=" + qs);
    assertEquals(List.of(), leftovers, "the quickstart left processes running after its last line");

    // 1. grep -c printed the promised number, and the upstream's access log agrees: each blob fetched once.
    List<String> numbers = out.lines().filter(l -> l.matches("\\d+")).toList();
    assertEquals(List.of(String.valueOf(promisedBlobGets)), numbers,
        "the quickstart's grep -c output\n" + evidence(stdout, stderr, qs));
    Map<String, Integer> getsPerDigest = upstreamBlobGets(qs.resolve("registry.log"));

    // 2. the pulled image is the pushed one, byte for byte, both times.
    Path copy1 = qs.resolve("copy1");
    Path copy2 = qs.resolve("copy2");
    byte[] manifest = Files.readAllBytes(copy1.resolve("manifest.json"));
    assertArrayEquals(manifest, Files.readAllBytes(copy2.resolve("manifest.json")), "copy2's manifest");
    JsonNode index = new ObjectMapper().readTree(qs.resolve("img/index.json").toFile());
    assertEquals(index.path("manifests").path(0).path("digest").asText(), "sha256:" + sha256(manifest),
        "the manifest pulled through jitdi is not the one pushed to the upstream");
    JsonNode m = new ObjectMapper().readTree(manifest);
    String config = m.path("config").path("digest").asText();
    assertEquals(1, m.path("layers").size(), "layers in " + new String(manifest, StandardCharsets.UTF_8));
    String layer = m.path("layers").path(0).path("digest").asText();
    for (Path copy : List.of(copy1, copy2)) {
      for (String digest : List.of(config, layer)) {
        Path blob = copy.resolve(digest.substring("sha256:".length()));
        assertEquals(digest, "sha256:" + sha256(Files.readAllBytes(blob)), blob + " does not match its digest");
      }
    }
    assertEquals(Map.of(config, 1, layer, 1), getsPerDigest,
        "upstream GETs per blob (from registry.log): each of config and layer exactly once");
    JsonNode cfg = new ObjectMapper().readTree(copy1.resolve(config.substring("sha256:".length())).toFile());
    assertEquals("[\"/bin/sh\"]", cfg.path("config").path("Cmd").toString(), "the image's command");
    assertLayerHoldsBusybox(copy1.resolve(layer.substring("sha256:".length())));

    // 3. the metrics lines show what the README says they show.
    Map<String, Integer> counts = new HashMap<>();
    Matcher metric = Pattern.compile("(?m)^jitdi_cache_requests_total\\{kind=\"(\\w+)\",result=\"(\\w+)\"} "
        + "(\\d+)\\.0$").matcher(out);
    while (metric.find()) {
      counts.put(metric.group(1) + " " + metric.group(2), Integer.parseInt(metric.group(3)));
    }
    for (Map.Entry<String, Integer> e : promisedCounts.entrySet()) {
      assertEquals(e.getValue(), counts.get(e.getKey()), "jitdi_cache_requests_total " + e.getKey()
          + " (the README promises " + promisedCounts + ")\n" + out);
    }
  }

  /** The first {@code ```sh} block after the quickstart heading, without its fences. */
  static String quickstartBlock(String readme) {
    List<String> lines = readme.lines().toList();
    List<Integer> headings = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith(HEADING)) {
        headings.add(i);
      }
    }
    if (headings.size() != 1) {
      fail("README.md must have exactly one heading starting with '" + HEADING + "', found " + headings.size()
          + ": the quickstart moved; update QuickstartIT");
    }
    int i = headings.get(0) + 1;
    while (i < lines.size() && !lines.get(i).equals("```sh")) {
      if (lines.get(i).startsWith("#") && lines.get(i).matches("#{1,6} .*")) {
        fail("no ```sh block between '" + HEADING + "' and the next heading '" + lines.get(i)
            + "': the quickstart changed shape; update QuickstartIT");
      }
      if (lines.get(i).startsWith("```")) {
        fail("the first fenced block after '" + HEADING + "' is '" + lines.get(i) + "', not ```sh");
      }
      i++;
    }
    if (i == lines.size()) {
      fail("no ```sh block after '" + HEADING + "'");
    }
    StringBuilder block = new StringBuilder();
    for (i++; i < lines.size(); i++) {
      if (lines.get(i).equals("```")) {
        return block.toString();
      }
      if (lines.get(i).startsWith("```")) {
        fail("the quickstart's ```sh block is not closed before '" + lines.get(i) + "'");
      }
      block.append(lines.get(i)).append('\n');
    }
    return fail("the quickstart's ```sh block is never closed");
  }

  /**
   * Each server the quickstart starts in the background is followed by a bounded wait until its {@code /v2/} answers.
   * A run cannot always show a missing wait (the registry usually wins its race against the umoci steps), so the text
   * is checked too.
   */
  static void assertEveryServerIsAwaited(String block) {
    Pattern wait = Pattern.compile(
        "^timeout \\d+ sh -c 'until curl -fso /dev/null 127\\.0\\.0\\.1:(\\d+)/v2/; do sleep [0-9.]+; done'.*");
    List<String> lines = block.lines().toList();
    TreeSet<Integer> awaited = new TreeSet<>();
    int started = 0;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).matches(".* & \\w+=\\$!\\s*(#.*)?") || lines.get(i).matches(".*[^&]&\\s*(#.*)?")) {
        started++;
        Matcher m = i + 1 < lines.size() ? wait.matcher(lines.get(i + 1)) : null;
        if (m == null || !m.matches()) {
          fail("the quickstart starts a server in the background and does not wait for it on the next line with a"
              + " bounded curl loop on /v2/:\n" + lines.get(i) + "\n" + (i + 1 < lines.size() ? lines.get(i + 1) : ""));
        }
        awaited.add(Integer.parseInt(m.group(1)));
      }
    }
    assertEquals(2, started, "servers started in the background (docker-registry, jitdi)");
    assertEquals(new TreeSet<>(List.of(5000, 8888)), awaited, "ports waited for");
  }

  /** The number in the README's comment on its {@code grep -c} line ({@code # 2: config and layer...}). */
  static int promisedBlobGets(String block) {
    Matcher m = Pattern.compile("(?m)^grep -c '\"GET /v2/library/busybox/blobs/' registry.log +# (\\d+):")
        .matcher(block);
    if (!m.find()) {
      fail("the quickstart no longer counts upstream blob GETs with a '# N:' promise:\n" + block);
    }
    return Integer.parseInt(m.group(1));
  }

  /** The README's comment on the metrics line: {@code # blob: miss 2, hit 2; manifest: miss 1, hit 1}. */
  static Map<String, Integer> promisedCacheCounts(String block) {
    Matcher line = Pattern.compile("(?m)^curl .*/metrics .*jitdi_cache_requests_total.*#(.*)$").matcher(block);
    if (!line.find()) {
      fail("the quickstart no longer shows jitdi_cache_requests_total with a promise in a comment:\n" + block);
    }
    Map<String, Integer> promised = new LinkedHashMap<>();
    Matcher kind = Pattern.compile("(\\w+): miss (\\d+), hit (\\d+)").matcher(line.group(1));
    while (kind.find()) {
      promised.put(kind.group(1) + " miss", Integer.parseInt(kind.group(2)));
      promised.put(kind.group(1) + " hit", Integer.parseInt(kind.group(3)));
    }
    assertEquals(Map.of("blob miss", 2, "blob hit", 2, "manifest miss", 1, "manifest hit", 1), promised,
        "what the README promises for two pulls of a one-layer image: '" + line.group(1).trim() + "'");
    return promised;
  }

  /** {@code "GET /v2/library/busybox/blobs/<digest>"} lines in the upstream's access log, per digest. */
  static Map<String, Integer> upstreamBlobGets(Path log) throws IOException {
    Map<String, Integer> gets = new HashMap<>();
    Matcher m = Pattern.compile("\"GET /v2/library/busybox/blobs/(sha256:[0-9a-f]{64})[ ?]")
        .matcher(Files.readString(log));
    while (m.find()) {
      gets.merge(m.group(1), 1, Integer::sum);
    }
    return gets;
  }

  static void assertLayerHoldsBusybox(Path layer) throws IOException {
    byte[] busybox = Files.readAllBytes(Tools.which("busybox"));
    byte[] found = null;
    String shTarget = null;
    try (InputStream in = Files.newInputStream(layer);
        TarArchiveInputStream tar = new TarArchiveInputStream(new GzipCompressorInputStream(in))) {
      for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
        String name = e.getName().replaceFirst("^\\./", "");
        if (name.equals("bin/busybox")) {
          found = tar.readAllBytes();
        } else if (name.equals("bin/sh")) {
          shTarget = e.getLinkName();
        }
      }
    }
    assertTrue(found != null, "the layer has no bin/busybox");
    assertArrayEquals(busybox, found, "bin/busybox in the pulled layer differs from the one copied in");
    assertEquals("busybox", shTarget, "bin/sh should be a symlink to busybox");
  }

  /** A private network namespace needs root, unshare and ip; without them the script uses the host's loopback. */
  static boolean privateNetwork() {
    if (Boolean.getBoolean("jitdi.quickstart.hostNetwork") || !Tools.isRoot() || Tools.which("unshare") == null
        || Tools.which("ip") == null) {
      return false;
    }
    return Proc.exec(Duration.ofSeconds(10), Map.of(), List.of("unshare", "--net", "true")).exit() == 0;
  }

  /** Fails at once, naming the port and its owner, if a port the quickstart listens on is taken. */
  static void checkPortsFree(String block) {
    Matcher m = Pattern.compile("127\\.0\\.0\\.1:(\\d+)").matcher(block);
    TreeSet<Integer> ports = new TreeSet<>();
    while (m.find()) {
      ports.add(Integer.parseInt(m.group(1)));
    }
    assertTrue(ports.size() >= 2, "the quickstart names no loopback ports: " + ports);
    for (int port : ports) {
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      } catch (IOException e) {
        String owner = Tools.which("ss") == null ? "" : Proc.exec(Duration.ofSeconds(10), Map.of(),
            List.of("ss", "-Hltnp", "sport = :" + port)).output().trim();
        fail("port " + port + " on 127.0.0.1 is in use, and the README's quickstart listens on it (ports " + ports
            + "); free it (as root, and without -Djitdi.quickstart.hostNetwork=true, the test runs the quickstart in a"
            + " private network namespace instead). In use by: " + owner);
      }
    }
  }

  /** Waits until the script's process leads its own group (setsid has run), so the group can be stopped by id. */
  static void awaitOwnGroup(Process p) {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (System.nanoTime() < deadline) {
      try {
        String stat = Files.readString(Path.of("/proc", String.valueOf(p.pid()), "stat"));
        if (Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[2]) == p.pid()) {
          return;
        }
      } catch (IOException | RuntimeException e) {
        if (!p.isAlive()) {
          return; // ended already; its exit status tells the rest
        }
      }
      Proc.sleep(10);
    }
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
    fail("setsid did not put the quickstart in a process group of its own; cannot stop it by group");
  }

  /** Pids of live processes whose process group is {@code group}. */
  static List<Long> groupMembers(long group) {
    List<Long> members = new ArrayList<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) procs::iterator) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        try {
          String stat = Files.readString(p.resolve("stat"));
          // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          if (Long.parseLong(f[2]) == group && !f[0].equals("Z")) {
            members.add(Long.parseLong(name));
          }
        } catch (IOException | RuntimeException e) {
          // the process ended while we looked
        }
      }
    } catch (IOException e) {
      throw new AssertionError("cannot list /proc", e);
    }
    return members;
  }

  /** Waits for the group to empty; returns the command lines still in it after {@code timeout}. */
  static List<String> awaitGroupGone(long group, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline && !groupMembers(group).isEmpty()) {
      Proc.sleep(100);
    }
    return groupMembers(group).stream().map(pid -> pid + " " + ProcessHandle.of(pid)
        .flatMap(h -> h.info().commandLine()).orElse("?")).toList();
  }

  /** SIGTERM to the script's process group, then SIGKILL to whatever is still in it after 20 s. */
  static void stopGroup(long group) {
    if (groupMembers(group).isEmpty()) {
      return;
    }
    Proc.exec(Duration.ofSeconds(10), Map.of(), List.of("kill", "-TERM", "--", "-" + group));
    if (!awaitGroupGone(group, Duration.ofSeconds(20)).isEmpty()) {
      Proc.exec(Duration.ofSeconds(10), Map.of(), List.of("kill", "-KILL", "--", "-" + group));
      List<String> left = awaitGroupGone(group, Duration.ofSeconds(10));
      if (!left.isEmpty()) {
        System.err.println("QuickstartIT: still running after SIGKILL: " + left);
      }
    }
  }

  static String evidence(Path stdout, Path stderr, Path qs) {
    StringBuilder s = new StringBuilder();
    for (Path f : List.of(stdout, stderr, qs.resolve("registry.log"), qs.resolve("jitdi.log"))) {
      String text;
      try {
        text = Files.readString(f);
      } catch (IOException e) {
        text = "(none)";
      }
      s.append("---- ").append(f.getFileName()).append(" (tail) ----\n").append(Tools.tail(text, 3000)).append('\n');
    }
    return s.toString();
  }

  static int count(String s, String what) {
    int n = 0;
    for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }
}
