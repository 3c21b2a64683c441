package dev.lockstep.starter;

import dev.lockstep.workflows.HelmActivities;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.PlanReport;
import dev.lockstep.workflows.PreChecks;
import dev.lockstep.workflows.StatusTable;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lockstep plan TARGET ...}: the same options as {@code upgrade}; runs the checks on the
 * worker and prints what the upgrade would do. Writes nothing to the cluster.
 */
@Command(
    name = "plan",
    footerHeading = "%nExamples:%n",
    footer = {
      "  lockstep plan demo/statefulset/postgresql --image postgresql=postgres:14.9",
      "  lockstep plan -f upgrade.yaml -o json",
      "  lockstep plan demo/helm/ghostwire --chart examples/charts/ghostwire --version 0.3.0"
    },
    description =
        "Runs the pre-checks and prints what the upgrade would do (template diff, units in order, gates, rollback command); changes nothing. Takes the options of upgrade. Exit 0 if the upgrade could start, 1 with every failing check otherwise. For a Helm release (NAMESPACE/helm/RELEASE): --chart, --version, -f/--values, --set, --reuse-values|--reset-values, as helm upgrade takes them; prints the values diff, each object's change (Secret values never shown), the workloads in the order they would move, and the hooks.")
final class PlanCommand extends UpgradeCommand {
  @Option(
      names = "-o",
      paramLabel = "FORMAT",
      defaultValue = "table",
      description = "table (default), json or yaml.")
  String output;

  @Override
  int run() {
    checkOutput(output);
    Target release = releaseTarget();
    if (release != null) {
      return planRelease(release);
    }
    UpgradePlan plan = validPlan();
    Duration wait = duration("--verdict-timeout", verdictTimeout);
    WorkflowClient client = temporal();
    Target t = Target.parse(plan.target(), defaultNamespace());
    String cluster = plan.effectiveCluster();
    String running = runningUpgrade(client, Names.workflowId(cluster, t));
    WorkflowStub stub =
        client.newUntypedWorkflowStub(
            "PlanWorkflow",
            WorkflowOptions.newBuilder()
                .setWorkflowId(Names.planWorkflowId(cluster, t, UUID.randomUUID().toString()))
                .setTaskQueue(Names.taskQueue(cluster))
                .setWorkflowExecutionTimeout(Duration.ofMinutes(10))
                .build());
    stub.start(plan);
    PlanReport report;
    try {
      report = stub.getResult(wait.toMillis(), TimeUnit.MILLISECONDS, PlanReport.class);
    } catch (TimeoutException e) {
      stub.terminate("no worker answered within " + verdictTimeout);
      throw new CliFailure(
          CliFailure.UNREACHABLE,
          "no worker of cluster "
              + cluster
              + " answered within "
              + verdictTimeout
              + ": is `lockstep worker --cluster "
              + cluster
              + "` running?");
    }
    if (running != null) {
      List<String> refusals = new ArrayList<>(report.refusals());
      // The mark is the running upgrade's own, not a dead run's.
      refusals.removeIf(r -> r.contains("marked by Lockstep run " + running));
      refusals.add(
          0,
          "another upgrade of "
              + t
              + " is running (run "
              + running
              + "): see `lockstep status "
              + t
              + Names.clusterFlag(cluster)
              + "`");
      report = report.refusedWith(refusals);
    }
    PlanReport shown = report;
    print(output, shown, () -> render(shown, plan));
    if (!report.problems().isEmpty()) {
      return CliFailure.BAD_INPUT;
    }
    return report.canStart() ? 0 : CliFailure.FAILED;
  }

  /**
   * {@code plan NAMESPACE/helm/RELEASE --chart DIR ...}: the worker reads the release and renders
   * the chart; the CLI prints what the upgrade would do. Each problem is one line, exit 2.
   */
  private int planRelease(Target release) {
    refuseWorkloadOptions(release);
    HelmActivities.ReleaseRequest request = chartArgs.request(release, files);
    Duration wait = duration("--verdict-timeout", verdictTimeout);
    duration("--heartbeat-timeout", heartbeatTimeout);
    String cluster = cluster();
    HelmActivities.ReleasePlan plan =
        askReleasePlan(temporal(), cluster, release, request, wait, verdictTimeout);
    if (!plan.problems().isEmpty()) {
      var err = spec.commandLine().getErr();
      plan.problems().forEach(p -> err.println("lockstep: " + p + "; nothing was changed"));
      err.flush();
      return CliFailure.BAD_INPUT;
    }
    print(output, plan, () -> renderRelease(release, cluster, plan));
    return 0;
  }

