package dev.lockstep.workflows;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A scripted cluster for workflow tests: a StatefulSet of {@code replicas} units on revision {@code
 * web-1} moving to {@code web-2}; records every call in order.
 */
class FakeCluster implements ClusterActivities {
  final List<String> calls = Collections.synchronizedList(new ArrayList<>());
  private final int replicas;
  volatile List<String> problems = List.of();
  volatile boolean allReady = true;
  volatile String failUnit;
  volatile String unhealthyUnit;
  volatile List<CheckResult> checks = List.of();

  /** The target already runs what the plan asks for (web=nginx:1.25). */
  volatile boolean unchanged;

  /** A dead run's mark: its run id, where it started, and how many units it upgraded. */
  volatile String mark;

  volatile Origin origin;

  /** The dead run's hook Jobs (hook to state), as inspect finds them by label. */
  volatile Map<String, String> markedRunHooks = Map.of();

  /** What the run that produced the current revision noted about the data. */
  volatile String revisionData;

  volatile int upgradedByDead;

  /** The worker's default notification targets, as the worker's inspect adds them. */
  volatile UpgradePlan.Notify workerNotify;

  /** When set, prepare waits for it: a test's chance to steer while a step runs. */
  volatile java.util.concurrent.CountDownLatch prepareGate;

  FakeCluster(int replicas) {
    this.replicas = replicas;
  }

  private List<UnitSnapshot> units(String revision) {
    List<UnitSnapshot> units = new ArrayList<>();
    for (int i = replicas - 1; i >= 0; i--) {
      units.add(new UnitSnapshot("web-" + i, i, revision, allReady, 0));
    }
    return units;
  }

  @Override
  public TargetSnapshot inspect(InspectRequest request) {
    TargetSnapshot found = target(request);
    return workerNotify == null ? found : found.withWorkerNotify(workerNotify);
  }

  private TargetSnapshot target(InspectRequest request) {
    calls.add("inspect");
    if (mark != null) {
      List<UnitSnapshot> units = units("web-1");
      for (int i = 0; i < upgradedByDead; i++) {
        UnitSnapshot u = units.get(i);
        units.set(i, new UnitSnapshot(u.name(), u.ordinal(), "web-2", true, 0));
      }
      return new TargetSnapshot(
          true,
          problems,
          replicas,
          "RollingUpdate",
          replicas - upgradedByDead,
          "web-1",
          "web-2",
          2,
          2,
          Map.of("web", "nginx:1.26"),
          Map.of("web", "nginx:1.26"),
          false,
          mark,
          origin,
          units,
          List.of(),
          List.of(),
          0,
          null,
          markedRunHooks,
          null);
    }
    return new TargetSnapshot(
        true,
        problems,
        replicas,
        "RollingUpdate",
        0,
        "web-1",
        "web-1",
        1,
        1,
        Map.of("web", "nginx:1.25"),
        Map.of("web", unchanged ? "nginx:1.25" : "nginx:1.26"),
        !unchanged,
        null,
        null,
        units("web-1"),
        checks,
        List.of("spec.containers[web].image: nginx:1.25 -> nginx:1.26"),
        0,
        null,
        Map.of(),
        revisionData);
  }

  /** Hooks that fail, by name. */
  final java.util.Set<String> failingHooks = java.util.concurrent.ConcurrentHashMap.newKeySet();

  @Override
  public HookResult runHook(HookRequest request) {
    calls.add("hook " + request.hook() + " " + request.jobName());
    if (failingHooks.contains(request.hook())) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          request.hook()
              + " hook failed: Job "
              + request.jobName()
              + " failed (BackoffLimitExceeded)",
          FAILURE_HOOK_FAILED);
    }
    return new HookResult(request.jobName(), 1);
  }

  @Override
  public void checkHealth(HealthRequest request) {
    calls.add("health " + request.pod());
    if (request.pod().equals(unhealthyUnit)) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          request.pod() + " failed its health check: GET :8080/health last answered 503",
          FAILURE_UNIT_FAILED);
    }
  }

  /** When set, prepare and finish fail to record what they are asked to tell (best effort). */
  volatile boolean tellingFails;

  /** Every Event recorded, as REASON (once per name, as the cluster would keep them). */
  final List<String> events = Collections.synchronizedList(new ArrayList<>());

  private final java.util.Set<String> eventNames =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  @Override
  public void record(RecordRequest request) {
    for (ClusterEvent e : request.events()) {
      if (eventNames.add(e.name())) {
        events.add(e.reason());
      }
    }
    if (request.revision() != null) {
      events.add("notes on " + request.revision() + ": " + request.notes().get(NOTE_OUTCOME));
    }
  }

  @Override
  public RevisionList revisions(RevisionsRequest request) {
    return new RevisionList(true, "web-1", "web-1", List.of());
  }

  @Override
  public void adopt(AdoptRequest request) {
    calls.add("adopt from " + request.deadRunId());
  }

  @Override
  public PrepareResult prepare(PrepareRequest request) {
    calls.add("prepare " + request.change().images());
    if (prepareGate != null) {
      try {
        prepareGate.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    boolean told = !request.events().isEmpty() && !tellingFails;
    if (told) {
      record(
          new RecordRequest(request.cluster(), request.target(), request.events(), null, Map.of()));
    }
    return new PrepareResult("web-2", replicas, told);
  }

  /** When set, the upgrade of {@link #latchUnit} waits for it. */
  volatile java.util.concurrent.CountDownLatch unitLatch;

  volatile String latchUnit;

  @Override
  public UnitResult upgradeUnit(UnitRequest request) {
    String name = "web-" + request.ordinal();
    calls.add("upgrade " + name);
    if (name.equals(latchUnit) && unitLatch != null) {
      try {
        unitLatch.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (name.equals(failUnit)) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          name + " is crash-looping on web-2 (3 restarts)", FAILURE_UNIT_FAILED);
    }
    return new UnitResult(name, "uid-" + name, request.toRevision(), true, 0);
  }

  @Override
  public FinishResult finish(FinishRequest request) {
    calls.add("finish " + request.strategy());
    boolean told = request.end() != null && !tellingFails;
    if (told) {
      record(request.end());
    }
    return new FinishResult("web-2", units("web-2"), told);
  }

  @Override
  public FinishResult scale(ScaleRequest request) {
    calls.add("scale to " + request.replicas());
    return new FinishResult("web-1", units("web-1"), false);
  }

  @Override
  public void release(ReleaseRequest request) {
    calls.add("release");
  }

  /** How many reverts fail before one succeeds, and with which failure type. */
  volatile int revertFailures;

  volatile String revertFailure = "Rejected";

  @Override
  public FinishResult revert(RevertRequest request) {
    calls.add("revert to " + request.fromRevision());
    if (revertFailures > 0) {
      revertFailures--;
      throw FAILURE_REJECTED.equals(revertFailure)
          ? io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
              "statefulsets.apps \"web\" is forbidden: User cannot update resource",
              FAILURE_REJECTED)
          : io.temporal.failure.ApplicationFailure.newFailure(
              "could not restore the template: the server is currently unable to handle the"
                  + " request",
              revertFailure);
    }
    return new FinishResult("web-1", units("web-1"), false);
  }
}
