package dev.lockstep.workflows;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;
import java.util.Map;

/**
 * What the upgrade workflow asks of the cluster. Implemented with fabric8 in the {@code activities}
 * module. Every method is idempotent: a retry after a crash at any line neither redoes nor skips a
 * unit, and no method ever deletes or replaces a pod that is already on the revision it moves units
 * to. Failures that a retry cannot fix are non-retryable {@code ApplicationFailure}s whose type is
 * one of the {@code FAILURE_...} constants and whose message a human can act on. No method puts the
 * pod template in its result, so a secret written literally in a template never reaches the
 * workflow history.
 */
@ActivityInterface
public interface ClusterActivities {
  /** The target does not exist. */
  String FAILURE_TARGET_NOT_FOUND = "TargetNotFound";

  /** Someone else changed the target while Lockstep worked on it. */
  String FAILURE_TARGET_CHANGED = "TargetChanged";

  /** Another Lockstep run's annotation is on the target. */
  String FAILURE_TARGET_LOCKED = "TargetLocked";

  /** A unit did not become Ready on the new revision (timeout or crash loop). */
  String FAILURE_UNIT_FAILED = "UnitFailed";

  /**
   * The API server refused a request in a way no retry can change (403 forbidden by RBAC, 422
   * invalid, 400, an admission webhook's denial): the message is the API server's.
   */
  String FAILURE_REJECTED = "Rejected";

  /**
   * A unit upgraded earlier in the run broke while a later one was upgrading: the message names the
   * earlier unit, the cause.
   */
  String FAILURE_UPGRADED_UNIT_FAILED = "UpgradedUnitFailed";

  /** A hook's Job failed, or did not finish in time. */
  String FAILURE_HOOK_FAILED = "HookFailed";

  /** The annotation naming the Lockstep run that is changing a target. */
  String RUN_ANNOTATION = "lockstep.dev/run";

  /**
   * The annotation, written with {@link #RUN_ANNOTATION} and removed with it, that records where
   * the run started ({@link Origin} as JSON): what a repair needs when the run that wrote it is
   * gone.
   */
  String ORIGIN_ANNOTATION = "lockstep.dev/origin";

  /**
   * Reads the target and measures the plan's change against it. Changes nothing; safe to repeat. A
   * missing target or an unknown container is reported in {@link TargetSnapshot#problems()}, not
   * thrown.
   */
  @ActivityMethod
  TargetSnapshot inspect(InspectRequest request);

  /**
   * Pins the partition at the replica count (so nothing moves), marks the target with the run's
   * annotation and applies the template change, in one write; then waits until the StatefulSet
   * controller has observed it. Idempotent: a retry finds the change made and only waits. Fails
   * with {@link #FAILURE_TARGET_CHANGED} when the target is no longer what {@code inspect} saw.
   */
  @ActivityMethod
  PrepareResult prepare(PrepareRequest request);

  /**
   * Lowers the partition to the unit's ordinal (never raises it) and waits, on shared watches,
   * until that pod is Ready on the new revision; heartbeats while it waits. Fails with {@link
   * #FAILURE_UNIT_FAILED} when the unit crash-loops past the plan's threshold or is not Ready
   * within the unit timeout (counted from the first attempt, across retries). With {@code retry} (a
   * HELD upgrade's retry), restarts before this attempt do not count. Once the unit is Ready,
   * records a {@code UnitUpgraded} Event named {@code eventName} (once, whatever the retries).
   */
  @ActivityMethod
  UnitResult upgradeUnit(UnitRequest request);

  /**
   * Waits until every unit is Ready on the new revision and the controller has made it current,
   * then puts back the user's own update strategy and removes the run's annotation. Idempotent.
   */
  @ActivityMethod
  FinishResult finish(FinishRequest request);

  /**
   * Restores the template of the original revision so that the units already upgraded return to it
   * (highest first, as the controller replaces them), deletes units stuck not Ready on another
   * revision (the documented fix for kubernetes#67250), waits until every unit is Ready on the
   * original revision, then puts back the user's update strategy and removes the annotation. Units
   * that never moved are never touched. Idempotent.
   */
  @ActivityMethod
  FinishResult revert(RevertRequest request);

  /**
   * Releases the target exactly as it is: removes this run's {@link #RUN_ANNOTATION} and nothing
   * else (template, partition and pods stay). Idempotent.
   */
  @ActivityMethod
  void release(ReleaseRequest request);

  /**
   * Sets the replica count (marking the target with this run's {@link #RUN_ANNOTATION}) and waits
   * until exactly that many units are Ready; with {@code revision}, the new units must be on it.
   * Scaling down removes the highest ordinals, as the controller does. Idempotent.
   */
  @ActivityMethod
  FinishResult scale(ScaleRequest request);

