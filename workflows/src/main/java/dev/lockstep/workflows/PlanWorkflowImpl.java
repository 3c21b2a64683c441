package dev.lockstep.workflows;

import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** {@link PlanWorkflow}: one read of the target, the checks, and the report. */
public class PlanWorkflowImpl implements PlanWorkflow {
  @Override
  public PlanReport plan(UpgradePlan plan) {
    String cluster = plan.effectiveCluster();
    Target target = Target.parse(plan.target(), "default");
    List<String> problems = new ArrayList<>(PlanValidation.problems(plan));
    if (!problems.isEmpty()) {
      return report(plan, target, problems, List.of(), List.of(), null);
    }
    ClusterActivities reader =
        Workflow.newActivityStub(
            ClusterActivities.class,
            ActivityOptions.newBuilder()
                .setStartToCloseTimeout(Duration.ofMinutes(2))
                .setRetryOptions(
                    RetryOptions.newBuilder()
                        .setMaximumAttempts(3)
                        .setDoNotRetry(ClusterActivities.FAILURE_TARGET_NOT_FOUND)
                        .build())
                .build());
    ClusterActivities.TargetSnapshot snapshot;
    try {
      snapshot =
          reader.inspect(
              new ClusterActivities.InspectRequest(
                  cluster, target, plan.effectiveChange(), Boolean.TRUE.equals(plan.scaleUp())));
    } catch (ActivityFailure e) {
      String why =
          e.getCause() instanceof ApplicationFailure app
              ? app.getOriginalMessage()
              : String.valueOf(e.getCause());
      return report(
          plan, target, List.of("could not read the target: " + why), List.of(), List.of(), null);
    }
    if (!snapshot.problems().isEmpty()) {
      return report(plan, target, snapshot.problems(), List.of(), List.of(), snapshot);
    }
    List<String> refusals = new ArrayList<>();
    if (snapshot.runAnnotation() != null) {
      refusals.add(PreChecks.heldBy(snapshot, target, Names.workflowId(cluster, target), cluster));
    }
    List<PreChecks.Result> checks =
        plan.repair() == null ? PreChecks.evaluate(snapshot, plan.effectiveForce()) : List.of();
    String unchanged = null;
    if (plan.repair() == null && !snapshot.changesTemplate()) {
      // As the upgrade decides it: unchanged (exit 0) only when nothing is half done either;
      // otherwise the checks say why it would not start.
      if (refusals.isEmpty()
          && PreChecks.evaluate(snapshot, List.of()).stream().allMatch(PreChecks.Result::passed)) {
        unchanged = "already runs " + snapshot.images();
      } else {
        refusals.add(
            "the change changes nothing: " + target + " already runs " + snapshot.images());
      }
    }
    PlanReport report = report(plan, target, List.of(), refusals, checks, snapshot);
    return unchanged == null
        ? report
        : new PlanReport(
            report.target(),
            report.cluster(),
            report.canStart(),
            report.problems(),
            report.refusals(),
            report.checks(),
            report.fromRevision(),
            report.fromImages(),
            report.toImages(),
            report.templateDiff(),
            List.of(),
            List.of(),
            List.of(),
            report.rollbackCommand(),
            List.of(),
            unchanged);
  }

  private static PlanReport report(
      UpgradePlan plan,
      Target target,
      List<String> problems,
      List<String> refusals,
      List<PreChecks.Result> checks,
      ClusterActivities.TargetSnapshot snapshot) {
    String cluster = plan.effectiveCluster();
    boolean canStart =
        problems.isEmpty()
            && refusals.isEmpty()
            && checks.stream().allMatch(c -> c.passed() || c.forced());
    List<String> names = new ArrayList<>();
    List<String> units = new ArrayList<>();
    if (snapshot != null && snapshot.found()) {
      if (Boolean.TRUE.equals(plan.scaleUp())) {
        names.add(target.name() + "-" + snapshot.replicas());
        units.add(names.get(0) + " (added first, removed at the end)");
      }
      snapshot.units().forEach(u -> names.add(u.name()));
      snapshot.units().forEach(u -> units.add(u.name()));
    }
    List<String> gates = new ArrayList<>();
    String resume = ": lockstep resume " + target + Names.clusterFlag(cluster);
    boolean deployment = Target.DEPLOYMENT.equals(target.kind());
    boolean canary = plan.strategy() != null && plan.strategy().canary() != null;
    if (deployment && canary && snapshot != null && snapshot.found()) {
      for (Step s :
          DeploymentCanaryStrategy.compile(plan, snapshot.replicas(), TargetStrategy.Start.FRESH)) {
        if (s.kind() == Step.Kind.GATE) {
          gates.add("canary " + s.subject() + resume);
        }
      }
    } else if (deployment
        && plan.strategy() != null
        && plan.strategy().blueGreen() != null
        && snapshot != null
        && snapshot.found()) {
      for (Step s :
          DeploymentBlueGreenStrategy.compile(
              plan, snapshot.replicas(), TargetStrategy.Start.FRESH)) {
        if (s.kind() == Step.Kind.GATE) {
          gates.add("blue-green " + s.subject() + resume);
        }
      }
    } else if (deployment && snapshot != null && snapshot.found()) {
      for (int count : DeploymentRollingStrategy.gates(plan, snapshot.replicas())) {
        gates.add("at " + count + " of " + snapshot.replicas() + " new pods Ready" + resume);
      }
    }
    switch (deployment ? UpgradePlan.Gate.NONE : plan.effectiveGate()) {
      case FIRST -> {
        if (names.size() > 1) {
          gates.add("after " + names.get(0) + resume);
        }
      }
      case EACH -> {
        for (int i = 0; i + 1 < names.size(); i++) {
          gates.add("after " + names.get(i) + resume);
        }
      }
      case NONE -> {}
    }
    return new PlanReport(
        target.toString(),
        cluster,
        canStart,
        List.copyOf(problems),
        List.copyOf(refusals),
        List.copyOf(checks),
        snapshot == null ? null : snapshot.updateRevision(),
        snapshot == null ? Map.of() : snapshot.images(),
        snapshot == null ? Map.of() : snapshot.newImages(),
        snapshot == null || snapshot.templateDiff() == null ? List.of() : snapshot.templateDiff(),
        units,
        gates,
        hooks(plan, names),
        "lockstep rollback " + target + Names.clusterFlag(cluster),
        steps(plan, target, snapshot),
        null);
  }

