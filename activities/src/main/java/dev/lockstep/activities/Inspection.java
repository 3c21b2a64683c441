package dev.lockstep.activities;

import static dev.lockstep.activities.StatefulSets.replicas;
import static dev.lockstep.activities.StatefulSets.templateOf;
import static dev.lockstep.activities.StatefulSets.units;
import static dev.lockstep.workflows.ClusterActivities.RUN_ANNOTATION;

import dev.lockstep.workflows.ClusterActivities;
import dev.lockstep.workflows.ClusterActivities.CheckResult;
import dev.lockstep.workflows.ClusterActivities.InspectRequest;
import dev.lockstep.workflows.ClusterActivities.RevisionInfo;
import dev.lockstep.workflows.ClusterActivities.RevisionList;
import dev.lockstep.workflows.ClusterActivities.RevisionsRequest;
import dev.lockstep.workflows.ClusterActivities.TargetSnapshot;
import dev.lockstep.workflows.Target;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatus;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The read-only side: what a target is now ({@code inspect}: its strategy, revisions, units, what
 * the change would do and the pre-upgrade checks) and its ControllerRevisions with Lockstep's notes
 * ({@code revisions}). Nothing here writes, so a plan, an upgrade or {@code history} can call it at
 * any time.
 */
final class Inspection {
  private final KubernetesClient client;
  private final StatefulSets sets;
  private final TargetChecks checks;

  Inspection(KubernetesClient client, StatefulSets sets) {
    this.client = client;
    this.sets = sets;
    this.checks = new TargetChecks(client);
  }

  TargetSnapshot inspect(InspectRequest request) {
    Target target = request.target();
    StatefulSet sts = sets.read(target);
    if (sts == null) {
      return new TargetSnapshot(
          false,
          List.of(
              "statefulset "
                  + target.namespace()
                  + "/"
                  + target.name()
                  + " not found in cluster "
                  + request.cluster()),
          0,
          null,
          null,
          null,
          null,
          0,
          0,
          Map.of(),
          Map.of(),
          false,
          null,
          null,
          List.of(),
          List.of(),
          List.of(),
          0,
          null,
          Map.of(),
          null);
    }
    PodTemplateSpec template = sts.getSpec().getTemplate();
    TemplateChange.Result changed;
    try {
      changed = sets.desired(sts, request.change(), target);
    } catch (IllegalArgumentException e) {
      changed =
          new TemplateChange.Result(
              template, TemplateChange.images(template), List.of(e.getMessage()));
    }
    String strategyType =
        sts.getSpec().getUpdateStrategy() == null
            ? "RollingUpdate"
            : Objects.requireNonNullElse(
                sts.getSpec().getUpdateStrategy().getType(), "RollingUpdate");
    Integer partition =
        strategyType.equals("RollingUpdate")
                && sts.getSpec().getUpdateStrategy() != null
                && sts.getSpec().getUpdateStrategy().getRollingUpdate() != null
            ? sts.getSpec().getUpdateStrategy().getRollingUpdate().getPartition()
            : null;
    StatefulSetStatus status =
        Optional.ofNullable(sts.getStatus()).orElseGet(StatefulSetStatus::new);
    // Its pods by its selector, as its controller finds them, not every pod of the namespace.
    List<Pod> pods =
        client
            .pods()
            .inNamespace(target.namespace())
            .withLabelSelector(sts.getSpec().getSelector())
            .list()
            .getItems();
    Heartbeats.beat();
    boolean changes = !TemplateChange.same(template, changed.template());
    List<CheckResult> results = List.of();
    List<String> diff = List.of();
    if (changed.problems().isEmpty() && changes) {
      StatefulSet pinned = Serialization.jsonMapper().convertValue(sts, StatefulSet.class);
      if (pinned.getMetadata().getAnnotations() == null) {
        pinned.getMetadata().setAnnotations(new java.util.HashMap<>());
      }
      pinned.getMetadata().getAnnotations().put(RUN_ANNOTATION, "dry-run");
      pinned
          .getSpec()
          .setUpdateStrategy(
              new io.fabric8.kubernetes.api.model.apps.StatefulSetUpdateStrategyBuilder()
                  .withType("RollingUpdate")
                  .withNewRollingUpdate()
                  .withPartition(replicas(sts))
                  .endRollingUpdate()
                  .build());
      pinned.getSpec().setTemplate(changed.template());
      pinned.setStatus(null);
      results = checks.run(sts, changed.template(), pods, request.scaleUp(), pinned);
      diff = TemplateChange.diff(template, changed.template());
    }
    return new TargetSnapshot(
        true,
        changed.problems(),
        replicas(sts),
        strategyType,
        partition,
        status.getCurrentRevision(),
        status.getUpdateRevision(),
        Optional.ofNullable(sts.getMetadata().getGeneration()).orElse(0L),
        Optional.ofNullable(status.getObservedGeneration()).orElse(0L),
        TemplateChange.images(template),
        changed.images(),
        changes,
        Marks.annotation(sts),
        Marks.origin(sts),
        units(sts, pods),
        results,
        diff,
        StatefulSets.ordinalStart(sts),
        sts.getSpec().getUpdateStrategy() == null
            ? null
            : Serialization.asJson(sts.getSpec().getUpdateStrategy()),
        markedRunHooks(target, Marks.annotation(sts)),
        revisionData(target, status.getUpdateRevision()));
  }

