package io.jitdi.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Reads a YAML file into {@link ConfigNode} trees, one per document, keeping line numbers and expanding
 * {@code ${VAR}} / {@code ${VAR:-default}} in scalar values ({@code $$} is a literal {@code $}).
 */
public final class YamlDocuments {
  private static final YAMLFactory YAML = new YAMLFactory();

  private YamlDocuments() {}

  /** Every document of {@code file}; an empty file gives an empty list. */
  public static List<ConfigNode> read(Path file, UnaryOperator<String> env) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ConfigException(file, 0, "no such file; pass --config FILE or set JITDI_CONFIG");
    } catch (IOException e) {
      throw new ConfigException(file, 0, "cannot read: " + e.getMessage());
    }
    return parse(file, new StringReader(text), env);
  }

  static List<ConfigNode> parse(Path file, Reader reader, UnaryOperator<String> env) {
    List<ConfigNode> documents = new ArrayList<>();
    try (JsonParser parser = YAML.createParser(reader)) {
      JsonToken token;
      while ((token = parser.nextToken()) != null) {
        documents.add(node(file, parser, token, "", env));
      }
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      throw new ConfigException(file, at == null ? 0 : at.getLineNr(), "not valid YAML: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new ConfigException(file, 0, "cannot read: " + e.getMessage());
    }
    return documents;
  }

  private static ConfigNode node(Path file, JsonParser parser, JsonToken token, String path, UnaryOperator<String> env)
      throws IOException {
    int line = parser.currentTokenLocation().getLineNr();
    switch (token) {
      case START_OBJECT -> {
        ConfigNode.Mapping mapping = new ConfigNode.Mapping(file, line, path);
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String key = parser.currentName();
          int keyLine = parser.currentTokenLocation().getLineNr();
          JsonToken valueToken = parser.nextToken();
          mapping.put(key, node(file, parser, valueToken, mapping.child(key), env), keyLine);
        }
        return mapping;
      }
      case START_ARRAY -> {
        ConfigNode.Sequence sequence = new ConfigNode.Sequence(file, line, path);
        JsonToken item;
        int index = 0;
        while ((item = parser.nextToken()) != JsonToken.END_ARRAY) {
          sequence.add(node(file, parser, item, path + "[" + index++ + "]", env));
        }
        return sequence;
      }
      case VALUE_NULL -> {
        return new ConfigNode.Scalar(file, line, path, null);
      }
      default -> {
        String raw = parser.getText();
        try {
          return new ConfigNode.Scalar(file, line, path, expand(raw, env));
        } catch (IllegalArgumentException e) {
          throw new ConfigException(file, line, (path.isEmpty() ? "" : path + ": ") + e.getMessage());
        }
      }
    }
  }

  /** Expands {@code ${VAR}}, {@code ${VAR:-default}} and {@code $$} in {@code text}. */
  static String expand(String text, UnaryOperator<String> env) {
    if (text == null || text.indexOf('$') < 0) {
      return text;
    }
    StringBuilder out = new StringBuilder(text.length());
    int i = 0;
    while (i < text.length()) {
      char c = text.charAt(i);
      if (c == '$' && i + 1 < text.length() && text.charAt(i + 1) == '$') {
        out.append('$');
        i += 2;
      } else if (c == '$' && i + 1 < text.length() && text.charAt(i + 1) == '{') {
        int close = text.indexOf('}', i + 2);
        if (close < 0) {
          throw new IllegalArgumentException("unclosed ${ in \"" + text + "\"; write $${ for a literal ${");
        }
        String expression = text.substring(i + 2, close);
        int defaultAt = expression.indexOf(":-");
        String name = defaultAt >= 0 ? expression.substring(0, defaultAt) : expression;
        if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
          throw new IllegalArgumentException("${" + expression + "} does not name an environment variable");
        }
        String value = env.apply(name);
        if (value == null) {
          if (defaultAt < 0) {
            throw new IllegalArgumentException("environment variable " + name + " is not set; export it, or write ${"
                + name + ":-} for an empty default");
          }
          value = expression.substring(defaultAt + 2);
        }
        out.append(value);
        i = close + 1;
      } else {
        out.append(c);
        i++;
      }
    }
    return out.toString();
  }
}