  /** The steps a run of {@code plan} would walk: what {@code status} will show as it goes. */
  private static List<String> steps(
      UpgradePlan plan, Target target, ClusterActivities.TargetSnapshot snapshot) {
    if (snapshot == null || !snapshot.found()) {
      return List.of();
    }
    List<String> steps = new ArrayList<>(List.of("collect", "pre-checks"));
    if (Target.DEPLOYMENT.equals(target.kind())
        && plan.strategy() != null
        && plan.strategy().canary() != null) {
      DeploymentCanaryStrategy.compile(plan, snapshot.replicas(), TargetStrategy.Start.FRESH)
          .forEach(s -> steps.add(s.describe()));
      return steps;
    }
    if (Target.DEPLOYMENT.equals(target.kind())
        && plan.strategy() != null
        && plan.strategy().blueGreen() != null) {
      DeploymentBlueGreenStrategy.compile(plan, snapshot.replicas(), TargetStrategy.Start.FRESH)
          .forEach(s -> steps.add(s.describe()));
      return steps;
    }
    if (Target.DEPLOYMENT.equals(target.kind())) {
      DeploymentRollingStrategy.compile(plan, snapshot.replicas(), TargetStrategy.Start.FRESH)
          .forEach(s -> steps.add(s.describe()));
      return steps;
    }
    ClusterActivities.Origin origin = snapshot.origin();
    if (plan.repair() != null && origin != null) {
      boolean scaledUp = snapshot.replicas() > origin.replicas();
      if (plan.repair() == UpgradePlan.Repair.RESTORE) {
        steps.add("adopt");
        steps.add("revert " + origin.fromRevision());
        if (scaledUp) {
          steps.add(
              "scale-back " + target.name() + "-" + (snapshot.ordinalStart() + origin.replicas()));
          steps.add("release");
        }
        return steps;
      }
      List<String> left = new ArrayList<>();
      snapshot.units().stream()
          .filter(u -> !u.ready() || !u.revision().equals(snapshot.updateRevision()))
          .forEach(u -> left.add(u.name()));
      StatefulSetStrategy.compile(plan, left, TargetStrategy.Start.ADOPTED, null, scaledUp)
          .forEach(s -> steps.add(s.describe()));
      return steps;
    }
    List<String> order = new ArrayList<>();
    boolean scaleUp = Boolean.TRUE.equals(plan.scaleUp()) && plan.repair() == null;
    String extra =
        scaleUp ? target.name() + "-" + (snapshot.ordinalStart() + snapshot.replicas()) : null;
    if (extra != null) {
      order.add(extra);
    }
    snapshot.units().forEach(u -> order.add(u.name()));
    StatefulSetStrategy.compile(plan, order, TargetStrategy.Start.FRESH, extra, scaleUp)
        .forEach(s -> steps.add(s.describe()));
    return steps;
  }

  /** The hooks that would run, in order, and what a rollback would do about the data. */
  private static List<String> hooks(UpgradePlan plan, List<String> units) {
    UpgradePlan.Hooks hooks = plan.effectiveHooks();
    List<String> lines = new ArrayList<>();
    if (hooks.backup() != null) {
      lines.add("backup, before any change: " + hooks.backup().describe());
    }
    if (hooks.migrate() != null) {
      lines.add(
          "migrate, once, after "
              + (units.isEmpty() ? "the first unit" : units.get(0))
              + " is verified and before the gate: "
              + hooks.migrate().describe());
    }
    if (hooks.test() != null) {
      lines.add("test, after every unit: " + hooks.test().describe());
    }
    if (plan.effectiveMigration().forwardOnly()) {
      if (hooks.restore() != null) {
        lines.add(
            "restore, before the units go back in a rollback after the migration: "
                + hooks.restore().describe());
      } else if (Boolean.TRUE.equals(plan.effectiveMigration().acceptDataRisk())) {
        lines.add(
            "no restore hook: a rollback after the migration runs the old version on migrated"
                + " data (migration.acceptDataRisk: true)");
      } else {
        lines.add(
            "no restore hook: a rollback after the migration would HOLD until"
                + " `lockstep rollback --accept-data-risk` or abandon");
      }
    }
    return lines;
  }
}
