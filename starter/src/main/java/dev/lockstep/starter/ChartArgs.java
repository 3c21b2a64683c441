package dev.lockstep.starter;

import dev.lockstep.workflows.HelmActivities;
import dev.lockstep.workflows.Target;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import picocli.CommandLine.Option;

/**
 * The chart options of a command that works on a Helm release ({@code NAMESPACE/helm/RELEASE}), as
 * {@code helm upgrade} names them: {@code --chart DIR [--version V] [--values FILE]... [--set
 * k=v]... [--reuse-values|--reset-values]}. A picocli mixin; {@link #request} reads the chart and
 * the values files from disk into what the worker renders (the CLI never runs Helm). Everything
 * wrong with them is one {@link CliFailure} (exit 2) before anything connects.
 */
public final class ChartArgs {
  @Option(
      names = "--chart",
      paramLabel = "DIR",
      description =
          "Helm release only: the chart directory (with Chart.yaml), or a directory of chart"
              + " versions, one per sub-directory.")
  Path chart;

  @Option(
      names = "--version",
      paramLabel = "V",
      description = "Helm release only: the chart version (default: the highest under --chart).")
  String version;

  @Option(
      names = "--values",
      paramLabel = "FILE",
      description = "Helm release only: a values file, as helm's -f. Repeatable, in order.")
  List<Path> values = new ArrayList<>();

  @Option(
      names = "--set",
      paramLabel = "KEY=VALUE",
      description = "Helm release only: a value, as helm's --set a.b=v[,c=w]. Repeatable.")
  List<String> sets = new ArrayList<>();

  @Option(
      names = "--reuse-values",
      description = "Helm release only: start from the release's values, as helm's option.")
  boolean reuseValues;

  @Option(
      names = "--reset-values",
      description = "Helm release only: start from the chart's defaults, as helm's option.")
  boolean resetValues;

  /** Whether any chart option was given (they are refused for a workload target). */
  boolean given() {
    return chart != null
        || version != null
        || !values.isEmpty()
        || !sets.isEmpty()
        || reuseValues
        || resetValues;
  }

  /** Refuses the chart options for a target that is not a Helm release. */
  void refuseFor(Target target) {
    if (given()) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "--chart, --version, --values, --set, --reuse-values and --reset-values are for a Helm"
              + " release (NAMESPACE/helm/RELEASE), not "
              + target);
    }
  }

  /**
   * What the worker needs to render the release's upgrade: the chart's files, the values files
   * ({@code extraValues} first: a command's {@code -f}, then {@code --values}) and the sets.
   */
  HelmActivities.ReleaseRequest request(Target target, List<Path> extraValues) {
    if (reuseValues && resetValues) {
      throw new CliFailure(
          CliFailure.BAD_INPUT, "--reuse-values and --reset-values cannot be given together");
    }
    if (chart == null) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "no chart: give --chart DIR for the Helm release "
              + target
              + ", e.g. --chart examples/charts/ghostwire");
    }
    if (version != null && version.isBlank()) {
      throw new CliFailure(CliFailure.BAD_INPUT, "--version is empty: give a chart version");
    }
    for (String set : sets) {
      if (set.isBlank() || set.indexOf('=') <= 0) {
        throw new CliFailure(
            CliFailure.BAD_INPUT, "--set '" + set + "' is not KEY=VALUE, e.g. --set image.tag=1.2");
      }
    }
    List<HelmActivities.ValuesFile> files = new ArrayList<>();
    List<Path> all = new ArrayList<>(extraValues);
    all.addAll(values);
    for (Path file : all) {
      files.add(new HelmActivities.ValuesFile(file.toString(), readValues(file)));
    }
    return new HelmActivities.ReleaseRequest(
        target.namespace(),
        target.name(),
        readChart(chart),
        version,
        List.copyOf(files),
        List.copyOf(sets),
        reuseValues ? "reuse-values" : resetValues ? "reset-values" : "default");
  }

  private static String readValues(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new CliFailure(
          CliFailure.BAD_INPUT, "values file " + file + " not found (or not a regular file)");
    }
    try {
      if (Files.size(file) > HelmActivities.MAX_CHART_BYTES) {
        throw new CliFailure(
            CliFailure.BAD_INPUT,
            "values file "
                + file
                + " is over "
                + HelmActivities.MAX_CHART_BYTES / 1000
                + " kB: is it a values file?");
      }
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new CliFailure(CliFailure.BAD_INPUT, "cannot read values file " + file + ": " + e);
    }
  }

  /**
   * Every regular file under {@code dir}, by relative path with {@code /}, contents base64; the
   * whole at most {@link HelmActivities#MAX_CHART_BYTES}.
   */
  static HelmActivities.ChartFiles readChart(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "chart directory "
              + dir
              + (Files.exists(dir) ? " is not a directory" : " not found")
              + ": give --chart DIR, a chart directory or a directory of chart versions");
    }
    Map<String, String> files = new TreeMap<>();
    long total = 0;
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path file : (Iterable<Path>) walk.filter(Files::isRegularFile).sorted()::iterator) {
        String relative = dir.relativize(file).toString().replace('\\', '/');
        long size = Files.size(file);
        total += size;
        if (total > HelmActivities.MAX_CHART_BYTES) {
          throw new CliFailure(
              CliFailure.BAD_INPUT,
              "chart directory "
                  + dir
                  + " holds over "
                  + HelmActivities.MAX_CHART_BYTES / 1000
                  + " kB: point --chart at the chart itself");
        }
        files.put(relative, Base64.getEncoder().encodeToString(Files.readAllBytes(file)));
      }
    } catch (NoSuchFileException e) {
      throw new CliFailure(CliFailure.BAD_INPUT, "chart directory " + dir + " changed while read");
    } catch (IOException e) {
      throw new CliFailure(CliFailure.BAD_INPUT, "cannot read chart directory " + dir + ": " + e);
    }
    if (files.isEmpty()) {
      throw new CliFailure(CliFailure.BAD_INPUT, "chart directory " + dir + " is empty");
    }
    return new HelmActivities.ChartFiles(dir.toString(), files);
  }
}
