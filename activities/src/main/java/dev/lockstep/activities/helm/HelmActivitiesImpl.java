package dev.lockstep.activities.helm;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.workflows.HelmActivities;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/** {@link HelmActivities} with helm-java (rendering) and fabric8 (Helm's storage). */
public final class HelmActivitiesImpl implements HelmActivities {
  private final HelmStorage storage;
  private final ChartRenderer renderer;

  public HelmActivitiesImpl(KubernetesClient client, Duration helmTimeout) {
    this.storage = new HelmStorage(client);
    this.renderer = new ChartRenderer(helmTimeout);
  }

  @Override
  public ReleasePlan planRelease(ReleaseRequest request) {
    String release = request.namespace() + "/" + request.release();
    Optional<HelmRelease> latest = storage.latest(request.namespace(), request.release());
    if (latest.isEmpty()) {
      return refused("release " + release + " not found (no Helm release of that name there)");
    }
    HelmRelease deployed = latest.get();
    if (!deployed.status().equals(HelmRelease.DEPLOYED)) {
      return refused(
          "release "
              + release
              + " is "
              + deployed.status()
              + " at revision "
              + deployed.version()
              + (deployed.status().startsWith("pending-")
                  ? ": another operation holds it (lockstep repair "
                      + request.namespace()
                      + "/helm/"
                      + request.release()
                      + " if it was interrupted)"
                  : ": upgrade from a deployed revision"));
    }
    Path work = null;
    try {
      work = Files.createTempDirectory("lockstep-helm-");
      Path chartRoot = materialize(request.chart(), work.resolve("chart"));
      Path chart = ChartRenderer.resolveChart(chartRoot, blankToNull(request.version()));
      Map<String, String> files = new LinkedHashMap<>();
      for (ValuesFile file : request.valuesFiles()) {
        files.put(file.name(), file.text());
      }
      ObjectNode values =
          HelmValues.merge(deployed.config(), files, request.sets(), reuse(request.reuse()));
      ChartRenderer.Rendered next =
          renderer.render(chart, request.release(), request.namespace(), values);
      HelmPlan.Report plan = HelmPlan.of(deployed, next);
      return new ReleasePlan(
          List.of(),
          plan.fromRevision(),
          plan.fromChart(),
          plan.toChart(),
          plan.valuesDiff(),
          plan.chartDefaultsDiff(),
          plan.objects().stream()
              .map(
                  o ->
                      new ObjectChange(
                          o.key(), o.change().name().toLowerCase(), o.workload(), o.diff()))
              .toList(),
          plan.workloads().stream()
              .map(
                  w ->
                      new WorkloadMove(
                          w.key(),
                          w.change().name().toLowerCase(),
                          w.subchart(),
                          w.declaredDowntime()))
              .toList(),
          plan.hooks());
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      if (work != null) {
        message = message.replace(work.resolve("chart").toString(), request.chart().name());
      }
      return refused(message);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      if (work != null) {
        delete(work);
      }
    }
  }

  private static ReleasePlan refused(String problem) {
    return new ReleasePlan(
        List.of(problem), 0, null, null, List.of(), List.of(), List.of(), List.of(), List.of());
  }

  private static String blankToNull(String text) {
    return text == null || text.isBlank() ? null : text;
  }

  private static HelmValues.Reuse reuse(String reuse) {
    if (reuse == null || reuse.isBlank() || reuse.equals("default")) {
      return HelmValues.Reuse.DEFAULT;
    }
    return switch (reuse) {
      case "reuse-values" -> HelmValues.Reuse.REUSE_VALUES;
      case "reset-values" -> HelmValues.Reuse.RESET_VALUES;
      default ->
          throw new IllegalArgumentException(
              "unknown values mode '" + reuse + "': use reuse-values or reset-values");
    };
  }

  /** Writes the chart's files under {@code dir}; a path leaving it is refused. */
  static Path materialize(ChartFiles chart, Path dir) throws IOException {
    if (chart == null || chart.files() == null || chart.files().isEmpty()) {
      throw new IllegalArgumentException("no chart given (--chart DIR)");
    }
    long total = 0;
    Files.createDirectories(dir);
    for (Map.Entry<String, String> file : chart.files().entrySet()) {
      Path target = dir.resolve(file.getKey()).normalize();
      if (!target.startsWith(dir) || Path.of(file.getKey()).isAbsolute()) {
        throw new IllegalArgumentException(
            "chart " + chart.name() + ": file " + file.getKey() + " is outside the chart");
      }
      byte[] bytes = Base64.getDecoder().decode(file.getValue());
      total += bytes.length;
      if (total > MAX_CHART_BYTES) {
        throw new IllegalArgumentException(
            "chart " + chart.name() + " is over " + MAX_CHART_BYTES / 1000 + " kB");
      }
      Files.createDirectories(target.getParent());
      Files.write(target, bytes);
    }
    return dir;
  }

  private static void delete(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // A temporary directory left behind is harmless.
    }
  }
}
