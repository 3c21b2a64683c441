package dev.lockstep.activities;

import static dev.lockstep.activities.Marks.annotation;
import static dev.lockstep.activities.Marks.checkNotLocked;
import static dev.lockstep.activities.Marks.json;
import static dev.lockstep.activities.Marks.origin;
import static dev.lockstep.activities.StatefulSets.nonRetryable;
import static dev.lockstep.activities.StatefulSets.pinnedAt;
import static dev.lockstep.activities.StatefulSets.replicas;
import static dev.lockstep.activities.StatefulSets.retryable;
import static dev.lockstep.activities.StatefulSets.units;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_CHANGED;
import static dev.lockstep.workflows.ClusterActivities.ORIGIN_ANNOTATION;
import static dev.lockstep.workflows.ClusterActivities.RUN_ANNOTATION;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.workflows.ClusterActivities.AdoptRequest;
import dev.lockstep.workflows.ClusterActivities.FinishResult;
import dev.lockstep.workflows.ClusterActivities.PrepareRequest;
import dev.lockstep.workflows.ClusterActivities.PrepareResult;
import dev.lockstep.workflows.ClusterActivities.RecordRequest;
import dev.lockstep.workflows.ClusterActivities.ReleaseRequest;
import dev.lockstep.workflows.ClusterActivities.ScaleRequest;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import dev.lockstep.workflows.Target;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writes that take, hold and give back a target outside its units: {@code prepare} (mark it,
 * pin the partition and apply the change in one write), {@code scale}, {@code adopt} (take over a
 * dead run's mark) and {@code release}. Each compares what the cluster holds with what it wants and
 * writes only on a difference, so a retry after a crash acts at most once.
 */
final class StatefulSetActions {
  private static final Logger LOG = LoggerFactory.getLogger(StatefulSetActions.class);

  private final KubernetesClient client;
  private final StatefulSets sets;
  private final Records records;

  StatefulSetActions(KubernetesClient client, StatefulSets sets, Records records) {
    this.client = client;
    this.sets = sets;
    this.records = records;
  }

  /**
   * Whether {@code wanted} is what the API server would store for it: a real API server defaults
   * what a template leaves out (a port's protocol, a container's termination message path, ...), so
   * after this run's own write the stored template differs from the one it sent. A dry run of the
   * same write answers with the defaulted template, stores nothing, and needs no other RBAC verb
   * than the write itself.
   */
  private boolean appliedAfterDefaulting(StatefulSet sts, PodTemplateSpec wanted, Target target) {
    StatefulSet probe =
        new io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder(sts)
            .editSpec()
            .withTemplate(wanted)
            .endSpec()
            .withStatus(null)
            .build();
    try {
      StatefulSet defaulted =
          client
              .apps()
              .statefulSets()
              .inNamespace(target.namespace())
              .resource(probe)
              .dryRun()
              .update();
      return TemplateChange.same(sts.getSpec().getTemplate(), defaulted.getSpec().getTemplate());
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not compare the template of " + target + " with the change");
    }
  }

  PrepareResult prepare(PrepareRequest request) {
    Target target = request.target();
    StatefulSet sts = sets.require(target);
    checkNotLocked(sts, request.runId(), target);
    PodTemplateSpec current = sts.getSpec().getTemplate();
    TemplateChange.Result changed;
    try {
      changed = sets.desired(sts, request.change(), target);
    } catch (IllegalArgumentException e) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, e.getMessage());
    }
    if (!changed.problems().isEmpty()) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", changed.problems()));
    }
    int replicas = replicas(sts);
    boolean ours = request.runId().equals(annotation(sts));
    boolean applied =
        TemplateChange.same(current, changed.template())
            || (ours && appliedAfterDefaulting(sts, changed.template(), target));
    String updateRevision = sts.getStatus() == null ? null : sts.getStatus().getUpdateRevision();
    // Until this write is made the template is still the one inspect saw; any other revision is
    // someone else's change (a retry after the write finds the change applied).
    if (!applied && !Objects.equals(updateRevision, request.fromRevision())) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED,
          target
              + " changed since it was inspected: its revision is now "
              + updateRevision
              + ", not "
              + request.fromRevision());
    }
    boolean pinned = pinnedAt(sts) != null && pinnedAt(sts) >= replicas;
    boolean recorded = !ours || request.origin() == null || origin(sts) != null;
    if (!ours || !pinned || !applied || !recorded) {
      // Partition and template in one write: there is no moment when the change could roll out.
      sts.getMetadata().getAnnotations().put(RUN_ANNOTATION, request.runId());
      if (request.origin() != null && (!ours || origin(sts) == null)) {
        sts.getMetadata().getAnnotations().put(ORIGIN_ANNOTATION, json(request.origin()));
      }
      sts.getSpec()
          .setUpdateStrategy(
              new io.fabric8.kubernetes.api.model.apps.StatefulSetUpdateStrategyBuilder()
                  .withType("RollingUpdate")
                  .withNewRollingUpdate()
                  .withPartition(replicas)
                  .endRollingUpdate()
                  .build());
      sts.getSpec().setTemplate(changed.template());
      sts.setStatus(null);
      try {
        sts = client.apps().statefulSets().inNamespace(target.namespace()).resource(sts).update();
      } catch (KubernetesClientException e) {
        throw retryable(e, "could not apply the change to " + target);
      }
      LOG.info("prepared {}: partition {}, template changed", target, replicas);
    }
    long generation = sts.getMetadata().getGeneration();
    String toRevision =
        sets.awaitQuietly(
            target,
            Instant.now().plus(Duration.ofMinutes(2)),
            view ->
                view.statefulSet(target.name())
                    .filter(s -> s.getStatus() != null)
                    .filter(
                        s ->
                            Optional.ofNullable(s.getStatus().getObservedGeneration()).orElse(0L)
                                >= generation)
                    .map(s -> s.getStatus().getUpdateRevision()),
            "the StatefulSet controller to observe the change");
    boolean told =
        request.events() == null
            || request.events().isEmpty()
            || records.tell(
                sts.getMetadata().getUid(),
                new RecordRequest(request.cluster(), target, request.events(), null, Map.of()));
    return new PrepareResult(toRevision, replicas, told);
  }

  FinishResult scale(ScaleRequest request) {
    Target target = request.target();
    StatefulSet sts = sets.require(target);
    checkNotLocked(sts, request.runId(), target);
    boolean ours = request.runId().equals(annotation(sts));
    if (replicas(sts) != request.replicas() || !ours) {
      ObjectNode body = Serialization.jsonMapper().createObjectNode();
      ObjectNode annotations = body.putObject("metadata").putObject("annotations");
      annotations.put(RUN_ANNOTATION, request.runId());
      if (!ours && request.origin() != null) {
        annotations.put(ORIGIN_ANNOTATION, json(request.origin()));
      }
      body.putObject("spec").put("replicas", request.replicas());
      sets.patch(target, body.toString());
    }
    return sets.awaitQuietly(
        target,
        Instant.now().plus(Duration.ofMinutes(10)),
        view -> {
          Optional<StatefulSet> now = view.statefulSet(target.name());
          if (now.isEmpty() || now.get().getStatus() == null) {
            return Optional.empty();
          }
          List<UnitSnapshot> units = units(now.get(), view.pods());
          boolean settled =
              units.size() == request.replicas()
                  && units.stream().allMatch(UnitSnapshot::ready)
                  && units.stream()
                      .allMatch(
                          u ->
                              u.ordinal()
                                  < StatefulSets.ordinalStart(now.get()) + request.replicas())
                  && (request.revision() == null
                      || units.stream().allMatch(u -> request.revision().equals(u.revision())));
          return settled
              ? Optional.of(
                  new FinishResult(now.get().getStatus().getCurrentRevision(), units, false))
              : Optional.empty();
        },
        request.replicas() + " Ready units of " + target);
  }

  void release(ReleaseRequest request) {
    StatefulSet sts = sets.require(request.target());
    if (request.runId().equals(annotation(sts))) {
      sets.patch(request.target(), Marks.UNMARK);
    }
  }

  void adopt(AdoptRequest request) {
    Target target = request.target();
    StatefulSet sts = sets.require(target);
    String holder = annotation(sts);
    if (request.runId().equals(holder)) {
      return;
    }
    if (!request.deadRunId().equals(holder)) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED,
          target
              + " is no longer marked by run "
              + request.deadRunId()
              + " ("
              + RUN_ANNOTATION
              + "="
              + (holder == null ? "none" : holder)
              + "): someone else changed it");
    }
    sts.getMetadata().getAnnotations().put(RUN_ANNOTATION, request.runId());
    sts.setStatus(null);
    try {
      // An update carries the resourceVersion read above: a change made in between is a conflict,
      // and the retry reads again.
      client.apps().statefulSets().inNamespace(target.namespace()).resource(sts).update();
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not take over " + target);
    }
    LOG.info("took over {} from dead run {}", target, request.deadRunId());
  }
}