  /**
   * Takes the target over from a run that ended outside Lockstep: replaces that run's {@link
   * #RUN_ANNOTATION} with this run's, keeping its {@link #ORIGIN_ANNOTATION}, in one write that
   * fails if the target changed in between. Idempotent: a target already marked by this run is left
   * as it is. Fails with {@link #FAILURE_TARGET_CHANGED} when the target is no longer marked by the
   * dead run.
   */
  @ActivityMethod
  void adopt(AdoptRequest request);

  /**
   * The plan's health check of one unit, through the API server's pod proxy: polls until it answers
   * as expected {@code successes} times in a row. Fails with {@link #FAILURE_UNIT_FAILED} when that
   * does not happen within {@code timeoutSeconds} (counted from the first attempt, across worker
   * restarts), saying what the unit last answered. Reads only.
   */
  @ActivityMethod
  void checkHealth(HealthRequest request);

  /**
   * Runs a hook: creates its Job, named {@code jobName} (deterministic per run, step and attempt,
   * so a retry after a crash adopts the Job it created instead of starting a second), and waits
   * until it completes, heartbeating. Fails with {@link #FAILURE_HOOK_FAILED}, the Job's failure
   * reason and the tail of its log, when the Job fails; deletes the Job and fails the same way when
   * it does not finish within the hook's timeout (counted from the first attempt).
   */
  @ActivityMethod
  HookResult runHook(HookRequest request);

  /**
   * One hook to run.
   *
   * @param hook backup, migrate, test or restore
   * @param spec what to run
   * @param jobName the Job's name
   * @param service the Service the hook is to test ({@code LOCKSTEP_SERVICE} in its environment): a
   *     blue-green's preview Service; null for none
   */
  record HookRequest(
      String cluster,
      Target target,
      String hook,
      UpgradePlan.Hook spec,
      String jobName,
      String runId,
      String service) {
    public HookRequest(
        String cluster,
        Target target,
        String hook,
        UpgradePlan.Hook spec,
        String jobName,
        String runId) {
      this(cluster, target, hook, spec, jobName, runId, null);
    }
  }

  /** The hook's Job, and how long it ran. */
  record HookResult(String jobName, long seconds) {}

  /**
   * Tells the cluster what happened: Kubernetes Events on the target (so {@code kubectl describe}
   * tells the story), and, with {@code revision}, annotations on that ControllerRevision recording
   * the run that produced it (its outcome, who started it, its run id), which outlive Temporal's
   * retention. Events have names fixed by the workflow: a retried call creates none twice.
   * Idempotent; a missing target is not an error.
   */
  @ActivityMethod
  void record(RecordRequest request);

  /**
   * What to record.
   *
   * @param events the Events to create
   * @param revision the ControllerRevision to annotate, or null
   * @param notes the annotations for it
   */
  record RecordRequest(
      String cluster,
      Target target,
      List<ClusterEvent> events,
      String revision,
      Map<String, String> notes) {}

  /** One Kubernetes Event: its name, reason (UpgradeStarted...), Normal or Warning, message. */
  record ClusterEvent(String name, String reason, String type, String message) {}

  /** The annotations a run leaves on the ControllerRevision it produced. */
  String NOTE_RUN = "lockstep.dev/run-id";

  String NOTE_OUTCOME = "lockstep.dev/outcome";
  String NOTE_STARTED_BY = "lockstep.dev/started-by";
  String NOTE_REASON = "lockstep.dev/reason";
  String NOTE_FINISHED_AT = "lockstep.dev/finished-at";

  /**
   * The notes of the earlier runs that produced the same revision (a rollback reuses the revision
   * it returns to): a JSON array of objects keyed by the other notes' names, oldest first, the last
   * {@link #EARLIER_RUNS_KEPT}. A run's notes are appended here, never overwritten.
   */
  String NOTE_EARLIER_RUNS = "lockstep.dev/earlier-runs";

  int EARLIER_RUNS_KEPT = 20;

  /**
   * Set to {@link #DATA_MIGRATED_FORWARD} on the revision a run completed on after migrating data
   * forward only: going back from it needs the data restored first.
   */
  String NOTE_DATA = "lockstep.dev/data";

  String DATA_MIGRATED_FORWARD = "migrated-forward-only";

  /** The target's revisions, oldest first, with what Lockstep recorded on them. */
  @ActivityMethod
  RevisionList revisions(RevisionsRequest request);

  /** Which target's revisions. */
  record RevisionsRequest(String cluster, Target target) {}