  /**
   * Asks the worker of {@code cluster} for the plan of a release's upgrade (a short run that
   * changes nothing); also what {@code lockstep upgrade --dry-run} shows.
   */
  static HelmActivities.ReleasePlan askReleasePlan(
      WorkflowClient client,
      String cluster,
      Target release,
      HelmActivities.ReleaseRequest request,
      Duration wait,
      String verdictTimeout) {
    WorkflowStub stub =
        client.newUntypedWorkflowStub(
            "ReleasePlanWorkflow",
            WorkflowOptions.newBuilder()
                .setWorkflowId(Names.planWorkflowId(cluster, release, UUID.randomUUID().toString()))
                .setTaskQueue(Names.taskQueue(cluster))
                .setWorkflowExecutionTimeout(Duration.ofMinutes(10))
                .build());
    stub.start(request);
    HelmActivities.ReleasePlan plan;
    try {
      plan =
          stub.getResult(wait.toMillis(), TimeUnit.MILLISECONDS, HelmActivities.ReleasePlan.class);
    } catch (TimeoutException e) {
      stub.terminate("no worker answered within " + verdictTimeout);
      throw new CliFailure(
          CliFailure.UNREACHABLE,
          "no worker of cluster "
              + cluster
              + " answered within "
              + verdictTimeout
              + ": is `lockstep worker --cluster "
              + cluster
              + "` running?");
    } catch (WorkflowFailedException e) {
      throw new CliFailure(
          CliFailure.FAILED,
          "the worker could not plan " + release + ": " + oneLine(rootCause(e)),
          e);
    }
    return plan;
  }

