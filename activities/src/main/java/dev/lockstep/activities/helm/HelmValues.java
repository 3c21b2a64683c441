package dev.lockstep.activities.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The user-supplied values of an upgrade, merged as {@code helm upgrade} merges them: the last
 * release's values when asked to reuse them (or when no new values are given and not asked to
 * reset), then each {@code -f} file in order, then each {@code --set}. What this returns is both
 * what the chart is rendered with and what the new revision records ({@code helm get values}).
 */
public final class HelmValues {
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  static final ObjectMapper JSON = new ObjectMapper();

  private HelmValues() {}

  /** How the last release's values are treated, as Helm's flags of the same names. */
  public enum Reuse {
    /** Helm's default: reuse them only when no new values are given. */
    DEFAULT,
    REUSE_VALUES,
    RESET_VALUES
  }

  /**
   * The merged user-supplied values.
   *
   * @param previous the last release's user-supplied values (empty for a first install)
   * @param valuesFiles the contents of the {@code -f} files, in order, with their names for errors
   * @param sets the {@code --set} arguments, in order
   * @throws IllegalArgumentException with one line naming the bad file or argument
   */
  public static ObjectNode merge(
      ObjectNode previous, Map<String, String> valuesFiles, List<String> sets, Reuse reuse) {
    boolean newValues = !valuesFiles.isEmpty() || !sets.isEmpty();
    ObjectNode merged =
        switch (reuse) {
          case REUSE_VALUES -> previous.deepCopy();
          case RESET_VALUES -> JsonNodeFactory.instance.objectNode();
          case DEFAULT -> newValues ? JsonNodeFactory.instance.objectNode() : previous.deepCopy();
        };
    for (Map.Entry<String, String> file : valuesFiles.entrySet()) {
      JsonNode parsed;
      try {
        parsed = YAML.readTree(file.getValue());
      } catch (IOException e) {
        throw new IllegalArgumentException(
            "values file " + file.getKey() + " is not YAML: " + firstLine(e.getMessage()));
      }
      if (parsed == null || parsed.isNull() || parsed.isMissingNode()) {
        continue;
      }
      if (!(parsed instanceof ObjectNode map)) {
        throw new IllegalArgumentException(
            "values file "
                + file.getKey()
                + " must be a map of values, not a "
                + parsed.getNodeType());
      }
      deepMerge(merged, map);
    }
    for (String set : sets) {
      applySet(merged, set);
    }
    return sorted(merged);
  }

  /** {@code dst} with {@code src} merged in: maps merged key by key, anything else replaced. */
  static void deepMerge(ObjectNode dst, ObjectNode src) {
    Iterator<Map.Entry<String, JsonNode>> fields = src.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      JsonNode existing = dst.get(field.getKey());
      if (existing instanceof ObjectNode e && field.getValue() instanceof ObjectNode s) {
        deepMerge(e, s);
      } else {
        dst.set(field.getKey(), field.getValue().deepCopy());
      }
    }
  }

  /**
   * One {@code --set} argument: {@code a.b=v[,c=w]...}, values typed as Helm types them ({@code
   * true}/{@code false}, {@code null}, integers; the rest strings); {@code \,} and {@code \.}
   * escape.
   */
  static void applySet(ObjectNode values, String set) {
    for (String pair : split(set, ',')) {
      int eq = indexOfUnescaped(pair, '=');
      if (eq <= 0) {
        throw new IllegalArgumentException(
            "--set " + set + ": expected key=value (e.g. image.tag=1.19.0)");
      }
      String key = pair.substring(0, eq);
      if (key.contains("[")) {
        throw new IllegalArgumentException(
            "--set " + set + ": list indexes are not supported; put lists in a -f values file");
      }
      List<String> path = split(key, '.');
      ObjectNode node = values;
      for (int i = 0; i < path.size() - 1; i++) {
        String part = unescape(path.get(i));
        JsonNode child = node.get(part);
        if (!(child instanceof ObjectNode)) {
          child = node.putObject(part);
        }
        node = (ObjectNode) child;
      }
      String last = unescape(path.get(path.size() - 1));
      String raw = unescape(pair.substring(eq + 1));
      if (raw.equals("true") || raw.equals("false")) {
        node.put(last, Boolean.parseBoolean(raw));
      } else if (raw.equals("null")) {
        node.putNull(last);
      } else if (raw.matches("-?(0|[1-9][0-9]{0,17})")) {
        long number = Long.parseLong(raw);
        // as Jackson reads the same number back from the stored record
        if (number == (int) number) {
          node.put(last, (int) number);
        } else {
          node.put(last, number);
        }
      } else {
        node.put(last, raw);
      }
    }
  }

  private static List<String> split(String text, char separator) {
    List<String> parts = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\\' && i + 1 < text.length()) {
        current.append(c).append(text.charAt(++i));
      } else if (c == separator) {
        parts.add(current.toString());
        current.setLength(0);
      } else {
        current.append(c);
      }
    }
    parts.add(current.toString());
    return parts;
  }

  private static int indexOfUnescaped(String text, char wanted) {
    for (int i = 0; i < text.length(); i++) {
      if (text.charAt(i) == '\\') {
        i++;
      } else if (text.charAt(i) == wanted) {
        return i;
      }
    }
    return -1;
  }

  private static String unescape(String text) {
    return text.replaceAll("\\\\(.)", "$1");
  }

  /** A copy with map keys in Go's order (sorted), as Go writes a map. */
  static ObjectNode sorted(ObjectNode node) {
    ObjectNode out = JsonNodeFactory.instance.objectNode();
    Map<String, JsonNode> fields = new TreeMap<>();
    node.fields().forEachRemaining(f -> fields.put(f.getKey(), f.getValue()));
    fields.forEach((k, v) -> out.set(k, v instanceof ObjectNode o ? sorted(o) : v.deepCopy()));
    return out;
  }

  /** The values as YAML, for a values file handed to Helm. */
  static String toYaml(ObjectNode values) {
    try {
      return YAML.writeValueAsString(values);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static String firstLine(String message) {
    if (message == null) {
      return "";
    }
    int nl = message.indexOf('\n');
    return nl < 0 ? message : message.substring(0, nl);
  }
}
