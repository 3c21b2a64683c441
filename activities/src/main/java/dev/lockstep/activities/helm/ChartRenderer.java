package dev.lockstep.activities.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.marcnuri.helm.Helm;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Renders a chart as {@code helm upgrade} would for a release, with helm-java's template rendering
 * (Helm 3.21 in process), and builds what the new revision records: the chart as Helm serializes
 * it, the manifest of the objects that are not hooks (Helm's text, object by object), and the
 * hooks.
 *
 * <p>helm-java's {@code template} leaves hooks out; so the chart is rendered from a copy whose
 * templates spell Helm's hook annotations {@code lockstep.dev/helm-hook*}, which Helm renders as
 * ordinary objects, and the names are put back in what it rendered. Known differences from a real
 * upgrade: {@code .Release.IsUpgrade} is false and {@code .Release.Revision} is 1 while rendering,
 * and {@code .Capabilities} and {@code lookup} see no cluster.
 */
public final class ChartRenderer {
  static final String HOOK = "helm.sh/hook";
  static final String HOOK_STANDIN = "lockstep.dev/helm-hook";
  private static final Pattern SOURCE = Pattern.compile("(?m)^---\\n# Source: (.*)\\n");

  private final Duration timeout;

  public ChartRenderer(Duration timeout) {
    this.timeout = timeout;
  }

  /** One object the chart rendered. */
  public record RenderedObject(
      String source, String apiVersion, String kind, String name, String yaml, JsonNode object) {

    /** {@code Kind/name}, how plans and status name an object of a release. */
    public String key() {
      return kind + "/" + name;
    }

    /** Whether it is a workload Lockstep upgrades as a child run. */
    public boolean workload() {
      return kind.equals("StatefulSet") || kind.equals("Deployment");
    }

    /** Whether it comes from a subchart ({@code CHART/charts/SUB/...}). */
    public boolean fromSubchart() {
      return source.contains("/charts/");
    }
  }

  /** What a chart rendered for a release. */
  public record Rendered(
      String chartName,
      String chartVersion,
      String appVersion,
      ObjectNode chart,
      ObjectNode config,
      String manifest,
      List<RenderedObject> objects,
      List<HelmRelease.Hook> hooks) {}

  /**
   * The chart directory to render: {@code dir} itself when it holds a {@code Chart.yaml} (its
   * version must be {@code version} when one is asked for), else the sub-directory of {@code dir}
   * that holds that version (the highest when none is asked for), as a local chart repository.
   *
   * @throws IllegalArgumentException naming what is missing, in one line
   */
  public static Path resolveChart(Path dir, String version) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("chart " + dir + " not found (no such directory)");
    }
    if (Files.isRegularFile(dir.resolve("Chart.yaml"))) {
      String found = chartVersion(dir);
      if (version != null && !version.equals(found)) {
        throw new IllegalArgumentException(
            "chart " + dir + " is version " + found + ", not " + version);
      }
      return dir;
    }
    List<Path> versions;
    try (Stream<Path> children = Files.list(dir)) {
      versions =
          children
              .filter(p -> Files.isRegularFile(p.resolve("Chart.yaml")))
              .sorted(Comparator.comparing(ChartRenderer::chartVersion, ChartRenderer::semver))
              .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (versions.isEmpty()) {
      throw new IllegalArgumentException("chart " + dir + " not found (no Chart.yaml in it)");
    }
    if (version == null) {
      return versions.get(versions.size() - 1);
    }
    return versions.stream()
        .filter(p -> chartVersion(p).equals(version))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "chart "
                        + dir
                        + " has no version "
                        + version
                        + " (it has "
                        + String.join(
                            ", ", versions.stream().map(ChartRenderer::chartVersion).toList())
                        + ")"));
  }

  static String chartVersion(Path chartDir) {
    return chartMetadata(chartDir).path("version").asText();
  }

  private static ObjectNode chartMetadata(Path chartDir) {
    try {
      JsonNode node = HelmValues.YAML.readTree(chartDir.resolve("Chart.yaml").toFile());
      if (node instanceof ObjectNode o) {
        return o;
      }
      throw new IllegalArgumentException(chartDir.resolve("Chart.yaml") + " is not a map");
    } catch (IOException e) {
      throw new IllegalArgumentException(
          chartDir.resolve("Chart.yaml") + " is not YAML: " + HelmValues.firstLine(e.getMessage()));
    }
  }

  /** Compares dotted versions numerically where they are numbers. */
  static int semver(String a, String b) {
    String[] x = a.split("[.+-]");
    String[] y = b.split("[.+-]");
    for (int i = 0; i < Math.min(x.length, y.length); i++) {
      int c;
      if (x[i].matches("\\d+") && y[i].matches("\\d+")) {
        c = Long.compare(Long.parseLong(x[i]), Long.parseLong(y[i]));
      } else {
        c = x[i].compareTo(y[i]);
      }
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(x.length, y.length);
  }

  /**
   * Renders the chart in {@code chartDir} for the release with the merged user-supplied values.
   *
   * @throws IllegalArgumentException invalid values, a schema violation, a template error: Helm's
   *     message in one line
   */
  public Rendered render(Path chartDir, String release, String namespace, ObjectNode config) {
    Path work = null;
    try {
      work = Files.createTempDirectory("lockstep-chart-");
      Path copy = work.resolve("chart");
      copyWithHookStandIns(chartDir, copy);
      Path values = work.resolve("values.yaml");
      Files.writeString(values, HelmValues.toYaml(config));
      String out;
      try {
        out =
            HelmCalls.call(
                "template",
                timeout,
                () ->
                    new Helm(copy)
                        .template()
                        .withName(release)
                        .withNamespace(namespace)
                        .withValuesFile(values)
                        .call());
      } catch (IllegalStateException e) {
        throw new IllegalArgumentException(
            "chart " + chartDir.getFileName() + ": " + oneLine(e.getMessage()), e);
      }
      return split(out, chartDir, config);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      if (work != null) {
        delete(work);
      }
    }
  }

  /**
   * The objects of a manifest as Helm joins them ({@code ---\n# Source: PATH\n...}): a release's
   * manifest, or what a chart rendered.
   */
  public static List<RenderedObject> objects(String manifest) {
    List<RenderedObject> objects = new ArrayList<>();
    for (String[] doc : documents(manifest)) {
      RenderedObject object = parse(doc[0], doc[1]);
      if (object != null) {
        objects.add(object);
      }
    }
    return objects;
  }

  private static List<String[]> documents(String out) {
    Matcher m = SOURCE.matcher(out);
    List<int[]> starts = new ArrayList<>();
    List<String> sources = new ArrayList<>();
    while (m.find()) {
      starts.add(new int[] {m.start(), m.end()});
      sources.add(m.group(1));
    }
    List<String[]> docs = new ArrayList<>();
    for (int i = 0; i < starts.size(); i++) {
      int end = i + 1 < starts.size() ? starts.get(i + 1)[0] : out.length();
      String content = out.substring(starts.get(i)[1], end);
      if (content.endsWith("\n")) {
        content = content.substring(0, content.length() - 1);
      }
      docs.add(new String[] {sources.get(i), content});
    }
    return docs;
  }

  private static RenderedObject parse(String source, String content) {
    JsonNode object;
    try {
      object = HelmValues.YAML.readTree(content);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          source + " is not YAML: " + HelmValues.firstLine(e.getMessage()));
    }
    if (object == null || !object.isObject()) {
      return null;
    }
    return new RenderedObject(
        source,
        object.path("apiVersion").asText(),
        object.path("kind").asText(),
        object.path("metadata").path("name").asText(),
        content,
        object);
  }

  private Rendered split(String out, Path chartDir, ObjectNode config) throws IOException {
    StringBuilder manifest = new StringBuilder();
    List<RenderedObject> objects = new ArrayList<>();
    List<HelmRelease.Hook> hooks = new ArrayList<>();
    for (String[] doc : documents(out)) {
      String source = doc[0];
      String content = doc[1];
      boolean hook = content.contains(HOOK_STANDIN);
      content = content.replace(HOOK_STANDIN, HOOK);
      RenderedObject object = parse(source, content);
      if (object == null) {
        continue;
      }
      JsonNode annotations = object.object().path("metadata").path("annotations");
      if (hook) {
        hooks.add(
            new HelmRelease.Hook(
                object.name(),
                object.kind(),
                source,
                content,
                list(annotations.path(HOOK).asText()),
                annotations.path(HOOK + "-weight").asInt(0),
                list(annotations.path(HOOK + "-delete-policy").asText())));
        continue;
      }
      manifest.append("---\n# Source: ").append(source).append('\n').append(content).append('\n');
      objects.add(object);
    }
    ObjectNode metadata = chartMetadata(chartDir);
    return new Rendered(
        metadata.path("name").asText(),
        metadata.path("version").asText(),
        metadata.path("appVersion").asText(),
        chartJson(chartDir, metadata),
        config,
        manifest.toString(),
        objects,
        hooks);
  }

  private static List<String> list(String commaSeparated) {
    List<String> items = new ArrayList<>();
    for (String item : commaSeparated.split(",")) {
      if (!item.isBlank()) {
        items.add(item.trim());
      }
    }
    return items;
  }

  /** The chart as Helm serializes {@code chart.Chart} into a release (subcharts are not kept). */
  static ObjectNode chartJson(Path chartDir, ObjectNode chartYaml) throws IOException {
    ObjectNode chart = JsonNodeFactory.instance.objectNode();
    ObjectNode metadata = chart.putObject("metadata");
    // Go's chart.Metadata field order; empty fields omitted as Go does.
    for (String field :
        List.of(
            "name",
            "home",
            "sources",
            "version",
            "description",
            "keywords",
            "maintainers",
            "icon",
            "apiVersion",
            "condition",
            "tags",
            "appVersion",
            "deprecated",
            "annotations",
            "kubeVersion",
            "dependencies",
            "type")) {
      JsonNode value = chartYaml.get(field);
      if (value == null || value.isNull() || (value.isTextual() && value.asText().isEmpty())) {
        continue;
      }
      if (field.equals("dependencies")) {
        ArrayNode deps = metadata.putArray(field);
        for (JsonNode dep : value) {
          ObjectNode d = JsonNodeFactory.instance.objectNode();
          d.put("name", dep.path("name").asText());
          d.put("version", dep.path("version").asText());
          d.put("repository", dep.path("repository").asText(""));
          if (dep.hasNonNull("condition")) {
            d.put("condition", dep.get("condition").asText());
          }
          // Helm marks the dependencies it loaded as enabled before it stores the chart.
          d.put("enabled", true);
          deps.add(d);
        }
        continue;
      }
      metadata.set(field, value.isNumber() ? metadata.textNode(value.asText()) : value.deepCopy());
    }
    chart.putNull("lock");
    ArrayNode templates = chart.putArray("templates");
    Path templatesDir = chartDir.resolve("templates");
    if (Files.isDirectory(templatesDir)) {
      try (Stream<Path> files = Files.walk(templatesDir)) {
        for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
          ObjectNode t = templates.addObject();
          t.put("name", chartDir.relativize(file).toString());
          t.put("data", Base64.getEncoder().encodeToString(Files.readAllBytes(file)));
        }
      }
    }
    Path valuesFile = chartDir.resolve("values.yaml");
    JsonNode values =
        Files.isRegularFile(valuesFile) ? HelmValues.YAML.readTree(valuesFile.toFile()) : null;
    chart.set(
        "values",
        values instanceof ObjectNode o
            ? HelmValues.sorted(o)
            : JsonNodeFactory.instance.objectNode());
    Path schema = chartDir.resolve("values.schema.json");
    if (Files.isRegularFile(schema)) {
      chart.put("schema", Base64.getEncoder().encodeToString(Files.readAllBytes(schema)));
    } else {
      chart.putNull("schema");
    }
    chart.putNull("files");
    return chart;
  }

  private static void copyWithHookStandIns(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path file : files.toList()) {
        Path target = to.resolve(from.relativize(file).toString());
        if (Files.isDirectory(file)) {
          Files.createDirectories(target);
        } else if (file.toString().contains("/templates/")) {
          Files.writeString(
              target,
              Files.readString(file, StandardCharsets.UTF_8).replace(HOOK, HOOK_STANDIN),
              StandardCharsets.UTF_8);
        } else {
          Files.copy(file, target);
        }
      }
    }
  }

  private static void delete(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // A temporary directory left behind is harmless.
    }
  }

  static String oneLine(String message) {
    return Optional.ofNullable(message).orElse("").trim().replaceAll("\\s*\\n\\s*", "; ");
  }
}