  /** The options of a workload's plan mean nothing for a Helm release: refused, not ignored. */
  private void refuseWorkloadOptions(Target release) {
    List<String> given = new ArrayList<>();
    if (!images.isEmpty()) {
      given.add("--image");
    }
    if (gate != null) {
      given.add("--gate");
    }
    if (onFailure != null) {
      given.add("--on-failure");
    }
    if (strategy != null) {
      given.add("--strategy");
    }
    if (unitTimeout != null) {
      given.add("--unit-timeout");
    }
    if (scaleUp != null) {
      given.add("--scale-up");
    }
    if (!force.isEmpty()) {
      given.add("--force");
    }
    if (!given.isEmpty()) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          String.join(", ", given)
              + " not taken for a Helm release ("
              + release
              + "): the chart and its values say what changes (--chart, --version, -f, --set)");
    }
  }

  private static Throwable rootCause(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t;
  }

  static String renderRelease(Target release, String cluster, HelmActivities.ReleasePlan r) {
    StringBuilder s = new StringBuilder();
    s.append("Plan for ")
        .append(release)
        .append(" (cluster ")
        .append(cluster)
        .append("), now on revision ")
        .append(r.fromRevision())
        .append('\n');
    s.append("\nChart: ").append(r.fromChart()).append(" -> ").append(r.toChart()).append('\n');
    s.append("\nValues (supplied):\n");
    lines(s, r.valuesDiff(), "(no change)");
    s.append("\nValues (chart defaults):\n");
    lines(s, r.chartDefaultsDiff(), "(no change)");
    s.append("\nObjects:\n");
    List<List<String>> rows = new ArrayList<>();
    for (HelmActivities.ObjectChange o : r.objects()) {
      rows.add(List.of("  " + o.change(), o.key() + (o.workload() ? " (workload)" : "")));
    }
    if (rows.isEmpty()) {
      s.append("  (none)\n");
    } else {
      s.append(StatusTable.columns(rows));
    }
    for (HelmActivities.ObjectChange o : r.objects()) {
      if (!o.diff().isEmpty() && !o.change().equals("unchanged")) {
        s.append("\n  ").append(o.change()).append(' ').append(o.key()).append(":\n");
        o.diff().forEach(d -> s.append("    ").append(d).append('\n'));
      }
    }
    s.append("\nWorkloads, in the order they would move:\n");
    if (r.workloads().isEmpty()) {
      s.append("  none\n");
    }
    for (int i = 0; i < r.workloads().size(); i++) {
      HelmActivities.WorkloadMove w = r.workloads().get(i);
      s.append("  ").append(i + 1).append(". ").append(w.key()).append(" (").append(w.change());
      if (w.subchart()) {
        s.append(", subchart");
      }
      s.append(')');
      if (w.change().equals("create")) {
        s.append(" new: created, then waited until every replica is Ready");
      } else if (w.change().equals("delete")) {
        s.append(" removed from the chart: deleted last, after the rest is Ready");
      }
      if (w.declaredDowntime()) {
        s.append(" DECLARED DOWNTIME: deleted and created again, after the backup");
      }
      s.append('\n');
    }
    if (!r.hooks().isEmpty()) {
      s.append("\nHooks:\n");
      r.hooks().forEach(h -> s.append("  ").append(h).append('\n'));
    }
    long changed = r.objects().stream().filter(o -> !o.change().equals("unchanged")).count();
    if (changed == 0) {
      s.append("\nThe upgrade would change no object. Nothing was changed.\n");
    } else {
      s.append("\nThe upgrade could start (")
          .append(changed)
          .append(changed == 1 ? " object changes" : " objects change")
          .append("). Nothing was changed.\n");
    }
    return s.toString();
  }

  private static void lines(StringBuilder s, List<String> lines, String none) {
    if (lines.isEmpty()) {
      s.append("  ").append(none).append('\n');
    }
    lines.forEach(l -> s.append("  ").append(l).append('\n'));
  }

  /** The run id of the target's running upgrade, or null. */
  private static String runningUpgrade(WorkflowClient client, String workflowId) {
    try {
      var description = client.newUntypedWorkflowStub(workflowId).describe();
      return description.getStatus() == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
          ? description.getExecution().getRunId()
          : null;
    } catch (WorkflowNotFoundException e) {
      return null;
    }
  }

  static String render(PlanReport r, UpgradePlan plan) {
    StringBuilder s = new StringBuilder();
    s.append("Plan for ").append(r.target()).append(" (cluster ").append(r.cluster()).append(")");
    if (r.fromRevision() != null) {
      s.append(", now on revision ").append(r.fromRevision());
    }
    s.append('\n');
    if (!r.problems().isEmpty()) {
      s.append("\nInvalid plan, nothing else was checked:\n");
      r.problems().forEach(p -> s.append("  ").append(p).append('\n'));
      return s.toString();
    }
    if (r.unchanged() != null) {
      s.append("\nUnchanged: ")
          .append(r.target())
          .append(' ')
          .append(r.unchanged())
          .append(": `lockstep upgrade` would end at once, unchanged (exit 0).\n");
      appendChecks(s, r);
      s.append("\nNothing to do. Nothing was changed.\n");
      return s.toString();
    }
    if (plan.repair() != null) {
      s.append("\nRepair: ").append(plan.repair().name().toLowerCase(java.util.Locale.ROOT));
      s.append(" the change of the run that ended outside Lockstep\n");
    } else {
      s.append("\nChange:\n");
      if (r.templateDiff().isEmpty()) {
        s.append("  (nothing)\n");
      }
      r.templateDiff().forEach(d -> s.append("  ").append(d).append('\n'));
    }
    s.append("\nUnits, in the order they would be replaced:\n");
    for (int i = 0; i < r.units().size(); i++) {
      s.append("  ").append(i + 1).append(". ").append(r.units().get(i)).append('\n');
    }
    s.append("\nGates:\n");
    if (r.gates().isEmpty()) {
      s.append("  none\n");
    }
    r.gates().forEach(g -> s.append("  ").append(g).append('\n'));
    if (!r.steps().isEmpty()) {
      s.append("\nSteps (what `lockstep status` shows as the run walks them):\n");
      for (int i = 0; i < r.steps().size(); i++) {
        s.append("  ").append(i).append(". ").append(r.steps().get(i)).append('\n');
      }
    }
    if (!r.hooks().isEmpty()) {
      s.append("\nHooks:\n");
      r.hooks().forEach(h -> s.append("  ").append(h).append('\n'));
    }
    appendChecks(s, r);
    if (!r.refusals().isEmpty()) {
      s.append("\nRefused:\n");
      r.refusals().forEach(p -> s.append("  ").append(p).append('\n'));
    }
    s.append("\nRollback once started: ").append(r.rollbackCommand()).append('\n');
    long failing = r.checks().stream().filter(c -> !c.passed() && !c.forced()).count();
    if (r.canStart()) {
      s.append("The upgrade could start. Nothing was changed.\n");
    } else {
      s.append("The upgrade would not start (")
          .append(failing)
          .append(failing == 1 ? " check fails" : " checks fail")
          .append(r.refusals().isEmpty() ? "" : ", " + r.refusals().size() + " refused")
          .append("). Nothing was changed.\n");
    }
    return s.toString();
  }

  private static void appendChecks(StringBuilder s, PlanReport r) {
    if (!r.checks().isEmpty()) {
      s.append("\nChecks:\n");
      List<List<String>> rows = new ArrayList<>();
      rows.add(List.of("  Check", "Result", "Detail"));
      for (PreChecks.Result c : r.checks()) {
        rows.add(
            List.of(
                "  " + c.name(),
                c.passed() ? "ok" : c.forced() ? "forced" : "FAILED",
                c.message()));
      }
      s.append(StatusTable.columns(rows));
    }
  }
}
