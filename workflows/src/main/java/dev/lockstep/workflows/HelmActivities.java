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
   * upgrade} would, and says what the upgrade would do (workloads it creates and deletes included).
   * Changes nothing; safe to repeat. Bad input is reported in {@link ReleasePlan#problems()}, not
   * thrown: so is a workload whose kind would change, or one to create whose name a workload that
   * is not the release's holds.
   */
  ReleasePlan planRelease(ReleaseRequest request);

  /**
   * A workload of the release that the upgrade moves, with the pod template the new rendering gives
   * it (what its child run applies).
   *
   * @param key {@code Kind/name}
   * @param kind {@code statefulset} or {@code deployment}
   * @param change {@code update} (a child run moves its pod template), {@code create} or {@code
   *     delete} (the release's run creates or deletes it with {@link #placeWorkload})
   * @param template the new {@code spec.template} (empty for {@code delete})
   */
  record WorkloadUpgrade(
      String key,
      String kind,
      String name,
      String change,
      boolean subchart,
      boolean declaredDowntime,
      Map<String, Object> template) {}

  /** Mark the release {@code pending-upgrade} for this run. */
  record BeginRequest(ReleaseRequest request, String runId) {}

  /**
   * The release held for the run: the plan (with {@code problems} when refused: then nothing was
   * written), the revision it moves from and the {@code pending-upgrade} revision it wrote, and the
   * workloads to move in order.
   */
  record PendingUpgrade(
      ReleasePlan plan, int fromRevision, int toRevision, List<WorkloadUpgrade> workloads) {}

  /**
   * Plans the upgrade as {@link #planRelease} does, then marks the release as {@code helm upgrade}
   * does while it works: a new revision with status {@code pending-upgrade} holding the new chart,
   * values, manifest and hooks, so that another {@code helm upgrade} is refused by Helm itself.
   * Refused (problems, nothing written) when another operation holds the release, when the upgrade
   * would change the kind of a workload, or create one whose name a workload that is not the
   * release's holds. The workloads returned include those the upgrade creates ({@code create}, in
   * the plan's order) and removes ({@code delete}, last). Idempotent: a retry by the same run finds
   * its own pending revision and writes nothing.
   */
  PendingUpgrade beginUpgrade(BeginRequest request);

  /**
   * Move the non-workload objects of the release from one stored revision's manifest to another's.
   */
  record ObjectsRequest(String namespace, String release, int fromRevision, int toRevision) {}

  /**
   * Creates, patches and deletes the release's objects that are not workloads, from what revision
   * {@code fromRevision} rendered to what {@code toRevision} rendered, as {@code helm upgrade} does
   * (three-way, keep policy, Helm's ownership metadata); with the revisions swapped it undoes them.
   * Idempotent. Returns one line per object acted on.
   */
  List<String> moveObjects(ObjectsRequest request);

  /**
   * One workload of a stored revision's manifest, to make exist (created, then waited Ready) or not
   * (deleted, then waited gone): a workload an upgrade adds or removes, or its undoing.
   *
   * @param revision the revision whose manifest renders the workload (for {@code present}: what is
   *     created; otherwise which object is deleted, and whether Helm's keep policy spares it)
   * @param key {@code Kind/name}, as the plan names it
   * @param present true: create it when absent and wait until every replica is Ready; false: delete
   *     it when present (its pods go with it) and wait until it is gone
   * @param readySeconds how long each replica may take to become Ready (the plan's unit timeout)
   */
  record WorkloadPresence(
      String namespace,
      String release,
      int revision,
      String key,
      boolean present,
      long readySeconds) {}

  /**
   * Creates (with Helm's ownership metadata, as {@code helm upgrade} creates a new object) or
   * deletes one workload of the release and waits for the result, heartbeating: created, it is done
   * when all its replicas are Ready on the template created; deleted, when the API server no longer
   * has it. Idempotent: a workload already there (this release's) is not created again, one already
   * gone is not deleted again, so a retry after a crash at any line only waits. Fails (not retried)
   * when a workload of that name exists that is not this release's (as Helm refuses to adopt it),
   * when the API server refuses the object, or when a created workload is not Ready in time ({@code
   * readySeconds} per replica). Returns one line for the run's story.
   */
  String placeWorkload(WorkloadPresence request);

  /** Run the hooks of one event of a stored revision. */
  record HooksRequest(
      String cluster, String namespace, String release, int revision, String event, String runId) {}

  /**
   * Runs the revision's hooks of {@code event} ({@code pre-upgrade}, {@code post-upgrade}, {@code
   * test}) one at a time in Helm's order (weight, then name), each as a Job named after the hook,
   * the event and the run, so a retried activity adopts the Job it started instead of starting
   * another. Fails (not retried) when a hook's Job fails. Returns one line per hook run.
   */
  List<String> runHooks(HooksRequest request);

  /**
   * Close the upgrade in Helm's storage.
   *
   * @param deployed true: {@code toRevision} deployed and {@code fromRevision} superseded; false:
   *     {@code toRevision} failed with {@code description}, {@code fromRevision} left deployed
   */
  record FinishRequest(
      String namespace,
      String release,
      int fromRevision,
      int toRevision,
      boolean deployed,
      String description) {}

  /**
   * Writes the end of the upgrade as Helm records it. Idempotent: a revision already in the state
   * asked for is not written again. A deployed revision's description is {@code description} when
   * given ({@code Rollback to N} for a rollback), else {@code Upgrade complete}.
   */
  void finishUpgrade(FinishRequest request);

  /**
   * Roll the release back to a stored revision, as {@code helm rollback RELEASE REVISION}.
   *
   * @param toRevision the revision whose manifest and values come back
   * @param runId the run that holds the release while it works
   */
  record RollbackRequest(String namespace, String release, int toRevision, String runId) {}

  /**
   * Plans the rollback and marks the release as {@code helm rollback} does while it works: a new
   * revision (numbered after the latest) with revision {@code toRevision}'s chart, values, manifest
   * and hooks, status {@code pending-rollback}, description {@code Rollback to N}. Refused
   * (problems, nothing written) when the release or the revision does not exist, another operation
   * holds the release, the revision is the deployed one (nothing to do), or a workload would change
   * kind (one created or deleted moves as in an upgrade). The returned plan's {@code toChart} is
   * the revision's chart; {@code fromRevision} the deployed one. Idempotent: a retry by the same
   * run finds its own pending revision and writes nothing.
   */
  PendingUpgrade beginRollback(RollbackRequest request);

  /** One release, to read or repair. */
  record ReleaseRef(String namespace, String release) {}

  /**
   * One revision as {@code helm history} lists it.
   *
   * @param updated when it was last deployed (RFC 3339)
   * @param chart {@code NAME-VERSION}
   */
  record ReleaseRevision(
      int revision,
      String updated,
      String status,
      String chart,
      String appVersion,
      String description) {}

  /**
   * Every stored revision of the release, oldest first, as {@code helm history} reads them; empty
   * when Helm knows no such release. Reads only.
   */
  List<ReleaseRevision> releaseHistory(ReleaseRef release);

  /**
   * A repair of a release that something left {@code pending-upgrade} or {@code pending-rollback}.
   *
   * @param apply false: only say what the repair would do; true: do it
   * @param identity who asks, for the revision's description
   */
  record RepairRequest(String namespace, String release, boolean apply, String identity) {}

  /**
   * What a repair found and did.
   *
   * @param problems why there is nothing to repair (no such release, its latest revision is not
   *     pending), one line each; then nothing was written
   * @param revision the pending revision (written {@code failed} when {@code done})
   * @param status its status as found
   * @param description its description as found
   * @param deployedRevision the last deployed revision (0 when none), which stays deployed
   * @param workloads one line per workload of the pending revision: what it runs now, against what
   *     the deployed and the pending revision give it
   * @param done whether the revision is now {@code failed}
   */
  record ReleaseRepair(
      List<String> problems,
      int revision,
      String status,
      String description,
      int deployedRevision,
      List<String> workloads,
      boolean done) {}

  /**
   * Reads the release's latest revision and, when it is pending and {@code apply} is set, writes it
   * {@code failed} (as Helm records an interrupted operation), so that Helm and Lockstep can
   * upgrade or roll back again; the deployed revision and the workloads are left as they are.
   * Idempotent: a retry finds the revision it already wrote failed and answers the same.
   */
  ReleaseRepair repairRelease(RepairRequest request);
}