  /**
   * The revisions.
   *
   * @param found whether the target exists
   * @param updateRevision the StatefulSet's status.updateRevision
   * @param currentRevision its status.currentRevision
   * @param revisions its ControllerRevisions, by revision number
   */
  record RevisionList(
      boolean found, String updateRevision, String currentRevision, List<RevisionInfo> revisions) {}

  /**
   * One ControllerRevision: number, name, when created, images, Lockstep's notes, and the notes of
   * the earlier runs that produced it too (oldest first).
   */
  record RevisionInfo(
      long revision,
      String name,
      String created,
      Map<String, String> images,
      Map<String, String> notes,
      List<Map<String, String>> earlierRuns) {

    /** Without earlier runs' notes (a revision produced once). */
    public RevisionInfo(
        long revision,
        String name,
        String created,
        Map<String, String> images,
        Map<String, String> notes) {
      this(revision, name, created, images, notes, List.of());
    }
  }

  /** One unit's health check. */
  record HealthRequest(
      String cluster,
      Target target,
      String pod,
      UpgradePlan.Health health,
      long timeoutSeconds,
      long intervalMillis) {}

  /** Which dead run to take {@code target} over from. */
  record AdoptRequest(String cluster, Target target, String deadRunId, String runId) {}

  /**
   * Where a run started, kept on the target while the run holds it.
   *
   * @param workflowId the run's workflow id (one per target and cluster name)
   * @param fromRevision the revision the run started from
   * @param strategyType the user's update strategy type, put back at the end
   * @param partition the user's partition, or null
   * @param replicas the user's replica count (a run that scales up adds one)
   * @param updateStrategy the user's whole {@code spec.updateStrategy} as JSON, put back exactly
   *     (null when the target had none written)
   * @param forwardOnly whether the run's plan migrates data forward only ({@code
   *     migration.reversible: false}): a repair that restores must put the data back first
   */
  record Origin(
      String workflowId,
      String fromRevision,
      String strategyType,
      Integer partition,
      int replicas,
      String updateStrategy,
      boolean forwardOnly) {}

  /**
   * The replica count to reach, and the revision new units must come up on (or null); {@code
   * origin}, when the write is the run's first, is recorded with the mark.
   */
  record ScaleRequest(
      String cluster, Target target, int replicas, String revision, String runId, Origin origin) {}

  /** Which run lets go of which target. */
  record ReleaseRequest(String cluster, Target target, String runId) {}

  /**
   * What to inspect: the target and the change the plan asks for; with {@code scaleUp}, the
   * capacity check counts the extra unit.
   */
  record InspectRequest(
      String cluster, Target target, UpgradePlan.Change change, boolean scaleUp) {}

  /** The answer of one pre-check that needs the cluster. */
  record CheckResult(String name, boolean passed, String message) {}

