package dev.lockstep.workflows;

import io.temporal.activity.ActivityInterface;
import java.util.List;
import java.util.Map;

/**
 * What a Helm release's run asks of the worker that renders charts (Helm runs in the worker, never
 * in the CLI). Implemented in the {@code activities} module with helm-java and fabric8. Every
 * method is idempotent; every Helm call in it has its own time bound.
 */
@ActivityInterface(namePrefix = "Helm")
public interface HelmActivities {
  /**
   * The most chart a request may carry, decoded (charts are small; a workflow payload must stay
   * small): the CLI refuses a bigger chart before it connects, the worker again.
   */
  long MAX_CHART_BYTES = 1_000_000;

  /**
   * A chart as the CLI read it from disk: every file of a chart directory, or of a directory of
   * chart versions (one per sub-directory), by relative path, contents base64.
   */
  record ChartFiles(String name, Map<String, String> files) {}

  /** A {@code -f} values file: its name (for messages) and its text. */
  record ValuesFile(String name, String text) {}

  /**
   * An upgrade of a release as {@code helm upgrade RELEASE CHART --version V -f ... --set ...}.
   *
   * @param reuse {@code default}, {@code reuse-values} or {@code reset-values}
   */
  record ReleaseRequest(
      String namespace,
      String release,
      ChartFiles chart,
      String version,
      List<ValuesFile> valuesFiles,
      List<String> sets,
      String reuse) {}

  /** One object of the release and what the upgrade does to it (a Secret's values never shown). */
  record ObjectChange(String key, String change, boolean workload, List<String> diff) {}

  /** One workload that moves, in the order the upgrade moves them. */
  record WorkloadMove(String key, String change, boolean subchart, boolean declaredDowntime) {}

  /**
   * What an upgrade of the release would do; {@code problems} says, one line each, why it cannot
   * (no such release, a release another operation holds, a missing chart or version, values the
   * chart's schema refuses): then nothing else is set and nothing may change.
   */
  record ReleasePlan(
      List<String> problems,
      int fromRevision,
      String fromChart,
      String toChart,
      List<String> valuesDiff,
      List<String> chartDefaultsDiff,
      List<ObjectChange> objects,
      List<WorkloadMove> workloads,
      List<String> hooks) {}

  /**
   * Reads the release from Helm's storage, renders the chart with the merged values as {@code helm
   * upgrade} would, and says what the upgrade would do. Changes nothing; safe to repeat. Bad input
   * is reported in {@link ReleasePlan#problems()}, not thrown.
   */
  ReleasePlan planRelease(ReleaseRequest request);
}
