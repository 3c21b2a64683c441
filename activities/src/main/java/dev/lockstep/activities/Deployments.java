package dev.lockstep.activities;

import static dev.lockstep.activities.StatefulSets.nonRetryable;
import static dev.lockstep.activities.StatefulSets.retryable;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_REJECTED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_CHANGED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_LOCKED;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_TARGET_NOT_FOUND;
import static dev.lockstep.workflows.ClusterActivities.FAILURE_UNIT_FAILED;
import static dev.lockstep.workflows.ClusterActivities.ORIGIN_ANNOTATION;
import static dev.lockstep.workflows.ClusterActivities.RUN_ANNOTATION;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.workflows.ClusterActivities;
import dev.lockstep.workflows.ClusterActivities.CheckResult;
import dev.lockstep.workflows.ClusterActivities.InspectRequest;
import dev.lockstep.workflows.ClusterActivities.RecordRequest;
import dev.lockstep.workflows.ClusterActivities.RevisionInfo;
import dev.lockstep.workflows.ClusterActivities.RevisionList;
import dev.lockstep.workflows.ClusterActivities.TargetSnapshot;
import dev.lockstep.workflows.ClusterActivities.UnitSnapshot;
import dev.lockstep.workflows.DeploymentActivities;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentCondition;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatus;
import io.fabric8.kubernetes.api.model.apps.DeploymentStrategy;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.failure.ApplicationFailure;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Deployment's side of an upgrade, with fabric8 (kubernetes-semantics.md §2): what it is ({@code
 * inspect}, its ReplicaSet revisions), and the writes of the rolling strategy. The revision of a
 * template is its ReplicaSet: the one whose template is the Deployment's without the {@code
 * pod-template-hash} label, as the controller and {@code kubectl rollout undo} find it. Every write
 * is computed from what the Deployment is now and made only on a difference, conditional on the
 * resourceVersion read (a conflict is retried by Temporal and reads again), so a retry after a
 * crash at any line acts at most once.
 *
 * <p>Waits read the Deployment, its ReplicaSets and its pods when one of them changes, as the
 * worker's shared informers hear it ({@link ClusterWatch#deploymentChanges}), and at the latest
 * every {@link #SAFETY} (a missed or refused watch slows a wait, never blinds it); while nothing
 * changes they cost no request. They heartbeat meanwhile.
 */
final class Deployments implements DeploymentActivities {
  private static final Logger LOG = LoggerFactory.getLogger(Deployments.class);
  static final String HASH_LABEL = "pod-template-hash";
  static final String REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
  private static final Duration POLL = Duration.ofMillis(500);

  /** The longest a wait goes without reading, whatever the watches say. */
  static final Duration SAFETY = Duration.ofSeconds(15);

  /** What a wait keeps in its heartbeat: when the step started, so a retry keeps its deadline. */
  public record WaitProgress(long startedAt, int baselineRestarts) {}

  private final KubernetesClient client;
  private final Records records;
  private final ClusterWatch watch;

  Deployments(KubernetesClient client, Records records, ClusterWatch watch) {
    this.client = client;
    this.records = records;
    this.watch = watch;
  }

  /** Starts hearing the changes of the target (and its canary or preview): before a wait reads. */
  ClusterWatch.Changes changes(Target target) {
    return watch.deploymentChanges(target.namespace(), target.name());
  }

  /**
   * Waits for the next change {@code changes} hears, at most {@link #SAFETY} and not past {@code
   * deadline} (null: none), heartbeating {@code details} meanwhile; a cancelled activity ends it.
   */
  void await(
      ClusterWatch.Changes changes,
      ActivityExecutionContext context,
      Object details,
      Instant deadline) {
    Duration atMost = SAFETY;
    if (deadline != null) {
      Duration left = Duration.between(Instant.now(), deadline).plusMillis(1);
      atMost = left.compareTo(atMost) < 0 ? left : atMost;
    }
    try {
      changes.await(atMost, waited -> context.heartbeat(details));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure("interrupted", "Interrupted");
    }
  }

  // ---- reading --------------------------------------------------------------------------------

  Deployment read(Target target) {
    try {
      return client
          .apps()
          .deployments()
          .inNamespace(target.namespace())
          .withName(target.name())
          .get();
    } catch (KubernetesClientException e) {
      throw retryable(e, "could not read " + target);
    }
  }

  Deployment require(Target target) {
    Deployment d = read(target);
    if (d == null) {
      throw nonRetryable(FAILURE_TARGET_NOT_FOUND, target + " no longer exists");
    }
    if (d.getMetadata().getAnnotations() == null) {
      d.getMetadata().setAnnotations(new HashMap<>());
    }
    return d;
  }

  /** The Deployment's ReplicaSets (those it controls), by revision. */
  List<ReplicaSet> replicaSets(Deployment d) {
    return client
        .apps()
        .replicaSets()
        .inNamespace(d.getMetadata().getNamespace())
        .withLabelSelector(d.getSpec().getSelector())
        .list()
        .getItems()
        .stream()
        .filter(rs -> controlledBy(rs.getMetadata().getOwnerReferences(), d.getMetadata().getUid()))
        .sorted(Comparator.comparingLong(Deployments::revision))
        .toList();
  }

  List<Pod> pods(Deployment d) {
    return client
        .pods()
        .inNamespace(d.getMetadata().getNamespace())
        .withLabelSelector(d.getSpec().getSelector())
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .toList();
  }

  private static boolean controlledBy(List<OwnerReference> refs, String uid) {
    return refs != null
        && refs.stream()
            .anyMatch(o -> uid.equals(o.getUid()) && Boolean.TRUE.equals(o.getController()));
  }

  static long revision(ReplicaSet rs) {
    String text =
        Optional.ofNullable(rs.getMetadata().getAnnotations())
            .map(a -> a.get(REVISION_ANNOTATION))
            .orElse("0");
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** A ReplicaSet's template as a Deployment's: without the {@code pod-template-hash} label. */
  /**
   * The ReplicaSet {@code fromRevision} of {@code d}, whose template a return restores.
   *
   * @throws io.temporal.failure.ApplicationFailure non-retryable when it is gone
   */
  ReplicaSet restoring(Deployment d, String fromRevision, Target target) {
    return replicaSets(d).stream()
        .filter(rs -> rs.getMetadata().getName().equals(fromRevision))
        .findFirst()
        .orElseThrow(
            () ->
                nonRetryable(
                    FAILURE_REJECTED,
                    "ReplicaSet "
                        + fromRevision
                        + " of "
                        + target
                        + " is gone (revisionHistoryLimit?): its template cannot be restored"));
  }

  static PodTemplateSpec templateOf(ReplicaSet rs) {
    PodTemplateSpec t =
        Serialization.jsonMapper().convertValue(rs.getSpec().getTemplate(), PodTemplateSpec.class);
    if (t.getMetadata() != null && t.getMetadata().getLabels() != null) {
      Map<String, String> labels = new java.util.LinkedHashMap<>(t.getMetadata().getLabels());
      labels.remove(HASH_LABEL);
      t.getMetadata().setLabels(labels);
    }
    return t;
  }

  /** The ReplicaSet of the Deployment's template now, or null before the controller made it. */
  static ReplicaSet current(Deployment d, List<ReplicaSet> sets) {
    for (int i = sets.size() - 1; i >= 0; i--) {
      if (TemplateChange.same(templateOf(sets.get(i)), d.getSpec().getTemplate())) {
        return sets.get(i);
      }
    }
    return null;
  }

  static String ownerSet(Pod pod) {
    if (pod.getMetadata().getOwnerReferences() != null) {
      for (OwnerReference ref : pod.getMetadata().getOwnerReferences()) {
        if ("ReplicaSet".equals(ref.getKind()) && Boolean.TRUE.equals(ref.getController())) {
          return ref.getName();
        }
      }
    }
    return null;
  }

  /** The pods, new ReplicaSet first, then by name; each with its ReplicaSet as its revision. */
  static List<UnitSnapshot> units(List<Pod> pods, String newSet) {
    List<Pod> sorted = new ArrayList<>(pods);
    sorted.sort(
        Comparator.comparing((Pod p) -> !Objects.equals(ownerSet(p), newSet))
            .thenComparing(p -> p.getMetadata().getName()));
    List<UnitSnapshot> units = new ArrayList<>();
    for (int i = 0; i < sorted.size(); i++) {
      Pod p = sorted.get(i);
      units.add(
          new UnitSnapshot(
              p.getMetadata().getName(),
              i,
              ownerSet(p),
              StatefulSets.ready(p),
              StatefulSets.restarts(p)));
    }
    return units;
  }

  static int replicas(Deployment d) {
    return Optional.ofNullable(d.getSpec().getReplicas()).orElse(1);
  }

  static String strategyJson(Deployment d) {
    DeploymentStrategy s = d.getSpec().getStrategy();
    return s == null ? null : Serialization.asJson(s);
  }

  private static boolean paused(Deployment d) {
    return Boolean.TRUE.equals(d.getSpec().getPaused());
  }

  static String hash(PodTemplateSpec template) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(Serialization.asJson(template).getBytes(StandardCharsets.UTF_8));
      return "sha256:" + HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Whether the rollout is complete, as {@code kubectl rollout status} decides it. */
  static boolean complete(Deployment d) {
    DeploymentStatus s = d.getStatus();
    if (s == null) {
      return false;
    }
    int want = replicas(d);
    return Optional.ofNullable(s.getObservedGeneration()).orElse(0L)
            >= Optional.ofNullable(d.getMetadata().getGeneration()).orElse(0L)
        && Optional.ofNullable(s.getUpdatedReplicas()).orElse(0) >= want
        && Optional.ofNullable(s.getReplicas()).orElse(0) <= want
        && Optional.ofNullable(s.getAvailableReplicas()).orElse(0) >= want;
  }

  /**
   * Fails the step when one of {@code pods} has restarted {@code threshold} times or more since the
   * wait began: a HELD run's retry ({@code started.baselineRestarts() < 0}) counts restarts from
   * its first look at each pod ({@code baseline}), not those that held it. The message is {@code
   * what} + the pod + " is crash-looping" + {@code on} + its restarts.
   */
  static void failIfCrashLooping(
      List<UnitSnapshot> pods,
      WaitProgress started,
      Map<String, Integer> baseline,
      int threshold,
      String what,
      String on) {
    for (UnitSnapshot u : pods) {
      int base =
          started.baselineRestarts() < 0
              ? baseline.computeIfAbsent(u.name(), n -> u.restarts())
              : 0;
      if (u.restarts() - base >= threshold) {
        throw nonRetryable(
            FAILURE_UNIT_FAILED,
            what + u.name() + " is crash-looping" + on + " (" + u.restarts() + " restarts)");
      }
    }
  }

  static DeploymentCondition deadlinePassed(Deployment d) {
    if (d.getStatus() == null || d.getStatus().getConditions() == null) {
      return null;
    }
    for (DeploymentCondition c : d.getStatus().getConditions()) {
      if ("Progressing".equals(c.getType())
          && "False".equals(c.getStatus())
          && "ProgressDeadlineExceeded".equals(c.getReason())) {
        return c;
      }
    }
    return null;
  }

  // ---- inspect and history --------------------------------------------------------------------

  TargetSnapshot inspect(InspectRequest request) {
    Target target = request.target();
    Deployment d = read(target);
    if (d == null) {
      return new TargetSnapshot(
          false,
          List.of(
              "deployment "
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
    List<ReplicaSet> sets = replicaSets(d);
    ReplicaSet now = current(d, sets);
    PodTemplateSpec template = d.getSpec().getTemplate();
    TemplateChange.Result changed;
    try {
      changed = desired(d, sets, request.change(), target);
    } catch (IllegalArgumentException e) {
      changed =
          new TemplateChange.Result(
              template, TemplateChange.images(template), List.of(e.getMessage()));
    }
    List<Pod> pods = pods(d);
    String nowName = now == null ? null : now.getMetadata().getName();
    boolean settled = now != null && complete(d);
    String older =
        pods.stream()
            .map(Deployments::ownerSet)
            .filter(s -> s != null && !s.equals(nowName))
            .findFirst()
            .orElse(null);
    boolean changes = !TemplateChange.same(template, changed.template());
    List<CheckResult> checks = new ArrayList<>();
    List<String> diff = List.of();
    if (changed.problems().isEmpty() && changes) {
      checks.add(
          new CheckResult(
              "not-paused",
              !paused(d),
              paused(d)
                  ? target
                      + " is paused (spec.paused): its own rollout is stopped; run `kubectl"
                      + " rollout resume` first"
                  : "not paused"));
      diff = TemplateChange.diff(template, changed.template());
    }
    return new TargetSnapshot(
        true,
        changed.problems(),
        replicas(d),
        d.getSpec().getStrategy() == null ? "RollingUpdate" : d.getSpec().getStrategy().getType(),
        null,
        settled ? nowName : older != null ? older : nowName,
        nowName,
        Optional.ofNullable(d.getMetadata().getGeneration()).orElse(0L),
        d.getStatus() == null
            ? 0L
            : Optional.ofNullable(d.getStatus().getObservedGeneration()).orElse(0L),
        TemplateChange.images(template),
        changed.images(),
        changes,
        Marks.annotation(d),
        Marks.origin(d),
        units(pods, nowName),
        checks,
        diff,
        0,
        strategyJson(d),
        Map.of(),
        now == null || now.getMetadata().getAnnotations() == null
            ? null
            : now.getMetadata().getAnnotations().get(ClusterActivities.NOTE_DATA));
  }

  /**
   * The template the change asks for: the current one changed, or, for a rollback, the template of
   * the ReplicaSet with that revision number or name ({@code kubectl rollout undo --to-revision}).
   */
  static TemplateChange.Result desired(
      Deployment d, List<ReplicaSet> sets, UpgradePlan.Change change, Target target) {
    if (change.restore() == null) {
      return TemplateChange.apply(d.getSpec().getTemplate(), change, target.toString());
    }
    ReplicaSet found =
        sets.stream()
            .filter(
                rs ->
                    rs.getMetadata().getName().equals(change.restore())
                        || String.valueOf(revision(rs)).equals(change.restore()))
            .findFirst()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "revision "
                            + change.restore()
                            + " of "
                            + target
                            + " not found: its revisions are "
                            + sets.stream()
                                .map(rs -> revision(rs) + " (" + rs.getMetadata().getName() + ")")
                                .toList()));
    PodTemplateSpec template = templateOf(found);
    return new TemplateChange.Result(template, TemplateChange.images(template), List.of());
  }

  RevisionList revisions(ClusterActivities.RevisionsRequest request) {
    Deployment d = read(request.target());
    if (d == null) {
      return new RevisionList(false, null, null, List.of());
    }
    List<ReplicaSet> sets = replicaSets(d);
    List<RevisionInfo> revisions = new ArrayList<>();
    for (ReplicaSet rs : sets) {
      Map<String, String> notes = new TreeMap<>();
      Optional.ofNullable(rs.getMetadata().getAnnotations())
          .orElse(Map.of())
          .forEach(
              (k, v) -> {
                if (k.startsWith("lockstep.dev/")) {
                  notes.put(k, v);
                }
              });
      revisions.add(
          new RevisionInfo(
              revision(rs),
              rs.getMetadata().getName(),
              rs.getMetadata().getCreationTimestamp(),
              TemplateChange.images(templateOf(rs)),
              notes));
    }
    ReplicaSet now = current(d, sets);
    String name = now == null ? null : now.getMetadata().getName();
    return new RevisionList(true, name, complete(d) ? name : null, revisions);
  }

  // ---- the rolling strategy's writes
  // -------------------------------------------------------------

  @Override
  public Prepared prepare(DeploymentActivities.PrepareRequest request) {
    Target target = request.target();
    Deployment d = require(target);
    Marks.checkNotLocked(d, request.runId(), target);
    List<ReplicaSet> sets = replicaSets(d);
    TemplateChange.Result changed;
    try {
      changed = desired(d, sets, request.change(), target);
    } catch (IllegalArgumentException e) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, e.getMessage());
    }
    if (!changed.problems().isEmpty()) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", changed.problems()));
    }
    boolean ours = request.runId().equals(Marks.annotation(d));
    if (!ours) {
      // Until this write the template is still the one inspect saw; anything else is someone
      // else's change (a retry after the write finds the mark).
      ReplicaSet now = current(d, sets);
      String nowName = now == null ? null : now.getMetadata().getName();
      if (!Objects.equals(nowName, request.fromRevision())) {
        throw nonRetryable(
            FAILURE_TARGET_CHANGED,
            target
                + " changed since it was inspected: its template is now "
                + (nowName == null ? "one not rolled out yet" : "that of " + nowName)
                + ", not that of "
                + request.fromRevision());
      }
      // Mark, pause and change in one write: there is no moment when the change could roll out.
      d.getMetadata().getAnnotations().put(RUN_ANNOTATION, request.runId());
      if (request.origin() != null) {
        d.getMetadata().getAnnotations().put(ORIGIN_ANNOTATION, Marks.json(request.origin()));
      }
      d.getSpec().setPaused(true);
      d.getSpec().setTemplate(changed.template());
      d.setStatus(null);
      try {
        d = client.apps().deployments().inNamespace(target.namespace()).resource(d).update();
      } catch (KubernetesClientException e) {
        throw retryable(e, "could not apply the change to " + target);
      }
      LOG.info("prepared {}: paused, template changed", target);
    } else if (!TemplateChange.same(d.getSpec().getTemplate(), changed.template())) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED,
          target
              + ": spec.template is not the change this run wrote (images now "
              + TemplateChange.images(d.getSpec().getTemplate())
              + ")");
    }
    return new Prepared(expected(d), toldStart(d, request.cluster(), target, request.events()));
  }

  /** What a run expects the Deployment to stay: its template's hash, replicas and strategy. */
  static Expected expected(Deployment d) {
    return new Expected(hash(d.getSpec().getTemplate()), replicas(d), strategyJson(d));
  }

  /**
   * Records a run's start Events on the Deployment once (a retry finds them told).
   *
   * @return whether they are recorded (or there were none)
   */
  boolean toldStart(
      Deployment d, String cluster, Target target, List<ClusterActivities.ClusterEvent> events) {
    return events == null
        || events.isEmpty()
        || records.tell(
            d.getMetadata().getUid(), new RecordRequest(cluster, target, events, null, Map.of()));
  }

  /**
   * Marks the Deployment as this run's (its id and where it came from) in one merge patch that
   * carries the resourceVersion read, so a write in between fails it rather than being overwritten.
   */
  void mark(Target target, Deployment d, String runId, ClusterActivities.Origin origin) {
    ObjectNode body = Serialization.jsonMapper().createObjectNode();
    ObjectNode meta = body.putObject("metadata");
    meta.put("resourceVersion", d.getMetadata().getResourceVersion());
    ObjectNode annotations = meta.putObject("annotations");
    annotations.put(RUN_ANNOTATION, runId);
    if (origin != null) {
      annotations.put(ORIGIN_ANNOTATION, Marks.json(origin));
    }
    patch(target, body.toString());
  }

  /** Fails with the difference when the Deployment is not what the run left it. */
  private static void checkDrift(Deployment d, String runId, Expected expected, Target target) {
    Marks.checkOurs(d, runId, target);
    List<String> diff = new ArrayList<>();
    if (replicas(d) != expected.replicas()) {
      diff.add("spec.replicas " + expected.replicas() + " -> " + replicas(d));
    }
    Held held = held(d);
    if (!Objects.equals(userStrategy(d), expected.strategy())) {
      diff.add("spec.strategy " + expected.strategy() + " -> " + userStrategy(d));
    } else if (held != null && !holdsStep(d, held)) {
      diff.add(
          "spec.strategy, minReadySeconds or progressDeadlineSeconds changed while Lockstep held"
              + " the rollout at a step (strategy now "
              + strategyJson(d)
              + ", minReadySeconds "
              + d.getSpec().getMinReadySeconds()
              + ")");
    }
    if (!hash(d.getSpec().getTemplate()).equals(expected.templateHash())) {
      diff.add(
          "spec.template is not the one this run wrote (images now "
              + TemplateChange.images(d.getSpec().getTemplate())
              + ")");
    }
    if (!diff.isEmpty()) {
      throw nonRetryable(FAILURE_TARGET_CHANGED, String.join("; ", diff));
    }
  }

  /** Sets spec.paused, conditional on the resourceVersion read. */
  private void setPaused(Deployment d, boolean paused, Target target) {
    ObjectNode body = Serialization.jsonMapper().createObjectNode();
    body.putObject("metadata").put("resourceVersion", d.getMetadata().getResourceVersion());
    // Upstream never stores paused: false (omitempty): unpausing removes the field.
    if (paused) {
      body.putObject("spec").put("paused", true);
    } else {
      body.putObject("spec").putNull("paused");
    }
    patch(target, body.toString());
  }

  void patch(Target target, String mergePatch) {
    try {
      client
          .apps()
          .deployments()
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

  static WaitProgress progress(ActivityExecutionContext context, boolean retry) {
    Optional<WaitProgress> saved = context.getHeartbeatDetails(WaitProgress.class);
    return saved.orElseGet(() -> new WaitProgress(System.currentTimeMillis(), retry ? -1 : 0));
  }

  // ---- a rollout moved a bounded step at a time -----------------------------------------------
  //
  // Pausing a rollout once enough new pods are Ready races the controller: it acts on the same
  // readiness within milliseconds, so a fast rollout can run past the gate before the pause lands.
  // Instead, between prepare and the last ROLL step the Deployment runs with settings under which
  // the controller itself stops at the gate point: minReadySeconds so high that no new pod ever
  // counts as available to it (old pods keep their ReplicaSet's own minReadySeconds), and
  // maxSurge/maxUnavailable as absolute numbers whose sum is the count of new pods wanted. With no
  // new pod available, upstream's rolling update scales the old ReplicaSet down to no fewer than
  // replicas - maxUnavailable and the new one up to no more than replicas + maxSurge - old, so it
  // rests at exactly maxSurge + maxUnavailable new pods however fast they start
  // (kubernetes-semantics.md §2; rolling.go reconcileNewReplicaSet/reconcileOldReplicaSets). Each
  // move takes at most the user's own maxSurge + maxUnavailable new pods: first with the surge
  // (phase A: maxSurge = min(user's surge, move)), then with no surge, which only scales the old
  // pods down to replicas - count (phase B) while the new ones are Ready. progressDeadlineSeconds
  // is set to "none" meanwhile (upstream refuses a minReadySeconds that is not below it). The
  // user's values wait in ROLLOUT_ANNOTATION, written in the same update, and come back exactly
  // with the last ROLL step, a return, or a release.

  /** The user's rollout settings while the run holds the Deployment to a bounded step. */
  static final String ROLLOUT_ANNOTATION = "lockstep.dev/rollout";

  /** A minReadySeconds no pod reaches while a run holds the rollout (below NO_DEADLINE). */
  static final int NEVER_AVAILABLE = Integer.MAX_VALUE - 1;

  /** progressDeadlineSeconds meaning "no deadline" upstream (math.MaxInt32). */
  static final int NO_DEADLINE = Integer.MAX_VALUE;

  /**
   * What {@link #ROLLOUT_ANNOTATION} holds: the user's strategy (JSON), minReadySeconds and
   * progressDeadlineSeconds as they were, and the absolute maxSurge/maxUnavailable the run wrote.
   */
  public record Held(
      String strategy,
      Integer minReadySeconds,
      Integer progressDeadlineSeconds,
      int maxSurge,
      int maxUnavailable) {
    /** The count of new pods the controller rests at with these settings. */
    int count() {
      return maxSurge + maxUnavailable;
    }
  }

  static Held held(Deployment d) {
    String text =
        d.getMetadata().getAnnotations() == null
            ? null
            : d.getMetadata().getAnnotations().get(ROLLOUT_ANNOTATION);
    if (text == null) {
      return null;
    }
    try {
      return Serialization.jsonMapper().readValue(text, Held.class);
    } catch (java.io.IOException e) {
      throw nonRetryable(
          FAILURE_TARGET_CHANGED,
          "annotation " + ROLLOUT_ANNOTATION + " is not the one Lockstep wrote: " + text);
    }
  }

  /** The user's update strategy: held by the run, or the Deployment's own. */
  static String userStrategy(Deployment d) {
    Held h = held(d);
    return h != null ? h.strategy() : strategyJson(d);
  }

  /**
   * Upstream's {@code ResolveFenceposts} of a strategy for {@code replicas}: {maxSurge rounded up,
   * maxUnavailable rounded down}, never both 0; null for Recreate.
   */
  static int[] fenceposts(String strategyJson, int replicas) {
    DeploymentStrategy s =
        strategyJson == null
            ? null
            : Serialization.unmarshal(strategyJson, DeploymentStrategy.class);
    if (s != null && "Recreate".equals(s.getType())) {
      return null;
    }
    io.fabric8.kubernetes.api.model.apps.RollingUpdateDeployment r =
        s == null ? null : s.getRollingUpdate();
    int surge = scaled(r == null ? null : r.getMaxSurge(), replicas, true);
    int unavailable = scaled(r == null ? null : r.getMaxUnavailable(), replicas, false);
    if (surge == 0 && unavailable == 0) {
      unavailable = 1;
    }
    return new int[] {surge, unavailable};
  }

  private static int scaled(
      io.fabric8.kubernetes.api.model.IntOrString value, int replicas, boolean up) {
    if (value != null && value.getIntVal() != null) {
      return value.getIntVal();
    }
    String text = value == null || value.getStrVal() == null ? "25%" : value.getStrVal().trim();
    int percent = Integer.parseInt(text.substring(0, text.length() - 1));
    double exact = replicas * percent / 100.0;
    return (int) (up ? Math.ceil(exact) : Math.floor(exact));
  }

  private static DeploymentStrategy stepStrategy(int maxSurge, int maxUnavailable) {
    return new io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder()
        .withType("RollingUpdate")
        .withNewRollingUpdate()
        .withNewMaxSurge(maxSurge)
        .withNewMaxUnavailable(maxUnavailable)
        .endRollingUpdate()
        .build();
  }

  /** Whether the Deployment still has exactly the step settings {@code h} says the run wrote. */
  private static boolean holdsStep(Deployment d, Held h) {
    return holdsStrategy(d, h)
        && Objects.equals(d.getSpec().getMinReadySeconds(), NEVER_AVAILABLE)
        && Objects.equals(d.getSpec().getProgressDeadlineSeconds(), NO_DEADLINE);
  }

  private static boolean holdsStrategy(Deployment d, Held h) {
    DeploymentStrategy s = d.getSpec().getStrategy();
    return s != null
        && "RollingUpdate".equals(s.getType())
        && s.getRollingUpdate() != null
        && s.getRollingUpdate().getMaxSurge() != null
        && Objects.equals(s.getRollingUpdate().getMaxSurge().getIntVal(), h.maxSurge())
        && s.getRollingUpdate().getMaxUnavailable() != null
        && Objects.equals(s.getRollingUpdate().getMaxUnavailable().getIntVal(), h.maxUnavailable());
  }

  /**
   * The step settings the rollout should have now to reach {@code count} new pods: the current ones
   * while their move is under way, the next move once it is done.
   */
  static Held nextStep(
      Held now, String userStrategy, Deployment d, int replicas, int ready, int old, int count) {
    int[] user = fenceposts(userStrategy, replicas);
    int most = user[0] + user[1];
    int from;
    if (now == null) {
      from = ready;
    } else if (ready < now.count()) {
      return now;
    } else if (now.maxSurge() > 0) {
      // Phase A done: the new pods are Ready; now only scale the old ones down.
      return new Held(
          now.strategy(), now.minReadySeconds(), now.progressDeadlineSeconds(), 0, now.count());
    } else if (old > replicas - now.count()) {
      return now;
    } else {
      from = now.count();
    }
    Integer minReady = now == null ? d.getSpec().getMinReadySeconds() : now.minReadySeconds();
    Integer deadline =
        now == null ? d.getSpec().getProgressDeadlineSeconds() : now.progressDeadlineSeconds();
    if (from >= count) {
      // Enough new pods already (e.g. a run that paused late before this fix): old ones down only.
      return new Held(userStrategy, minReady, deadline, 0, count);
    }
    int to = Math.min(count, from + most);
    int surge = Math.min(user[0], to - from);
    return new Held(userStrategy, minReady, deadline, surge, to - surge);
  }

  /**
   * Puts the step settings {@code step} on the Deployment (or, with null, gives the user's back),
   * with {@code paused}, in one update conditional on the resourceVersion read.
   */
  private void write(Deployment d, Held step, Boolean paused, Target target) {
    Held was = held(d);
    if (step != null) {
      d.getMetadata().getAnnotations().put(ROLLOUT_ANNOTATION, Serialization.asJson(step));
      d.getSpec().setStrategy(stepStrategy(step.maxSurge(), step.maxUnavailable()));
      d.getSpec().setMinReadySeconds(NEVER_AVAILABLE);
      d.getSpec().setProgressDeadlineSeconds(NO_DEADLINE);
    } else if (was != null) {
      restoreUser(d, was);
    }
    d.getSpec().setPaused(paused);
    d.setStatus(null);
    try {
      client.apps().deployments().inNamespace(target.namespace()).resource(d).update();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        throw nonRetryable(FAILURE_TARGET_NOT_FOUND, target + " no longer exists");
      }
      throw retryable(e, "could not update " + target);
    }
  }

  /** The user's strategy, minReadySeconds and progressDeadlineSeconds back, without the note. */
  private static void restoreUser(Deployment d, Held was) {
    d.getMetadata().getAnnotations().remove(ROLLOUT_ANNOTATION);
    d.getSpec()
        .setStrategy(
            was.strategy() == null
                ? null
                : Serialization.unmarshal(was.strategy(), DeploymentStrategy.class));
    d.getSpec().setMinReadySeconds(was.minReadySeconds());
    d.getSpec().setProgressDeadlineSeconds(was.progressDeadlineSeconds());
  }

  @Override
  public Progress roll(RollRequest request) {
    Target target = request.target();
    ActivityExecutionContext context = Activity.getExecutionContext();
    WaitProgress started = progress(context, request.retry());
    Instant deadline =
        Instant.ofEpochMilli(started.startedAt()).plusSeconds(request.timeoutSeconds());
    Map<String, Integer> baseline = new HashMap<>();
    try (ClusterWatch.Changes changes = changes(target)) {
      while (true) {
        Deployment d = require(target);
        checkDrift(d, request.runId(), request.expected(), target);
        List<ReplicaSet> sets = replicaSets(d);
        ReplicaSet fresh = current(d, sets);
        String name = fresh == null ? null : fresh.getMetadata().getName();
        List<UnitSnapshot> units = units(pods(d), name);
        List<UnitSnapshot> onNew =
            units.stream().filter(u -> name != null && name.equals(u.revision())).toList();
        int ready = (int) onNew.stream().filter(UnitSnapshot::ready).count();
        int old = units.size() - onNew.size();
        failIfCrashLooping(
            onNew, started, baseline, request.crashLoopRestarts(), "pod ", " on " + name);
        DeploymentCondition deadlinePassed = deadlinePassed(d);
        if (deadlinePassed != null) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "deployment \""
                  + target.name()
                  + "\" exceeded its progress deadline"
                  + (deadlinePassed.getMessage() == null
                      ? ""
                      : ": " + deadlinePassed.getMessage()));
        }
        int replicas = replicas(d);
        String user = userStrategy(d);
        boolean bounded = !request.last() && fenceposts(user, replicas) != null;
        if (!request.last()
            && name != null
            && ready >= request.count()
            && (!bounded || old <= replicas - request.count())) {
          if (!paused(d)) {
            setPaused(d, true, target);
          }
          return new Progress(name, ready, units, false);
        }
        if (request.last()
            && name != null
            && complete(d)
            && units.stream().allMatch(u -> name.equals(u.revision()) && u.ready())) {
          return new Progress(name, ready, units, false);
        }
        Held now = held(d);
        if (bounded) {
          Held next = nextStep(now, user, d, replicas, ready, old, request.count());
          if (!next.equals(now) || paused(d)) {
            LOG.info(
                "{}: rolling to {} new pods (maxSurge {}, maxUnavailable {})",
                target,
                next.count(),
                next.maxSurge(),
                next.maxUnavailable());
            write(d, next, null, target);
          }
        } else if (now != null || paused(d)) {
          // The last step (or a Recreate Deployment, which has no bounded step): the user's own
          // settings back, and the controller finishes the rollout with them.
          write(d, null, null, target);
        }
        if (Instant.now().isAfter(deadline)) {
          throw nonRetryable(
              FAILURE_UNIT_FAILED,
              "only "
                  + ready
                  + " of "
                  + request.count()
                  + " pods Ready on the new version after "
                  + request.timeoutSeconds()
                  + "s");
        }
        context.heartbeat(started);
        this.await(changes, context, started, deadline);
      }
    }
  }

  @Override
  public Progress finish(DeploymentActivities.FinishRequest request) {
    Target target = request.target();
    ActivityExecutionContext context = Activity.getExecutionContext();
    WaitProgress started = progress(context, false);
    try (ClusterWatch.Changes changes = changes(target)) {
      while (true) {
        Deployment d = require(target);
        boolean ours = request.runId().equals(Marks.annotation(d));
        List<ReplicaSet> sets = replicaSets(d);
        ReplicaSet fresh = current(d, sets);
        String name = fresh == null ? null : fresh.getMetadata().getName();
        List<UnitSnapshot> units = units(pods(d), name);
        if (!ours) {
          // A retry after the write below: done once the Deployment is still on our revision.
          if (Objects.equals(name, request.toRevision()) && Marks.annotation(d) == null) {
            return told(request, d, name, units);
          }
          Marks.checkOurs(d, request.runId(), target);
        }
        checkDrift(d, request.runId(), request.expected(), target);
        if (Objects.equals(name, request.toRevision())
            && complete(d)
            && units.stream().allMatch(u -> name.equals(u.revision()) && u.ready())) {
          ObjectNode body = Serialization.jsonMapper().createObjectNode();
          ObjectNode meta = body.putObject("metadata");
          meta.put("resourceVersion", d.getMetadata().getResourceVersion());
          ObjectNode annotations = meta.putObject("annotations");
          annotations.putNull(RUN_ANNOTATION);
          annotations.putNull(ORIGIN_ANNOTATION);
          body.putObject("spec").putNull("paused");
          patch(target, body.toString());
          return told(request, d, name, units);
        }
        if (held(d) != null) {
          write(d, null, null, target);
        } else if (paused(d)) {
          setPaused(d, false, target);
        }
        context.heartbeat(started);
        this.await(changes, context, started, null);
      }
    }
  }

  private Progress told(
      DeploymentActivities.FinishRequest request,
      Deployment d,
      String name,
      List<UnitSnapshot> units) {
    boolean told = request.end() != null && records.tell(d.getMetadata().getUid(), request.end());
    int ready = (int) units.stream().filter(UnitSnapshot::ready).count();
    return new Progress(name, ready, units, told);
  }

  @Override
  public Progress revert(RevertRequest request) {
    Target target = request.target();
    ActivityExecutionContext context = Activity.getExecutionContext();
    WaitProgress started = progress(context, false);
    Instant deadline =
        Instant.ofEpochMilli(started.startedAt())
            .plusSeconds(Math.max(60, request.timeoutSeconds()));
    Deployment d = require(target);
    String holder = Marks.annotation(d);
    if (holder != null && !holder.equals(request.runId())) {
      throw nonRetryable(
          FAILURE_TARGET_LOCKED, target + " is marked as being changed by Lockstep run " + holder);
    }
    ReplicaSet back = restoring(d, request.fromRevision(), target);
    if (holder != null) {
      Held held = held(d);
      if (held != null) {
        restoreUser(d, held);
      }
      d.getMetadata().getAnnotations().remove(RUN_ANNOTATION);
      d.getMetadata().getAnnotations().remove(ORIGIN_ANNOTATION);
      d.getSpec().setTemplate(templateOf(back));
      d.getSpec().setReplicas(request.replicas());
      if (request.strategy() != null) {
        d.getSpec()
            .setStrategy(Serialization.unmarshal(request.strategy(), DeploymentStrategy.class));
      }
      d.getSpec().setPaused(null);
      d.setStatus(null);
      try {
        client.apps().deployments().inNamespace(target.namespace()).resource(d).update();
      } catch (KubernetesClientException e) {
        throw retryable(e, "could not return " + target + " to " + request.fromRevision());
      }
      LOG.info("returned {} to the template of {}", target, request.fromRevision());
    }
    try (ClusterWatch.Changes changes = changes(target)) {
      while (true) {
        d = require(target);
        String name = request.fromRevision();
        List<UnitSnapshot> units = units(pods(d), name);
        if (complete(d) && units.stream().allMatch(u -> name.equals(u.revision()) && u.ready())) {
          int ready = (int) units.stream().filter(UnitSnapshot::ready).count();
          return new Progress(name, ready, units, false);
        }
        if (Instant.now().isAfter(deadline)) {
          throw ApplicationFailure.newFailure(
              "timed out waiting for every pod of " + target + " Ready on " + name, "Timeout");
        }
        context.heartbeat(started);
        this.await(changes, context, started, deadline);
      }
    }
  }

  @Override
  public void release(DeploymentActivities.ReleaseRequest request) {
    Deployment d = require(request.target());
    if (request.runId().equals(Marks.annotation(d))) {
      Held held = held(d);
      if (held != null) {
        // Left as it is, but with the user's own rollout settings where the run's step settings
        // still are (`kubectl rollout resume` then finishes the rollout as the user would have
        // it); a setting someone else wrote meanwhile stays theirs.
        d.getMetadata().getAnnotations().remove(RUN_ANNOTATION);
        d.getMetadata().getAnnotations().remove(ORIGIN_ANNOTATION);
        d.getMetadata().getAnnotations().remove(ROLLOUT_ANNOTATION);
        if (holdsStrategy(d, held)) {
          d.getSpec()
              .setStrategy(
                  held.strategy() == null
                      ? null
                      : Serialization.unmarshal(held.strategy(), DeploymentStrategy.class));
        }
        if (Objects.equals(d.getSpec().getMinReadySeconds(), NEVER_AVAILABLE)) {
          d.getSpec().setMinReadySeconds(held.minReadySeconds());
        }
        if (Objects.equals(d.getSpec().getProgressDeadlineSeconds(), NO_DEADLINE)) {
          d.getSpec().setProgressDeadlineSeconds(held.progressDeadlineSeconds());
        }
        d.setStatus(null);
        try {
          client
              .apps()
              .deployments()
              .inNamespace(d.getMetadata().getNamespace())
              .resource(d)
              .update();
        } catch (KubernetesClientException e) {
          throw retryable(e, "could not release " + request.target());
        }
      } else {
        patch(request.target(), Marks.UNMARK);
      }
    }
  }

  /** The Service switch's wait: EndpointSlices are not watched, so it re-reads every 500 ms. */
  static void sleep() {
    try {
      Thread.sleep(POLL.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApplicationFailure.newFailure("interrupted", "Interrupted");
    }
  }
}
