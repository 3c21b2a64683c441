package dev.lockstep.activities;

import static dev.lockstep.activities.StatefulSets.beatEvery;
import static dev.lockstep.activities.StatefulSets.nonRetryable;
import static dev.lockstep.activities.StatefulSets.pinnedAt;
import static dev.lockstep.activities.StatefulSets.ready;
import static dev.lockstep.activities.StatefulSets.replicas;
import static dev.lockstep.activities.StatefulSets.restarts;
import static dev.lockstep.activities.StatefulSets.revision;
import static dev.lockstep.activities.StatefulSets.templateOf;
import static dev.lockstep.activities.StatefulSets.waitingReason;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_CHANGED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_UNIT_FAILED;

import dev.lockstep.activities.ClusterActivitiesImpl.UnitProgress;
import dev.lockstep.workflows.ClusterActivities.ClusterEvent;
import dev.lockstep.workflows.ClusterActivities.RecordRequest;
import dev.lockstep.workflows.ClusterActivities.UnitRequest;
import dev.lockstep.workflows.ClusterActivities.UnitResult;
import dev.lockstep.workflows.Target;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeoutException;

/**
 * One unit of an upgrade: move the partition to its ordinal, then watch its pod until it is Ready
 * on the new revision, crash-loops, or runs out of time. Every look at the target also checks it
 * for drift (someone else's change to its template, replicas or strategy), so the run never rolls a
 * change it did not make onto a unit. The attempt's deadline and restart baseline live in its
 * heartbeat ({@link UnitProgress}), so a retry on another worker keeps them.
 */
final class UnitUpgrade {
  private final KubernetesClient client;
  private final ClusterWatch watch;
  private final StatefulSets sets;
  private final Records records;

  UnitUpgrade(KubernetesClient client, ClusterWatch watch, StatefulSets sets, Records records) {
    this.client = client;
    this.watch = watch;
    this.sets = sets;
    this.records = records;
  }

  UnitResult upgradeUnit(UnitRequest request) {
    Target target = request.target();
    String podName = target.name() + "-" + request.ordinal();
    ActivityExecutionContext context = Activity.getExecutionContext();
    UnitProgress[] progress = {
      context
          .getHeartbeatDetails(UnitProgress.class)
          .orElse(new UnitProgress(System.currentTimeMillis(), null, 0))
    };
    context.heartbeat(progress[0]);
    StatefulSet sts = sets.require(target);
    Marks.checkOurs(sts, request.runId(), target);
    checkDrift(sts, request, request.partitionBefore());
    Integer partition = pinnedAt(sts);
    if (partition == null || partition > request.ordinal()) {
      sets.patch(
          target,
          "{\"spec\":{\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
              + "{\"partition\":"
              + request.ordinal()
              + "}}}}");
    }
    Instant deadline =
        Instant.ofEpochMilli(progress[0].startedAt()).plusSeconds(request.unitTimeoutSeconds());
    UnitResult done;
    try {
      done =
          watch.await(
              target.namespace(),
              target.name(),
              deadline,
              view -> {
                view.statefulSet(target.name())
                    .ifPresent(s -> checkDrift(s, request, request.partitionBefore()));
                Optional<Pod> pod = view.pod(podName);
                if (pod.isEmpty() || !request.toRevision().equals(revision(pod.get()))) {
                  return Optional.empty();
                }
                int restarts = restarts(pod.get());
                String uid = pod.get().getMetadata().getUid();
                if (!uid.equals(progress[0].podUid())) {
                  // A retry counts only the restarts of its own attempt.
                  progress[0] =
                      new UnitProgress(
                          progress[0].startedAt(), uid, request.retry() ? restarts : 0);
                  context.heartbeat(progress[0]);
                }
                int attemptRestarts = restarts - progress[0].baselineRestarts();
                if (attemptRestarts >= request.crashLoopRestarts()) {
                  throw nonRetryable(
                      FAILURE_UNIT_FAILED,
                      podName
                          + " is crash-looping on "
                          + request.toRevision()
                          + " ("
                          + attemptRestarts
                          + " restarts"
                          + waitingReason(pod.get())
                          + ")");
                }
                if (!ready(pod.get()) || pod.get().getMetadata().getDeletionTimestamp() != null) {
                  return Optional.empty();
                }
                return Optional.of(
                    new UnitResult(podName, uid, request.toRevision(), true, restarts));
              },
              waited -> context.heartbeat(progress[0]),
              beatEvery(context));
    } catch (TimeoutException e) {
      Pod pod = client.pods().inNamespace(target.namespace()).withName(podName).get();
      throw nonRetryable(
          FAILURE_UNIT_FAILED,
          podName
              + " was not Ready on "
              + request.toRevision()
              + " within "
              + request.unitTimeoutSeconds()
              + "s"
              + (pod == null ? " (no pod)" : waitingReason(pod)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure(
          "interrupted while waiting for " + podName, "Interrupted");
    }
    if (request.eventName() != null) {
      // Told off the unit's critical path: the next unit need not wait for this unit's story.
      records.tellLater(
          sts.getMetadata().getUid(),
          new RecordRequest(
              request.cluster(),
              target,
              List.of(
                  new ClusterEvent(
                      request.eventName(),
                      "UnitUpgraded",
                      "Normal",
                      podName + " is Ready on " + request.toRevision())),
              null,
              Map.of()));
    }
    return done;
  }

  /**
   * Compares the target with what Lockstep last set: the template (its revision), the replica count
   * and the update strategy with its partition. Any difference is someone else's change.
   */
  private void checkDrift(StatefulSet sts, UnitRequest request, int expectedPartition) {
    List<String> differences = new ArrayList<>();
    String updateRevision = sts.getStatus() == null ? null : sts.getStatus().getUpdateRevision();
    boolean observed =
        sts.getStatus() != null
            && Optional.ofNullable(sts.getStatus().getObservedGeneration()).orElse(0L)
                >= sts.getMetadata().getGeneration();
    if (observed && updateRevision != null && !updateRevision.equals(request.toRevision())) {
      differences.add(
          "template: "
              + imageDifference(sts, request.toRevision())
              + " (revision "
              + updateRevision
              + ", not "
              + request.toRevision()
              + ")");
    }
    if (replicas(sts) != request.replicas()) {
      differences.add("replicas: " + request.replicas() + " -> " + replicas(sts));
    }
    // Lockstep itself moves the partition from partitionBefore to the unit's ordinal; the shared
    // informer may show either value for a moment.
    Integer partition = pinnedAt(sts);
    if (partition == null) {
      differences.add(
          "update strategy: RollingUpdate -> " + sts.getSpec().getUpdateStrategy().getType());
    } else if (partition != expectedPartition && partition != request.ordinal()) {
      differences.add("partition: " + expectedPartition + " -> " + partition);
    }
    if (!differences.isEmpty()) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", differences));
    }
  }

  /** The images that differ between the target's template and a revision's, as a -> b. */
  private String imageDifference(StatefulSet sts, String revisionName) {
    ControllerRevision revision =
        sets.revisionNamed(sts.getMetadata().getNamespace(), revisionName);
    if (revision == null) {
      return "changed";
    }
    Map<String, String> expected = TemplateChange.images(templateOf(revision));
    Map<String, String> now = TemplateChange.images(sts.getSpec().getTemplate());
    List<String> changed = new ArrayList<>();
    now.forEach(
        (container, image) -> {
          if (!image.equals(expected.get(container))) {
            changed.add(container + " " + expected.get(container) + " -> " + image);
          }
        });
    return changed.isEmpty() ? "changed (not the images)" : String.join(", ", changed);
  }
}
