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
import static dev.lockstep.workflows.ClusterActivities.FAILURE_UPGRADED_UNIT_FAILED;

import dev.lockstep.activities.ClusterActivitiesImpl.UnitProgress;
import dev.lockstep.workflows.ClusterActivities.ClusterEvent;
import dev.lockstep.workflows.ClusterActivities.RecordRequest;
import dev.lockstep.workflows.ClusterActivities.UnitRequest;
import dev.lockstep.workflows.ClusterActivities.UnitResult;
import dev.lockstep.workflows.PodState;
import dev.lockstep.workflows.Target;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
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
    int start = StatefulSets.ordinalStart(sts);
    // The run's own target template, to compare with even before the controller has observed a
    // change: someone else's template must never be rolled onto a unit.
    ControllerRevision toRevision = sets.revisionNamed(target.namespace(), request.toRevision());
    PodTemplateSpec expected = toRevision == null ? null : templateOf(toRevision);
    Drift drift = new Drift(request, start, expected);
    drift.check(sts, request.partitionBefore());
    Instant deadline =
        Instant.ofEpochMilli(progress[0].startedAt()).plusSeconds(request.unitTimeoutSeconds());
    Integer partition = pinnedAt(sts);
    int wanted = request.ordinal() - start;
    if (partition == null || partition > wanted) {
      // The units already upgraded are still Ready before the next one moves.
      earlierUnitsReady(sts, request, start, deadline);
      // Conditional on what the drift check read: a change made in between is a conflict, and
      // the retry reads and checks again.
      sets.patch(
          target,
          "{\"metadata\":{\"resourceVersion\":\""
              + sts.getMetadata().getResourceVersion()
              + "\"},\"spec\":{\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
              + "{\"partition\":"
              + wanted
              + "}}}}");
    }
    long soak =
        Math.max(
            request.soakSeconds(),
            sts.getSpec().getMinReadySeconds() == null ? 0 : sts.getSpec().getMinReadySeconds());
    UnitResult done;
    Refusal refusal = new Refusal();
    try {
      done =
          watch.await(
              target.namespace(),
              target.name(),
              deadline,
              view -> {
                view.statefulSet(target.name())
                    .ifPresent(s -> drift.check(s, request.partitionBefore()));
                earlierUnitsNotBroken(view, request, start);
                Optional<Pod> pod = view.pod(podName);
                // What status shows while the unit waits; sent with the next heartbeat.
                progress[0] =
                    progress[0].seeing(
                        pod.map(StatefulSets::podState).orElse(null),
                        view.pods().stream()
                            .map(StatefulSets::podState)
                            .sorted(java.util.Comparator.comparing(PodState::name))
                            .toList());
                if (pod.isEmpty()) {
                  refusal.check(target, podName, progress[0].startedAt());
                  return Optional.empty();
                }
                if (!request.toRevision().equals(revision(pod.get()))) {
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
                if (soak > 0 && readyFor(pod.get()).getSeconds() < soak) {
                  // Done once it has stayed Ready for the soak: re-read at every tick.
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
   * The StatefulSet controller's {@code FailedCreate} event for the unit's pod: a quota or an
   * admission controller refused the pod, which no wait will change until someone acts, so the unit
   * fails at once with the refusal instead of at its timeout. Looked up at most once a second, and
   * only while the pod does not exist; a worker that may not list events just waits.
   */
  private final class Refusal {
    private Instant lastLook = Instant.EPOCH;

    void check(Target target, String podName, long attemptStartedAt) {
      Instant now = Instant.now();
      if (Duration.between(lastLook, now).toMillis() < 1000) {
        return;
      }
      lastLook = now;
      List<Event> events;
      try {
        events =
            client
                .v1()
                .events()
                .inNamespace(target.namespace())
                .withField("involvedObject.kind", "StatefulSet")
                .withField("involvedObject.name", target.name())
                .withField("reason", "FailedCreate")
                .list()
                .getItems();
      } catch (KubernetesClientException e) {
        // Passed over (the unit's wait goes on), counted: e.g. `list events` not granted.
        ApiErrors.count(e);
        return;
      }
      // Event times have whole seconds.
      Instant since = Instant.ofEpochMilli(attemptStartedAt).truncatedTo(ChronoUnit.SECONDS);
      for (Event event : events) {
        String message = Optional.ofNullable(event.getMessage()).orElse("");
        String last =
            event.getLastTimestamp() != null ? event.getLastTimestamp() : event.getFirstTimestamp();
        if (message.contains("Pod " + podName + " ")
            && refused(message)
            && last != null
            && !Instant.parse(last).isBefore(since)) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED, podName + " cannot be created: " + message.trim());
        }
      }
    }
  }

  /**
   * Whether a {@code FailedCreate} message is a refusal that stands until someone acts (a quota, an
   * admission webhook, validation) rather than a transient failure the controller retries by itself
   * ("could not be completed at this time, please try again", a namespace's ServiceAccount not
   * ready yet), as the real lane saw on a fresh v1.20 control plane.
   */
  static boolean refused(String message) {
    String m = message.toLowerCase(java.util.Locale.ROOT);
    if (m.contains("try again") || m.contains("service account") || m.contains("serviceaccount")) {
      return false;
    }
    return m.contains("forbidden") || m.contains("is invalid") || m.contains("denied");
  }

  /**
   * Compares the target with what Lockstep last set: the template (with the run's own target
   * revision's, and the revision the controller computed once it observed it), the replica count
   * and the update strategy with its partition. Any difference is someone else's change.
   */
  private final class Drift {
    private final UnitRequest request;
    private final int start;
    private final PodTemplateSpec expected;

    Drift(UnitRequest request, int start, PodTemplateSpec expected) {
      this.request = request;
      this.start = start;
      this.expected = expected;
    }

    void check(StatefulSet sts, int expectedPartition) {
      List<String> differences = new ArrayList<>();
      String updateRevision = sts.getStatus() == null ? null : sts.getStatus().getUpdateRevision();
      boolean observed =
          sts.getStatus() != null
              && Optional.ofNullable(sts.getStatus().getObservedGeneration()).orElse(0L)
                  >= sts.getMetadata().getGeneration();
      boolean otherTemplate =
          expected != null && !TemplateChange.same(sts.getSpec().getTemplate(), expected);
      if ((observed && updateRevision != null && !updateRevision.equals(request.toRevision()))
          || otherTemplate) {
        differences.add(
            "template: "
                + imageDifference(sts, request.toRevision())
                + (observed && updateRevision != null
                    ? " (revision " + updateRevision + ", not " + request.toRevision() + ")"
                    : " (not yet observed by the controller)"));
      }
      if (replicas(sts) != request.replicas()) {
        differences.add("replicas: " + request.replicas() + " -> " + replicas(sts));
      }
      // Lockstep itself moves the partition from partitionBefore to the unit's; the shared
      // informer may show either value for a moment.
      Integer partition = pinnedAt(sts);
      if (partition == null) {
        differences.add(
            "update strategy: RollingUpdate -> " + sts.getSpec().getUpdateStrategy().getType());
      } else if (partition != expectedPartition && partition != request.ordinal() - start) {
        differences.add("partition: " + expectedPartition + " -> " + partition);
      }
      if (!differences.isEmpty()) {
        throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", differences));
      }
    }
  }

  /**
   * Before the partition moves: every unit this run already upgraded (the ordinals above this one)
   * is Ready. One that is not yet is waited for, by Temporal's retry, within this unit's deadline;
   * past it, that unit is named as the cause.
   */
  private void earlierUnitsReady(
      StatefulSet sts, UnitRequest request, int start, Instant deadline) {
    for (int ordinal = request.ordinal() + 1; ordinal < start + request.replicas(); ordinal++) {
      String name = request.target().name() + "-" + ordinal;
      Pod pod = client.pods().inNamespace(request.target().namespace()).withName(name).get();
      // A unit whose pod is gone (deleted, evicted: its controller brings it back) or going
      // (Terminating, still Ready for a moment) is not Ready: it is waited for like one starting.
      if (pod != null
          && pod.getMetadata().getDeletionTimestamp() == null
          && (!request.toRevision().equals(revision(pod)) || ready(pod))) {
        continue;
      }
      String why =
          name
              + " (upgraded before "
              + request.target().name()
              + "-"
              + request.ordinal()
              + ") is not Ready"
              + (pod == null
                  ? " (no pod)"
                  : pod.getMetadata().getDeletionTimestamp() != null
                      ? " (its pod is terminating)"
                      : waitingReason(pod));
      int restarts = pod == null ? 0 : restarts(pod);
      if (!Instant.now().isBefore(deadline) || restarts >= request.crashLoopRestarts()) {
        // Broken since it was verified (crash-looping), or not back in time: it is the cause.
        throw nonRetryable(
            FAILURE_UPGRADED_UNIT_FAILED,
            why + (restarts > 0 ? " (" + restarts + " restarts)" : ""));
      }
      throw ApplicationFailure.newFailure(
          why + "; waiting for it before the next unit moves", "UnitNotReady");
    }
  }

  /** While this unit comes up: a unit upgraded before it that crash-loops is the cause. */
  private static void earlierUnitsNotBroken(
      ClusterWatch.View view, UnitRequest request, int start) {
    for (int ordinal = request.ordinal() + 1; ordinal < start + request.replicas(); ordinal++) {
      String name = request.target().name() + "-" + ordinal;
      Optional<Pod> pod = view.pod(name);
      if (pod.isPresent()
          && request.toRevision().equals(revision(pod.get()))
          && !ready(pod.get())
          && restarts(pod.get()) >= request.crashLoopRestarts()) {
        throw nonRetryable(
            FAILURE_UPGRADED_UNIT_FAILED,
            name
                + " broke after it was upgraded and verified: crash-looping on "
                + request.toRevision()
                + " ("
                + restarts(pod.get())
                + " restarts"
                + waitingReason(pod.get())
                + ")");
      }
    }
  }

  /**
   * How long the pod has been Ready, at least: from its Ready condition's last transition, which
   * the API keeps to the second, taken as the end of that second so that a soak is never cut short.
   */
  private static Duration readyFor(Pod pod) {
    for (PodCondition c : pod.getStatus().getConditions()) {
      if ("Ready".equals(c.getType()) && c.getLastTransitionTime() != null) {
        try {
          return Duration.between(
              Instant.parse(c.getLastTransitionTime()).plusSeconds(1), Instant.now());
        } catch (java.time.format.DateTimeParseException e) {
          return Duration.ZERO;
        }
      }
    }
    return Duration.ZERO;
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
