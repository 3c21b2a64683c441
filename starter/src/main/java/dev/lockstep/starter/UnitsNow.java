package dev.lockstep.starter;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.workflows.PodState;
import dev.lockstep.workflows.UnitState;
import dev.lockstep.workflows.UnitStatus;
import dev.lockstep.workflows.UpgradeStatus;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.workflow.v1.PendingActivityInfo;
import io.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest;
import io.temporal.client.WorkflowClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The pods of the units a run is waiting for, as {@code kubectl get pods} shows them: the activity
 * that waits for a unit sends its pod with every heartbeat, and Temporal keeps the last one with
 * the pending activity, so {@code status} reads it with one call to Temporal, none to the worker or
 * the cluster (issue 20). The pod is as of that heartbeat (at most a third of the heartbeat timeout
 * old).
 */
final class UnitsNow {
  private UnitsNow() {}

  /** The pods the running run's unit activities last saw, by name; empty when none or unknown. */
  static Map<String, PodState> pods(WorkflowClient client, String workflowId, String runId) {
    Map<String, PodState> pods = new LinkedHashMap<>();
    if (runId == null) {
      return pods;
    }
    try {
      var description =
          client
              .getWorkflowServiceStubs()
              .blockingStub()
              .describeWorkflowExecution(
                  DescribeWorkflowExecutionRequest.newBuilder()
                      .setNamespace(client.getOptions().getNamespace())
                      .setExecution(
                          WorkflowExecution.newBuilder().setWorkflowId(workflowId).setRunId(runId))
                      .build());
      for (PendingActivityInfo activity : description.getPendingActivitiesList()) {
        if (!"UpgradeUnit".equals(activity.getActivityType().getName())
            || !activity.hasHeartbeatDetails()) {
          continue;
        }
        JsonNode details =
            client
                .getOptions()
                .getDataConverter()
                .fromPayloads(
                    0, Optional.of(activity.getHeartbeatDetails()), JsonNode.class, JsonNode.class);
        if (details == null) {
          continue;
        }
        // Every pod of the target the activity saw, then its own unit's pod over them.
        for (JsonNode each : details.path("pods")) {
          PodState pod = Common.JSON.treeToValue(each, PodState.class);
          pods.putIfAbsent(pod.name(), pod);
        }
        if (details.hasNonNull("pod")) {
          PodState pod = Common.JSON.treeToValue(details.get("pod"), PodState.class);
          pods.put(pod.name(), pod);
        }
      }
    } catch (RuntimeException | com.fasterxml.jackson.core.JsonProcessingException e) {
      // The pods are a courtesy: the status itself came from the run.
    }
    return pods;
  }

  /**
   * The status with what the pods say: a unit being upgraded or verified that is not Ready yet says
   * what it waits for ({@code waiting for postgresql-2 to be Ready (CrashLoopBackOff, 6 restarts,
   * 50 s)}), and its revision is the one its pod runs.
   */
  static UpgradeStatus withPods(UpgradeStatus s, Map<String, PodState> pods, Instant now) {
    if (pods.isEmpty() || s.units() == null) {
      return s;
    }
    List<UnitStatus> units = new ArrayList<>();
    for (UnitStatus u : s.units()) {
      PodState pod = pods.get(u.name());
      if (pod == null) {
        units.add(u);
        continue;
      }
      if (u.state() != UnitState.UPGRADING && u.state() != UnitState.VERIFYING) {
        // Another unit's pod: its revision as the pod runs it, and its state when it is not
        // simply Running and Ready.
        boolean fine = pod.ready() && "Running".equals(pod.status());
        units.add(
            new UnitStatus(
                u.name(),
                u.ordinal(),
                u.state(),
                pod.revision() != null ? pod.revision() : u.revision(),
                pod.ready(),
                fine ? u.message() : "pod " + podLine(pod, now) + "; " + u.message()));
        continue;
      }
      String message =
          pod.ready()
              ? u.message()
              : "waiting for " + pod.name() + " to be Ready (" + podLine(pod, now) + ")";
      units.add(
          new UnitStatus(
              u.name(),
              u.ordinal(),
              u.state(),
              pod.revision() != null ? pod.revision() : u.revision(),
              pod.ready(),
              message));
    }
    return new UpgradeStatus(
        s.target(),
        s.runId(),
        s.phase(),
        s.message(),
        s.fromRevision(),
        s.toRevision(),
        s.fromImages(),
        s.toImages(),
        s.cluster(),
        s.startedAt(),
        s.finishedAt(),
        s.rollbackCommand(),
        units,
        s.steering(),
        s.checks(),
        s.steps(),
        s.step(),
        s.kind(),
        s.gate(),
        s.pause(),
        s.traffic());
  }

  /** {@code CrashLoopBackOff, 6 restarts, 50 s}: the pod as kubectl shows it, and for how long. */
  private static String podLine(PodState pod, Instant now) {
    return pod.status()
        + (pod.restarts() > 0
            ? ", " + pod.restarts() + (pod.restarts() == 1 ? " restart" : " restarts")
            : "")
        + since(pod, now);
  }

  /** {@code , 50 s} in its status, in whole seconds; empty when unknown. */
  private static String since(PodState pod, Instant now) {
    if (pod.since() == null) {
      return "";
    }
    try {
      long seconds = Math.max(0, Duration.between(Instant.parse(pod.since()), now).toSeconds());
      return ", " + seconds + " s";
    } catch (java.time.format.DateTimeParseException e) {
      return "";
    }
  }
}
