package dev.lockstep.workflows;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A scripted Helm release for workflow tests: three StatefulSets ({@code db} from a subchart, then
 * {@code cache}, then {@code app}) moving from revision 1 to 2, each unit as {@link FakeCluster}
 * plays it. {@link #journal} records, in order, what the release's run and its children did.
 */
class FakeRelease extends FakeCluster implements HelmActivities {
  static final String NS = "demo";
  static final String RELEASE = "shop";
  static final List<String> WORKLOADS = List.of("db", "cache", "app");

  final List<String> journal = Collections.synchronizedList(new ArrayList<>());

  /** The workload whose units crash-loop on the new revision. */
  volatile String failWorkload;

  /** The problems the plan gives (refused). */
  volatile List<String> refuse = List.of();

  /**
   * Revision 2 also adds the Deployment {@code search} (created after {@code cache}) and removes
   * the StatefulSet {@code legacy} (deleted last), as a chart upgrade that adds and removes a
   * workload plans it.
   */
  volatile boolean addsAndRemoves;

  /** The workload whose creation never becomes Ready. */
  volatile String notReady;

  /** The hook event that fails. */
  volatile String failHooks;

  /** While set, creating a workload waits (heartbeating) until it is counted down. */
  volatile java.util.concurrent.CountDownLatch holdCreate;

  FakeRelease() {
    super(2);
  }

  static Target target() {
    return new Target(NS, Releases.KIND, RELEASE);
  }

  static HelmActivities.ReleaseRequest request() {
    return new HelmActivities.ReleaseRequest(
        NS,
        RELEASE,
        new HelmActivities.ChartFiles("shop", Map.of()),
        "0.2.0",
        List.of(),
        List.of(),
        "default");
  }

  @Override
  public ReleasePlan planRelease(HelmActivities.ReleaseRequest request) {
    throw new UnsupportedOperationException();
  }

  @Override
  public PendingUpgrade beginUpgrade(BeginRequest request) {
    journal.add("begin");
    if (!refuse.isEmpty()) {
      return new PendingUpgrade(
          new ReleasePlan(
              refuse, 0, null, null, List.of(), List.of(), List.of(), List.of(), List.of()),
          0,
          0,
          List.of());
    }
    List<WorkloadUpgrade> workloads = new ArrayList<>();
    List<WorkloadMove> moves = new ArrayList<>();
    for (String name : WORKLOADS) {
      Map<String, Object> template =
          Map.of(
              "spec", Map.of("containers", List.of(Map.of("name", "web", "image", name + ":2.0"))));
      workloads.add(
          new WorkloadUpgrade(
              "StatefulSet/" + name,
              Target.STATEFULSET,
              name,
              "update",
              name.equals("db"),
              false,
              template));
      moves.add(new WorkloadMove("StatefulSet/" + name, "update", name.equals("db"), false));
    }
    if (addsAndRemoves) {
      workloads.add(
          2,
          new WorkloadUpgrade(
              "Deployment/search",
              Target.DEPLOYMENT,
              "search",
              "create",
              false,
              false,
              Map.of(
                  "spec",
                  Map.of("containers", List.of(Map.of("name", "search", "image", "search:1.0"))))));
      moves.add(2, new WorkloadMove("Deployment/search", "create", false, false));
      workloads.add(
          new WorkloadUpgrade(
              "StatefulSet/legacy",
              Target.STATEFULSET,
              "legacy",
              "delete",
              false,
              false,
              Map.of()));
      moves.add(new WorkloadMove("StatefulSet/legacy", "delete", false, false));
    }
    return new PendingUpgrade(
        new ReleasePlan(
            List.of(),
            1,
            "shop-0.1.0",
            "shop-0.2.0",
            List.of(),
            List.of(),
            List.of(),
            moves,
            List.of()),
        1,
        2,
        workloads);
  }

  /**
   * A rollback to revision 1 from revision 2 deployed: revision 3 pending-rollback, the same three
   * workloads going back to their 1.0 images. Refused as {@link #refuse} says.
   */
  @Override
  public PendingUpgrade beginRollback(RollbackRequest request) {
    journal.add("begin rollback to " + request.toRevision());
    if (!refuse.isEmpty()) {
      return new PendingUpgrade(
          new ReleasePlan(
              refuse, 0, null, null, List.of(), List.of(), List.of(), List.of(), List.of()),
          0,
          0,
          List.of());
    }
    List<WorkloadUpgrade> workloads = new ArrayList<>();
    List<WorkloadMove> moves = new ArrayList<>();
    for (String name : WORKLOADS) {
      Map<String, Object> template =
          Map.of(
              "spec", Map.of("containers", List.of(Map.of("name", "web", "image", name + ":1.0"))));
      workloads.add(
          new WorkloadUpgrade(
              "StatefulSet/" + name,
              Target.STATEFULSET,
              name,
              "update",
              name.equals("db"),
              false,
              template));
      moves.add(new WorkloadMove("StatefulSet/" + name, "update", name.equals("db"), false));
    }
    return new PendingUpgrade(
        new ReleasePlan(
            List.of(),
            2,
            "shop-0.2.0",
            "shop-0.1.0",
            List.of(),
            List.of(),
            List.of(),
            moves,
            List.of()),
        2,
        3,
        workloads);
  }

  @Override
  public List<ReleaseRevision> releaseHistory(ReleaseRef release) {
    throw new UnsupportedOperationException();
  }

  @Override
  public ReleaseRepair repairRelease(RepairRequest request) {
    throw new UnsupportedOperationException();
  }

  @Override
  public List<String> moveObjects(ObjectsRequest request) {
    journal.add("objects " + request.fromRevision() + " -> " + request.toRevision());
    return List.of("ConfigMap/shop updated");
  }

  @Override
  public String placeWorkload(WorkloadPresence request) {
    String what =
        (request.present() ? "create " : "delete ")
            + request.key()
            + " of revision "
            + request.revision();
    journal.add(what);
    if (request.present() && holdCreate != null) {
      try {
        while (!holdCreate.await(100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
          io.temporal.activity.Activity.getExecutionContext().heartbeat(null);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (request.present() && request.key().equals(notReady) && request.revision() == 2) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          request.key() + " created but not Ready within 600s (0/1 Ready)", "WorkloadNotReady");
    }
    return request.key() + (request.present() ? " created, 1/1 Ready" : " deleted");
  }

  @Override
  public List<String> runHooks(HooksRequest request) {
    journal.add("hooks " + request.event());
    if (request.event().equals(failHooks)) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          "Job shop-test failed (BackoffLimitExceeded)", ClusterActivities.FAILURE_HOOK_FAILED);
    }
    return List.of();
  }

  @Override
  public void finishUpgrade(HelmActivities.FinishRequest request) {
    journal.add(
        "revision "
            + request.toRevision()
            + (request.deployed()
                ? " deployed" + (request.description() == null ? "" : ": " + request.description())
                : " failed: " + request.description()));
  }

  @Override
  public TargetSnapshot inspect(InspectRequest request) {
    journal.add(
        (request.change().restore() != null ? "rollback " : "upgrade ") + request.target().name());
    return super.inspect(request);
  }

  @Override
  public UnitResult upgradeUnit(UnitRequest request) {
    if (request.target().name().equals(failWorkload)) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          request.target().name() + "-" + request.ordinal() + " is crash-looping (3 restarts)",
          FAILURE_UNIT_FAILED);
    }
    return super.upgradeUnit(request);
  }

  @Override
  public FinishResult revert(RevertRequest request) {
    journal.add("revert " + request.target().name());
    return super.revert(request);
  }
}
