package dev.lockstep.activities;

import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_NOT_FOUND;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;

/**
 * What every StatefulSet activity shares: reading, requiring and patching the target, its
 * ControllerRevisions, its pods as units, a heartbeating wait on {@link ClusterWatch}, and the
 * failures a step throws. Kept in one place so that every step reads the cluster, waits and fails
 * the same way.
 */
final class StatefulSets {
  private final KubernetesClient client;
  private final ClusterWatch watch;

  StatefulSets(KubernetesClient client, ClusterWatch watch) {
    this.client = client;
    this.watch = watch;
  }

  StatefulSet read(Target target) {
    try {
      return client
          .apps()
          .statefulSets()
          .inNamespace(target.namespace())
          .withName(target.name())
          .get();
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not read " + target);
    }
  }

  StatefulSet require(Target target) {
    StatefulSet sts = read(target);
    if (sts == null) {
      throw nonRetryable(FAILURE_TARGET_NOT_FOUND, target + " no longer exists");
    }
    if (sts.getMetadata().getAnnotations() == null) {
      sts.getMetadata().setAnnotations(new java.util.HashMap<>());
    }
    return sts;
  }

  void patch(Target target, String mergePatch) {
    try {
      client
          .apps()
          .statefulSets()
          .inNamespace(target.namespace())
          .withName(target.name())
          .patch(PatchContext.of(PatchType.JSON_MERGE), mergePatch);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        throw nonRetryable(FAILURE_TARGET_NOT_FOUND, target + " no longer exists");
      }
      throw retryable(e, "could not update " + target);
    }
  }

  /** The ControllerRevision with this name in the namespace, or null when there is none. */
  ControllerRevision revisionNamed(String namespace, String name) {
    return client.apps().controllerRevisions().inNamespace(namespace).withName(name).get();
  }

  /** The StatefulSet's ControllerRevisions, by revision number. */
  List<ControllerRevision> owned(StatefulSet sts) {
    return client
        .apps()
        .controllerRevisions()
        .inNamespace(sts.getMetadata().getNamespace())
        .withLabelSelector(sts.getSpec().getSelector())
        .list()
        .getItems()
        .stream()
        .filter(
            r ->
                r.getMetadata().getOwnerReferences() != null
                    && r.getMetadata().getOwnerReferences().stream()
                        .anyMatch(o -> sts.getMetadata().getUid().equals(o.getUid())))
        .sorted(Comparator.comparingLong(ControllerRevision::getRevision))
        .toList();
  }

  /**
   * The template the change asks for: the current one changed, or, for a rollback, the template of
   * the named ControllerRevision.
   *
   * @throws IllegalArgumentException when the revision to restore does not exist
   */
  TemplateChange.Result desired(StatefulSet sts, UpgradePlan.Change change, Target target) {
    if (change.restore() == null) {
      return TemplateChange.apply(sts.getSpec().getTemplate(), change, target.toString());
    }
    List<ControllerRevision> owned = owned(sts);
    ControllerRevision found =
        owned.stream()
            .filter(
                r ->
                    r.getMetadata().getName().equals(change.restore())
                        || String.valueOf(r.getRevision()).equals(change.restore()))
            .findFirst()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "revision "
                            + change.restore()
                            + " of "
                            + target
                            + " not found: its revisions are "
                            + owned.stream()
                                .map(r -> r.getRevision() + " (" + r.getMetadata().getName() + ")")
                                .toList()));
    PodTemplateSpec template = templateOf(found);
    return new TemplateChange.Result(template, TemplateChange.images(template), List.of());
  }

  /** Waits on the target's informers, heartbeating without progress of its own. */
  <T> T awaitQuietly(Target target, Instant deadline, ClusterWatch.Step<T> step, String what) {
    ActivityExecutionContext context = Activity.getExecutionContext();
    try {
      return watch.await(
          target.namespace(),
          target.name(),
          deadline,
          step,
          waited -> context.heartbeat(null),
          beatEvery(context));
    } catch (TimeoutException e) {
      throw ApplicationFailure.newFailure("timed out waiting for " + what, "Timeout");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure("interrupted waiting for " + what, "Interrupted");
    }
  }

  static PodTemplateSpec templateOf(ControllerRevision revision) {
    JsonNode data = Serialization.jsonMapper().valueToTree(revision.getData());
    ObjectNode template = data.path("spec").path("template").deepCopy();
    template.remove("$patch");
    return Serialization.jsonMapper().convertValue(template, PodTemplateSpec.class);
  }

  /** The partition when the strategy is RollingUpdate (0 when none is set), else null. */
  static Integer pinnedAt(StatefulSet sts) {
    var strategy = sts.getSpec().getUpdateStrategy();
    if (strategy == null || !"RollingUpdate".equals(strategy.getType())) {
      return null;
    }
    return strategy.getRollingUpdate() == null
        ? Integer.valueOf(0)
        : Optional.ofNullable(strategy.getRollingUpdate().getPartition()).orElse(0);
  }

  static int replicas(StatefulSet sts) {
    return Optional.ofNullable(sts.getSpec().getReplicas()).orElse(1);
  }

  static boolean ownedBy(Pod pod, StatefulSet sts) {
    List<OwnerReference> refs = pod.getMetadata().getOwnerReferences();
    return refs != null
        && refs.stream().anyMatch(r -> sts.getMetadata().getUid().equals(r.getUid()));
  }

  /** The StatefulSet's own pods among {@code pods} as units, highest ordinal first. */
  static List<UnitSnapshot> units(StatefulSet sts, List<Pod> pods) {
    List<UnitSnapshot> units = new ArrayList<>();
    for (Pod pod : pods) {
      if (!ownedBy(pod, sts)) {
        continue;
      }
      Matcher m = ClusterWatch.ORDINAL.matcher(pod.getMetadata().getName());
      if (!m.matches() || !m.group(1).equals(sts.getMetadata().getName())) {
        continue;
      }
      units.add(
          new UnitSnapshot(
              pod.getMetadata().getName(),
              Integer.parseInt(m.group(2)),
              revision(pod),
              ready(pod),
              restarts(pod)));
    }
    units.sort(Comparator.comparingInt(UnitSnapshot::ordinal).reversed());
    return units;
  }

  static String revision(Pod pod) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    return labels == null ? null : labels.get("controller-revision-hash");
  }

  static boolean ready(Pod pod) {
    if (pod.getStatus() == null || !"Running".equals(pod.getStatus().getPhase())) {
      return false;
    }
    for (PodCondition c : pod.getStatus().getConditions()) {
      if ("Ready".equals(c.getType())) {
        return "True".equals(c.getStatus());
      }
    }
    return false;
  }

  static int restarts(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return 0;
    }
    return pod.getStatus().getContainerStatuses().stream()
        .mapToInt(c -> Optional.ofNullable(c.getRestartCount()).orElse(0))
        .max()
        .orElse(0);
  }

  /**
   * The pod as {@code kubectl get pods} shows it: its STATUS (the waiting or terminated reason of a
   * container, Terminating, else the phase), restarts, since when, revision and Ready.
   */
  static dev.lockstep.workflows.PodState podState(Pod pod) {
    String status = pod.getStatus() == null ? "Pending" : pod.getStatus().getPhase();
    String since = pod.getMetadata().getCreationTimestamp();
    if (pod.getStatus() != null && pod.getStatus().getContainerStatuses() != null) {
      for (ContainerStatus c : pod.getStatus().getContainerStatuses()) {
        if (c.getState() == null) {
          continue;
        }
        if (c.getState().getWaiting() != null && c.getState().getWaiting().getReason() != null) {
          status = c.getState().getWaiting().getReason();
          if (c.getLastState() != null && c.getLastState().getTerminated() != null) {
            since = c.getLastState().getTerminated().getFinishedAt();
          }
          break;
        }
        if (c.getState().getTerminated() != null) {
          status = c.getState().getTerminated().getReason();
          since = c.getState().getTerminated().getFinishedAt();
          break;
        }
        if (c.getState().getRunning() != null) {
          since = c.getState().getRunning().getStartedAt();
        }
      }
    }
    if (pod.getMetadata().getDeletionTimestamp() != null) {
      status = "Terminating";
      since = pod.getMetadata().getDeletionTimestamp();
    }
    return new dev.lockstep.workflows.PodState(
        pod.getMetadata().getName(),
        status == null ? "Unknown" : status,
        restarts(pod),
        since,
        revision(pod),
        ready(pod),
        Instant.now().toString());
  }

  static String waitingReason(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return "";
    }
    for (ContainerStatus c : pod.getStatus().getContainerStatuses()) {
      if (c.getState() != null && c.getState().getWaiting() != null) {
        return ": " + c.getName() + " " + c.getState().getWaiting().getReason();
      }
    }
    return "";
  }

  /** A third of the heartbeat timeout, so that two beats can be late before Temporal gives up. */
  static Duration beatEvery(ActivityExecutionContext context) {
    Duration timeout = context.getInfo().getHeartbeatTimeout();
    return timeout == null || timeout.isZero()
        ? Duration.ofSeconds(10)
        : timeout.dividedBy(3).plusMillis(1);
  }

  /**
   * Failures that are outcomes the workflow acts on (a unit that crash-loops or never gets Ready, a
   * unit that broke after it was verified, someone else's change to the target), not faults of the
   * worker: the worker logs them in one line, without a stack trace (issue 20).
   */
  private static final java.util.Set<String> EXPECTED =
      java.util.Set.of(
          dev.lockstep.workflows.ClusterActivities.FAILURE_UNIT_FAILED,
          dev.lockstep.workflows.ClusterActivities.FAILURE_UPGRADED_UNIT_FAILED,
          dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_CHANGED);

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(StatefulSets.class);

  static ApplicationFailure nonRetryable(String type, String message) {
    if (EXPECTED.contains(type)) {
      LOG.warn("{}: {}", type, message);
      // Benign: the SDK logs it at debug level only, with no stack trace; the line above says it.
      return ApplicationFailure.newBuilder()
          .setType(type)
          .setMessage(message)
          .setNonRetryable(true)
          .setCategory(io.temporal.failure.ApplicationErrorCategory.BENIGN)
          .build();
    }
    return ApplicationFailure.newNonRetryableFailure(message, type);
  }

  static RuntimeException retryable(KubernetesClientException e, String what) {
    return ApiErrors.failure(e, what);
  }

  /** {@code spec.ordinals.start}: the lowest ordinal of the StatefulSet's pods (0 by default). */
  static int ordinalStart(StatefulSet sts) {
    return sts.getSpec().getOrdinals() == null || sts.getSpec().getOrdinals().getStart() == null
        ? 0
        : sts.getSpec().getOrdinals().getStart();
  }
}
