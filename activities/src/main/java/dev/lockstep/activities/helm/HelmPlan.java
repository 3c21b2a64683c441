package dev.lockstep.activities.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * What an upgrade of a release will do, computed from the deployed revision and the new rendering:
 * the values diff, the diff of every object (a Secret's data never shown, only which keys change),
 * the workloads that move and in which order, and the chart's hooks. Read-only and deterministic:
 * the same inputs give the same plan, which is what {@code lockstep plan} prints and the upgrade
 * follows.
 */
public final class HelmPlan {
  private HelmPlan() {}

  /** What happens to one object. */
  public enum Change {
    CREATE,
    UPDATE,
    DELETE,
    UNCHANGED,
    /** The same name changes workload kind: deleted, then created (declared downtime). */
    REPLACE
  }

  /** One object of the release and what happens to it. */
  public record ObjectChange(String key, Change change, boolean workload, List<String> diff) {}

  /**
   * One workload that moves, in plan order: kind changes first (after the backup, as declared
   * downtime), then subcharts' workloads, then the chart's own, each in manifest order; removed
   * workloads last, after the rest is Ready.
   */
  public record WorkloadMove(
      String key, Change change, boolean subchart, boolean declaredDowntime) {}

  /** The whole plan. */
  public record Report(
      String release,
      String namespace,
      int fromRevision,
      String fromChart,
      String toChart,
      List<String> valuesDiff,
      List<String> chartDefaultsDiff,
      List<ObjectChange> objects,
      List<WorkloadMove> workloads,
      List<String> hooks) {

    /** The objects that are not workloads and change (applied before the workloads move). */
    public List<ObjectChange> otherChanges() {
      return objects.stream().filter(o -> !o.workload() && o.change() != Change.UNCHANGED).toList();
    }
  }

  /** The plan of upgrading {@code deployed} to {@code next}. */
  public static Report of(HelmRelease deployed, ChartRenderer.Rendered next) {
    Map<String, ChartRenderer.RenderedObject> before =
        byKey(ChartRenderer.objects(deployed.manifest()));
    Map<String, ChartRenderer.RenderedObject> after = byKey(next.objects());
    Map<String, String> workloadKindBefore = new LinkedHashMap<>();
    before.values().stream()
        .filter(ChartRenderer.RenderedObject::workload)
        .forEach(o -> workloadKindBefore.put(o.name(), o.kind()));

    List<ObjectChange> objects = new ArrayList<>();
    List<WorkloadMove> replaced = new ArrayList<>();
    List<WorkloadMove> subcharts = new ArrayList<>();
    List<WorkloadMove> own = new ArrayList<>();
    List<WorkloadMove> removed = new ArrayList<>();
    for (ChartRenderer.RenderedObject o : after.values()) {
      ChartRenderer.RenderedObject old = before.get(o.key());
      Change change;
      if (old == null) {
        String oldKind = o.workload() ? workloadKindBefore.get(o.name()) : null;
        change = oldKind != null ? Change.REPLACE : Change.CREATE;
      } else {
        change = old.object().equals(o.object()) ? Change.UNCHANGED : Change.UPDATE;
      }
      objects.add(new ObjectChange(o.key(), change, o.workload(), diff(old, o)));
      if (o.workload() && change != Change.UNCHANGED) {
        WorkloadMove move =
            new WorkloadMove(o.key(), change, o.fromSubchart(), change == Change.REPLACE);
        (change == Change.REPLACE ? replaced : o.fromSubchart() ? subcharts : own).add(move);
      }
    }
    for (ChartRenderer.RenderedObject old : before.values()) {
      if (after.containsKey(old.key())) {
        continue;
      }
      boolean replacedByKind =
          old.workload()
              && after.values().stream().anyMatch(n -> n.workload() && n.name().equals(old.name()));
      objects.add(new ObjectChange(old.key(), Change.DELETE, old.workload(), diff(old, null)));
      if (old.workload() && !replacedByKind) {
        removed.add(new WorkloadMove(old.key(), Change.DELETE, old.fromSubchart(), false));
      }
    }
    List<WorkloadMove> workloads = new ArrayList<>(replaced);
    workloads.addAll(subcharts);
    workloads.addAll(own);
    workloads.addAll(removed);

    List<String> hooks = new ArrayList<>();
    for (HelmRelease.Hook hook : next.hooks()) {
      hooks.add(
          String.join(",", hook.events())
              + " "
              + hook.kind()
              + "/"
              + hook.name()
              + (hook.weight() != 0 ? " (weight " + hook.weight() + ")" : ""));
    }
    return new Report(
        deployed.name(),
        deployed.namespace(),
        deployed.version(),
        deployed.chartName() + "-" + deployed.chartVersion(),
        next.chartName() + "-" + next.chartVersion(),
        valuesDiff(deployed.config(), next.config()),
        valuesDiff(
            objectOrEmpty(deployed.chart().get("values")),
            objectOrEmpty(next.chart().get("values"))),
        objects,
        workloads,
        hooks);
  }

  private static ObjectNode objectOrEmpty(JsonNode node) {
    return node instanceof ObjectNode o ? o : HelmValues.JSON.createObjectNode();
  }

  private static Map<String, ChartRenderer.RenderedObject> byKey(
      List<ChartRenderer.RenderedObject> objects) {
    Map<String, ChartRenderer.RenderedObject> map = new LinkedHashMap<>();
    objects.forEach(o -> map.put(o.key(), o));
    return map;
  }

  /**
   * Values as {@code path: value} lines, {@code ~ a.b: old -> new}, {@code + a.c: v}, {@code -
   * a.d}.
   */
  static List<String> valuesDiff(ObjectNode before, ObjectNode after) {
    Map<String, String> a = new LinkedHashMap<>();
    Map<String, String> b = new LinkedHashMap<>();
    flatten("", before, a);
    flatten("", after, b);
    List<String> lines = new ArrayList<>();
    for (String key : new TreeSet<>(union(a, b))) {
      String x = a.get(key);
      String y = b.get(key);
      if (x == null) {
        lines.add("+ " + key + ": " + y);
      } else if (y == null) {
        lines.add("- " + key + ": " + x);
      } else if (!x.equals(y)) {
        lines.add("~ " + key + ": " + x + " -> " + y);
      }
    }
    return lines;
  }

  private static TreeSet<String> union(Map<String, String> a, Map<String, String> b) {
    TreeSet<String> keys = new TreeSet<>(a.keySet());
    keys.addAll(b.keySet());
    return keys;
  }

  private static void flatten(String prefix, JsonNode node, Map<String, String> out) {
    if (node instanceof ObjectNode object && !object.isEmpty()) {
      Iterator<Map.Entry<String, JsonNode>> fields = object.fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> f = fields.next();
        flatten(prefix.isEmpty() ? f.getKey() : prefix + "." + f.getKey(), f.getValue(), out);
      }
    } else if (!prefix.isEmpty()) {
      out.put(prefix, node.isTextual() ? node.asText() : node.toString());
    }
  }

  /**
   * The diff of one object: changed lines with two lines of context. A Secret's values are never
   * shown: only which keys of {@code data}/{@code stringData} are added, removed or changed.
   */
  static List<String> diff(
      ChartRenderer.RenderedObject before, ChartRenderer.RenderedObject after) {
    ChartRenderer.RenderedObject any = after != null ? after : before;
    if (any.kind().equals("Secret")) {
      return secretDiff(before, after);
    }
    if (before != null && after != null && before.object().equals(after.object())) {
      return List.of();
    }
    String[] a = before == null ? new String[0] : before.yaml().split("\n");
    String[] b = after == null ? new String[0] : after.yaml().split("\n");
    return lineDiff(a, b, 2);
  }

  private static List<String> secretDiff(
      ChartRenderer.RenderedObject before, ChartRenderer.RenderedObject after) {
    Map<String, String> a = secretValues(before);
    Map<String, String> b = secretValues(after);
    List<String> lines = new ArrayList<>();
    for (String key : union(a, b)) {
      if (!a.containsKey(key)) {
        lines.add("+ data key " + key + " (value not shown)");
      } else if (!b.containsKey(key)) {
        lines.add("- data key " + key);
      } else if (!Objects.equals(a.get(key), b.get(key))) {
        lines.add("~ data key " + key + " changed (value not shown)");
      }
    }
    if (before != null && after != null) {
      ObjectNode x = (ObjectNode) before.object().deepCopy();
      ObjectNode y = (ObjectNode) after.object().deepCopy();
      x.remove(List.of("data", "stringData"));
      y.remove(List.of("data", "stringData"));
      if (!x.equals(y)) {
        lines.add("~ metadata or type changed");
      }
    }
    return lines;
  }

  private static Map<String, String> secretValues(ChartRenderer.RenderedObject secret) {
    Map<String, String> values = new LinkedHashMap<>();
    if (secret == null) {
      return values;
    }
    for (String field : List.of("data", "stringData")) {
      secret
          .object()
          .path(field)
          .fields()
          .forEachRemaining(f -> values.put(f.getKey(), f.getValue().asText()));
    }
    return values;
  }

  /**
   * A unified-style line diff ({@code -}, {@code +}, two spaces for context, {@code ...} between).
   */
  static List<String> lineDiff(String[] a, String[] b, int context) {
    int[][] lcs = new int[a.length + 1][b.length + 1];
    for (int i = a.length - 1; i >= 0; i--) {
      for (int j = b.length - 1; j >= 0; j--) {
        lcs[i][j] =
            a[i].equals(b[j]) ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    List<String> all = new ArrayList<>();
    int i = 0;
    int j = 0;
    while (i < a.length || j < b.length) {
      if (i < a.length && j < b.length && a[i].equals(b[j])) {
        all.add("  " + a[i]);
        i++;
        j++;
      } else if (i < a.length && (j == b.length || lcs[i + 1][j] >= lcs[i][j + 1])) {
        all.add("- " + a[i++]);
      } else {
        all.add("+ " + b[j++]);
      }
    }
    boolean[] keep = new boolean[all.size()];
    for (int k = 0; k < all.size(); k++) {
      if (!all.get(k).startsWith("  ")) {
        for (int c = Math.max(0, k - context); c <= Math.min(all.size() - 1, k + context); c++) {
          keep[c] = true;
        }
      }
    }
    List<String> lines = new ArrayList<>();
    boolean gap = false;
    for (int k = 0; k < all.size(); k++) {
      if (keep[k]) {
        if (gap && !lines.isEmpty()) {
          lines.add("...");
        }
        lines.add(all.get(k));
        gap = false;
      } else {
        gap = true;
      }
    }
    return lines;
  }
}
