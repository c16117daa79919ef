package io.jitdi.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package rules, read from each {@code package-info.java} ("May import: ...") and checked against what the main
 * sources really refer to (imports and fully qualified names alike). A new dependency has to be written down in the
 * package's own {@code package-info.java} first, and no rule may make a cycle.
 */
class PackageRulesTest {
  private static final Path MAIN = Path.of("src/main/java");
  private static final String ROOT = "io.jitdi";
  private static final Pattern REFERENCE = Pattern.compile("\\bio\\.jitdi((?:\\.[a-z][a-z0-9]*)*)\\.[A-Z]");
  private static final Pattern MAY_IMPORT = Pattern.compile("May import:\\s*([^\\n]*(?:\\n\\s*\\*[^\\n]*)*?)\\.\\s*\\n",
      Pattern.DOTALL);
  private static final Pattern CODE = Pattern.compile("\\{@code (io\\.jitdi[a-z0-9.]*)}");
  private static final Pattern BLOCK_COMMENT = Pattern.compile("/\\*.*?\\*/", Pattern.DOTALL);
  private static final Pattern LINE_COMMENT = Pattern.compile("(?m)^\\s*//.*$");

  private static final Map<String, Set<String>> allowed = new TreeMap<>();
  private static final Map<String, Set<String>> actual = new TreeMap<>();
  private static final Map<String, List<String>> evidence = new TreeMap<>();

  @BeforeAll
  static void read() throws IOException {
    List<Path> files;
    try (Stream<Path> walk = Files.walk(MAIN)) {
      files = walk.filter(p -> p.toString().endsWith(".java")).sorted().toList();
    }
    for (Path file : files) {
      String pkg = MAIN.relativize(file.getParent()).toString().replace('/', '.');
      actual.computeIfAbsent(pkg, k -> new TreeSet<>());
      String text = Files.readString(file);
      if (file.getFileName().toString().equals("package-info.java")) {
        allowed.put(pkg, rules(file, text));
        continue;
      }
      String code = LINE_COMMENT.matcher(BLOCK_COMMENT.matcher(text).replaceAll("")).replaceAll("");
      Matcher m = REFERENCE.matcher(code);
      while (m.find()) {
        String target = ROOT + m.group(1);
        if (!target.equals(pkg)) {
          actual.get(pkg).add(target);
          evidence.computeIfAbsent(pkg + " -> " + target, k -> new ArrayList<>()).add(MAIN.relativize(file).toString());
        }
      }
    }
  }

  private static Set<String> rules(Path file, String text) {
    Matcher m = MAY_IMPORT.matcher(text);
    if (!m.find()) {
      fail(file + " has no \"May import: ...\" line");
    }
    String rule = m.group(1);
    if (rule.contains("nothing of jitdi")) {
      return Set.of();
    }
    if (rule.contains("any package of jitdi")) {
      return Set.of("*");
    }
    Set<String> packages = new TreeSet<>();
    Matcher code = CODE.matcher(rule);
    while (code.find()) {
      packages.add(code.group(1));
    }
    assertFalse(packages.isEmpty(), file + ": \"May import:\" names no package; write \"nothing of jitdi\"");
    return packages;
  }

  @Test
  void everyPackageSaysWhatItMayImport() {
    Set<String> missing = new TreeSet<>(actual.keySet());
    missing.removeAll(allowed.keySet());
    assertTrue(missing.isEmpty(), "packages without a package-info.java: " + missing);
    for (Map.Entry<String, Set<String>> e : allowed.entrySet()) {
      for (String target : e.getValue()) {
        assertTrue(target.equals("*") || actual.containsKey(target), e.getKey() + " may import " + target
            + ", which does not exist");
      }
    }
  }

  @Test
  void noPackageReferencesOneItMayNotImport() {
    List<String> violations = new ArrayList<>();
    for (Map.Entry<String, Set<String>> e : actual.entrySet()) {
      Set<String> may = allowed.getOrDefault(e.getKey(), Set.of());
      for (String target : e.getValue()) {
        if (!may.contains("*") && !may.contains(target)) {
          violations.add(e.getKey() + " -> " + target + " in " + evidence.get(e.getKey() + " -> " + target));
        }
      }
    }
    assertEquals(List.of(), violations, "references that the package's package-info.java does not allow");
  }

  @Test
  void theRulesHaveNoCycle() {
    Map<String, Set<String>> graph = new TreeMap<>();
    allowed.forEach((pkg, may) -> graph.put(pkg, may.contains("*") ? new TreeSet<>() : may));
    for (String start : graph.keySet()) {
      List<String> cycle = findCycle(graph, start, new ArrayList<>(), new TreeSet<>());
      assertTrue(cycle.isEmpty(), "the package rules have a cycle: " + String.join(" -> ", cycle));
    }
  }

  /** The path back to {@code node} if one exists from it (depth first), or an empty list. */
  private static List<String> findCycle(Map<String, Set<String>> graph, String node, List<String> path,
      Set<String> done) {
    if (path.contains(node)) {
      List<String> cycle = new ArrayList<>(path.subList(path.indexOf(node), path.size()));
      cycle.add(node);
      return cycle;
    }
    if (!done.add(node)) {
      return List.of();
    }
    path.add(node);
    for (String next : graph.getOrDefault(node, Set.of())) {
      List<String> cycle = findCycle(graph, next, path, done);
      if (!cycle.isEmpty()) {
        return cycle;
      }
    }
    path.remove(path.size() - 1);
    return List.of();
  }

  @Test
  void theCheckSeesRealReferences() {
    // guards the reader itself: jitdi's registry does use its cache, so an empty graph means the parsing broke
    assertTrue(actual.getOrDefault("io.jitdi.registry", Set.of()).contains("io.jitdi.cache"), actual.toString());
    assertTrue(allowed.get("io.jitdi.oci").isEmpty(), "oci imports nothing of jitdi");
  }
}