  /**
   * The target as it is, without its template.
   *
   * @param found whether the target exists
   * @param problems why the plan cannot run against it (missing target, unknown container)
   * @param replicas spec.replicas
   * @param strategyType RollingUpdate or OnDelete
   * @param partition the user's partition (RollingUpdate), or null
   * @param currentRevision status.currentRevision
   * @param updateRevision status.updateRevision
   * @param generation metadata.generation
   * @param observedGeneration status.observedGeneration
   * @param images container name to current image
   * @param newImages container name to image after the change
   * @param changesTemplate whether the change alters the pod template at all
   * @param runAnnotation the value of {@link #RUN_ANNOTATION}, or null
   * @param origin what {@link #ORIGIN_ANNOTATION} records, or null
   * @param checks the answers of the checks that need the cluster (capacity, disruption,
   *     compatibility, immutable fields, dry run); empty when the plan has problems
   * @param templateDiff what the change does to the pod template, one line per changed field, with
   *     the values of env variables never shown
   * @param units the pods, highest ordinal first
   * @param ordinalStart {@code spec.ordinals.start}: the lowest ordinal (partitions count from it)
   * @param updateStrategy the whole {@code spec.updateStrategy} as JSON, or null
   * @param markedRunHooks for the run whose mark is on the target: its hook Jobs, found by their
   *     label, hook name to the Job's state ({@code Running}, {@code Complete}, {@code Failed})
   * @param revisionData what the run that produced the update revision noted about the data ({@link
   *     #NOTE_DATA}), or null
   * @param workerNotify the worker's default notification targets, for a plan without {@code
   *     notify:}: references ({@link Notifications#WORKER_WEBHOOK}N), never the URLs, which stay in
   *     the worker's configuration; null when the worker has none. Read with the target so that the
   *     history records what the run uses: a run started before the worker's configuration changed
   *     keeps what it was given.
   */
  record TargetSnapshot(
      boolean found,
      List<String> problems,
      int replicas,
      String strategyType,
      Integer partition,
      String currentRevision,
      String updateRevision,
      long generation,
      long observedGeneration,
      Map<String, String> images,
      Map<String, String> newImages,
      boolean changesTemplate,
      String runAnnotation,
      Origin origin,
      List<UnitSnapshot> units,
      List<CheckResult> checks,
      List<String> templateDiff,
      int ordinalStart,
      String updateStrategy,
      Map<String, String> markedRunHooks,
      String revisionData,
      UpgradePlan.Notify workerNotify) {

    /** A snapshot without the worker's notification defaults. */
    public TargetSnapshot(
        boolean found,
        List<String> problems,
        int replicas,
        String strategyType,
        Integer partition,
        String currentRevision,
        String updateRevision,
        long generation,
        long observedGeneration,
        Map<String, String> images,
        Map<String, String> newImages,
        boolean changesTemplate,
        String runAnnotation,
        Origin origin,
        List<UnitSnapshot> units,
        List<CheckResult> checks,
        List<String> templateDiff,
        int ordinalStart,
        String updateStrategy,
        Map<String, String> markedRunHooks,
        String revisionData) {
      this(
          found,
          problems,
          replicas,
          strategyType,
          partition,
          currentRevision,
          updateRevision,
          generation,
          observedGeneration,
          images,
          newImages,
          changesTemplate,
          runAnnotation,
          origin,
          units,
          checks,
          templateDiff,
          ordinalStart,
          updateStrategy,
          markedRunHooks,
          revisionData,
          null);
    }

    /** This snapshot with the worker's notification defaults. */
    public TargetSnapshot withWorkerNotify(UpgradePlan.Notify defaults) {
      return new TargetSnapshot(
          found,
          problems,
          replicas,
          strategyType,
          partition,
          currentRevision,
          updateRevision,
          generation,
          observedGeneration,
          images,
          newImages,
          changesTemplate,
          runAnnotation,
          origin,
          units,
          checks,
          templateDiff,
          ordinalStart,
          updateStrategy,
          markedRunHooks,
          revisionData,
          defaults);
    }
  }

  /** One pod as seen. */
  record UnitSnapshot(String name, int ordinal, String revision, boolean ready, int restarts) {}

  /**
   * The user's update strategy, to put back at the end: exactly {@code spec} (the whole {@code
   * spec.updateStrategy} as JSON, e.g. with its {@code maxUnavailable}) when known, else the type
   * and partition.
   */
  record Strategy(String type, Integer partition, String spec) {}

  /**
   * What {@code prepare} does.
   *
   * @param change the change, with container names resolved
   * @param fromRevision the revision {@code inspect} saw; anything else is someone else's change
   * @param runId the run, written to {@link #RUN_ANNOTATION}
   * @param origin where the run started, written to {@link #ORIGIN_ANNOTATION} with the mark
   * @param events Events to record once the change is written (the run's start), best effort
   */
  record PrepareRequest(
      String cluster,
      Target target,
      UpgradePlan.Change change,
      String fromRevision,
      String runId,
      Origin origin,
      List<ClusterEvent> events) {}

  /**
   * The revision units move to, the replica count pinned, and whether the request's events were
   * recorded (false: the workflow records them on their own).
   */
  record PrepareResult(String toRevision, int replicas, boolean told) {}

  /**
   * One unit to move to {@code toRevision}: done once its pod has stayed Ready for {@code
   * soakSeconds} (and the StatefulSet's {@code minReadySeconds}); {@code partitionBefore} counts
   * from the StatefulSet's first ordinal, as the partition does.
   */
  record UnitRequest(
      String cluster,
      Target target,
      int ordinal,
      String toRevision,
      long unitTimeoutSeconds,
      int crashLoopRestarts,
      String runId,
      boolean retry,
      String eventName,
      int replicas,
      int partitionBefore,
      long soakSeconds) {}

  /** The unit as it ended up. */
  record UnitResult(String name, String uid, String revision, boolean ready, int restarts) {}

  /**
   * Finish an upgrade on {@code toRevision}; then, best effort, record {@code end} (the run's end
   * Event and its notes on the revision), when given.
   */
  record FinishRequest(
      String cluster,
      Target target,
      String toRevision,
      Strategy strategy,
      String runId,
      RecordRequest end) {}

  /** Return every unit to {@code fromRevision}. */
  record RevertRequest(
      String cluster,
      Target target,
      String fromRevision,
      Strategy strategy,
      long timeoutSeconds,
      String runId) {}

  /**
   * The units at the end, highest ordinal first, and whether the request's end was recorded (false
   * when none was given or recording it failed).
   */
  record FinishResult(String currentRevision, List<UnitSnapshot> units, boolean told) {}
}
