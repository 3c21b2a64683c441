package dev.lockstep.activities;

import static dev.lockstep.activities.Marks.annotation;
import static dev.lockstep.activities.Marks.checkOurs;
import static dev.lockstep.activities.StatefulSets.nonRetryable;
import static dev.lockstep.activities.StatefulSets.ownedBy;
import static dev.lockstep.activities.StatefulSets.pinnedAt;
import static dev.lockstep.activities.StatefulSets.ready;
import static dev.lockstep.activities.StatefulSets.replicas;
import static dev.lockstep.activities.StatefulSets.retryable;
import static dev.lockstep.activities.StatefulSets.revision;
import static dev.lockstep.activities.StatefulSets.templateOf;
import static dev.lockstep.activities.StatefulSets.units;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_CHANGED;
import static dev.lockstep.workflows.ClusterActivities.ORIGIN_ANNOTATION;
import static dev.lockstep.workflows.ClusterActivities.RUN_ANNOTATION;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.workflows.ClusterActivities.FinishRequest;
import dev.lockstep.workflows.ClusterActivities.FinishResult;
import dev.lockstep.workflows.ClusterActivities.RevertRequest;
import dev.lockstep.workflows.ClusterActivities.Strategy;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import dev.lockstep.workflows.Target;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a run leaves its target: {@code finish} on the new revision or {@code revert} to the original
 * one. Both wait until every unit is Ready on that revision and the controller made it current (the
 * settle wait), then give back the user's update strategy and remove the mark, so the target is
 * left as the run found it, apart from the change it asked for.
 */
final class Finishing {
  private static final Logger LOG = LoggerFactory.getLogger(Finishing.class);

  private final KubernetesClient client;
  private final StatefulSets sets;
  private final Records records;

  Finishing(KubernetesClient client, StatefulSets sets, Records records) {
    this.client = client;
    this.sets = sets;
    this.records = records;
  }

  FinishResult finish(FinishRequest request) {
    Target target = request.target();
    StatefulSet sts = sets.require(target);
    if (annotation(sts) != null) {
      checkOurs(sts, request.runId(), target);
    }
    FinishResult settled = awaitSettled(target, request.toRevision(), Duration.ofMinutes(10), null);
    restoreStrategy(target, request.strategy(), request.runId());
    boolean told = request.end() != null && records.tell(sts.getMetadata().getUid(), request.end());
    return new FinishResult(settled.currentRevision(), settled.units(), told);
  }