  /**
   * The hook Jobs of the run whose mark is on the target, found by their labels: what a repair must
   * know of a dead run's migration (still running, or done).
   */
  private Map<String, String> markedRunHooks(Target target, String runId) {
    if (runId == null) {
      return Map.of();
    }
    Map<String, String> hooks = new java.util.TreeMap<>();
    for (Job job :
        client
            .batch()
            .v1()
            .jobs()
            .inNamespace(target.namespace())
            .withLabel(HookJobs.RUN_LABEL, runId)
            .list()
            .getItems()) {
      String hook =
          Optional.ofNullable(job.getMetadata().getLabels())
              .map(l -> l.get(HookJobs.HOOK_LABEL))
              .orElse(null);
      if (hook != null) {
        hooks.put(hook, jobState(job));
      }
    }
    return hooks;
  }

  private static String jobState(Job job) {
    if (job.getStatus() != null && job.getStatus().getConditions() != null) {
      for (var c : job.getStatus().getConditions()) {
        if ("True".equals(c.getStatus())
            && ("Complete".equals(c.getType()) || "Failed".equals(c.getType()))) {
          return c.getType();
        }
      }
    }
    return "Running";
  }

  /** The data note the run that produced {@code revision} left on it, or null. */
  private String revisionData(Target target, String revision) {
    if (revision == null) {
      return null;
    }
    ControllerRevision found = sets.revisionNamed(target.namespace(), revision);
    return found == null || found.getMetadata().getAnnotations() == null
        ? null
        : found.getMetadata().getAnnotations().get(ClusterActivities.NOTE_DATA);
  }

  RevisionList revisions(RevisionsRequest request) {
    StatefulSet sts = sets.read(request.target());
    if (sts == null) {
      return new RevisionList(false, null, null, List.of());
    }
    List<RevisionInfo> revisions = new ArrayList<>();
    for (ControllerRevision r : sets.owned(sts)) {
      Map<String, String> notes = new java.util.TreeMap<>();
      Optional.ofNullable(r.getMetadata().getAnnotations())
          .orElse(Map.of())
          .forEach(
              (k, v) -> {
                if (k.startsWith("lockstep.dev/")) {
                  notes.put(k, v);
                }
              });
      revisions.add(
          new RevisionInfo(
              r.getRevision(),
              r.getMetadata().getName(),
              r.getMetadata().getCreationTimestamp(),
              TemplateChange.images(templateOf(r)),
              notes));
    }
    StatefulSetStatus status =
        Optional.ofNullable(sts.getStatus()).orElseGet(StatefulSetStatus::new);
    return new RevisionList(
        true, status.getUpdateRevision(), status.getCurrentRevision(), revisions);
  }
}