  FinishResult revert(RevertRequest request) {
    Target target = request.target();
    StatefulSet sts = sets.require(target);
    if (annotation(sts) != null) {
      checkOurs(sts, request.runId(), target);
    }
    ControllerRevision revision = sets.revisionNamed(target.namespace(), request.fromRevision());
    if (revision == null) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED,
          "revision " + request.fromRevision() + " of " + target + " is gone: cannot restore it");
    }
    PodTemplateSpec original = templateOf(revision);
    if (!TemplateChange.same(sts.getSpec().getTemplate(), original)) {
      sts.getSpec().setTemplate(original);
      sts.setStatus(null);
      try {
        client.apps().statefulSets().inNamespace(target.namespace()).resource(sts).update();
      } catch (KubernetesClientException e) {
        throw retryable(e, "could not restore the template of " + target);
      }
      LOG.info("restored the template of {} from {}", target, request.fromRevision());
    }
    Set<String> deleted = new HashSet<>();
    FinishResult settled =
        awaitSettled(
            target,
            request.fromRevision(),
            Duration.ofSeconds(Math.max(60, request.timeoutSeconds())),
            deleted);
    restoreStrategy(target, request.strategy(), request.runId());
    return settled;
  }

  /**
   * Waits until every unit is Ready on {@code revision} and the controller made it current. With
   * {@code unstick} non-null, a unit stuck not Ready on another revision is deleted (once) so the
   * controller can replace it: a StatefulSet never replaces such a pod by itself
   * (kubernetes#67250).
   */
  private FinishResult awaitSettled(
      Target target, String revision, Duration timeout, Set<String> unstick) {
    return sets.awaitQuietly(
        target,
        Instant.now().plus(timeout),
        view -> {
          Optional<StatefulSet> sts = view.statefulSet(target.name());
          if (sts.isEmpty() || sts.get().getStatus() == null) {
            return Optional.empty();
          }
          List<UnitSnapshot> units = units(sts.get(), view.pods());
          if (unstick != null) {
            for (Pod pod : view.pods()) {
              if (ownedBy(pod, sts.get())
                  && !revision.equals(revision(pod))
                  && !ready(pod)
                  && pod.getMetadata().getDeletionTimestamp() == null
                  && unstick.add(pod.getMetadata().getUid())) {
                LOG.info(
                    "deleting {}: stuck not Ready on {}",
                    pod.getMetadata().getName(),
                    revision(pod));
                deleteExactly(pod);
              }
            }
          }
          StatefulSetStatus status = sts.get().getStatus();
          boolean settled =
              units.size() == replicas(sts.get())
                  && units.stream().allMatch(u -> u.ready() && revision.equals(u.revision()))
                  && revision.equals(status.getUpdateRevision())
                  && revision.equals(status.getCurrentRevision())
                  && Optional.ofNullable(status.getObservedGeneration()).orElse(0L)
                      >= sts.get().getMetadata().getGeneration();
          return settled ? Optional.of(new FinishResult(revision, units, false)) : Optional.empty();
        },
        "every unit of " + target + " Ready on " + revision);
  }

  /**
   * Deletes this pod and no other: the watch cache may be behind, and a pod of the same name may
   * already be its replacement on the right revision, which must never be deleted. The uid
   * precondition makes the API server refuse (409) to delete another pod of that name.
   */
  private void deleteExactly(Pod pod) {
    String url =
        client.getMasterUrl().toString().replaceFirst("/$", "")
            + "/api/v1/namespaces/"
            + pod.getMetadata().getNamespace()
            + "/pods/"
            + pod.getMetadata().getName();
    Map<String, Object> options =
        Map.of(
            "apiVersion",
            "v1",
            "kind",
            "DeleteOptions",
            "preconditions",
            Map.of("uid", pod.getMetadata().getUid()));
    try {
      client.raw(url, "DELETE", options);
    } catch (KubernetesClientException e) {
      // Gone already (404), or a newer pod of that name (409): either way not this one to delete.
      if (e.getCode() != 404 && e.getCode() != 409) {
        throw e;
      }
    }
  }

  private void restoreStrategy(Target target, Strategy strategy, String runId) {
    StatefulSet sts = sets.require(target);
    boolean ours = runId.equals(annotation(sts));
    if (strategy.spec() != null) {
      restoreExactly(target, sts, strategy.spec(), ours);
      return;
    }
    String wantedType = strategy.type() == null ? "RollingUpdate" : strategy.type();
    Integer wantedPartition =
        wantedType.equals("RollingUpdate")
            ? Optional.ofNullable(strategy.partition()).orElse(0)
            : null;
    String type =
        sts.getSpec().getUpdateStrategy() == null
            ? "RollingUpdate"
            : sts.getSpec().getUpdateStrategy().getType();
    if (!ours && wantedType.equals(type) && Objects.equals(wantedPartition, pinnedAt(sts))) {
      return;
    }
    String strategyJson =
        wantedType.equals("OnDelete")
            ? "{\"type\":\"OnDelete\",\"rollingUpdate\":null}"
            : "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":"
                + wantedPartition
                + "}}";
    sets.patch(
        target,
        "{\"metadata\":{\"annotations\":{\""
            + RUN_ANNOTATION
            + "\":null,\""
            + ORIGIN_ANNOTATION
            + "\":null}},"
            + "\"spec\":{\"updateStrategy\":"
            + strategyJson
            + "}}");
  }

  /**
   * Puts back the user's whole update strategy as it was (its {@code maxUnavailable} too, and
   * nothing Lockstep added), and removes the run's marks, in one merge patch: what the user's
   * strategy lacks is set to null.
   */
  private void restoreExactly(Target target, StatefulSet sts, String spec, boolean ours) {
    ObjectMapper json = Serialization.jsonMapper();
    JsonNode wanted;
    try {
      wanted = json.readTree(spec);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("unreadable update strategy " + spec, e);
    }
    JsonNode now = json.valueToTree(sts.getSpec().getUpdateStrategy());
    if (!ours && wanted.equals(now)) {
      return;
    }
    ObjectNode body = json.createObjectNode();
    ObjectNode annotations = body.putObject("metadata").putObject("annotations");
    annotations.putNull(RUN_ANNOTATION);
    annotations.putNull(ORIGIN_ANNOTATION);
    body.putObject("spec").set("updateStrategy", nulling(now, wanted));
    sets.patch(target, body.toString());
  }

  /** {@code wanted} as a merge patch over {@code now}: every field only {@code now} has is null. */
  private static JsonNode nulling(JsonNode now, JsonNode wanted) {
    if (!wanted.isObject() || now == null || !now.isObject()) {
      return wanted;
    }
    ObjectNode patch = ((ObjectNode) wanted).deepCopy();
    now.fieldNames()
        .forEachRemaining(
            field -> {
              if (!wanted.has(field)) {
                patch.putNull(field);
              } else {
                patch.set(field, nulling(now.get(field), wanted.get(field)));
              }
            });
    return patch;
  }
}
