package dev.lockstep.devstack;

import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.StatusTable;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Steering;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UnitStatus;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeRequest;
import dev.lockstep.workflows.UpgradeStatus;
import dev.lockstep.workflows.UpgradeWorkflow;
import dev.lockstep.workflows.Upgrades;
import io.temporal.client.WorkflowClient;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lockstep demo}: starts the embedded stack on free ports and upgrades {@code
 * demo/statefulset/postgresql} from postgres:14.8 to 14.9 with the first-unit gate, showing the
 * status as it changes, resuming at the gate as {@code lockstep resume} does, then summarising;
 * with {@code --deployment STRATEGY}, {@link DeploymentDemo} upgrades the Deployment instead.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = "A demonstration upgrade of a 3-unit PostgreSQL on the embedded stack.")
class DemoCommand implements Callable<Integer> {
  static final String TARGET = "demo/statefulset/postgresql";

  @Option(
      names = "--pod-startup",
      defaultValue = "1s",
      description = "Simulated pod start-up time.")
  String podStartup;

  @Option(
      names = "--deployment",
      paramLabel = "STRATEGY",
      description =
          "Upgrade the Deployment demo/deployment/aeterna instead, with this strategy: rolling,"
              + " canary or blue-green; each step is printed with the Service's traffic share per version.")
  String deployment;

  @Override
  public Integer call() throws Exception {
    DeploymentDemo deploymentDemo = null;
    if (deployment != null) {
      try {
        deploymentDemo = DeploymentDemo.of(deployment);
      } catch (IllegalArgumentException e) {
        System.err.println("lockstep demo: " + e.getMessage());
        return 2;
      }
    }
    Path dir = Files.createTempDirectory("lockstep-demo");
    say("Starting the embedded stack: Temporal test server, kubesim (a simulated Kubernetes),");
    say("one worker, and example workloads in namespace demo...");
    try (DevStack stack =
        DevStack.start(
            new DevStack.Settings(
                0,
                0,
                dev.lockstep.workflows.Durations.parse(podStartup),
                true,
                true,
                dir.resolve("kubeconfig")))) {
      awaitSeeded(stack);
      WorkflowServiceStubs service =
          WorkflowServiceStubs.newConnectedServiceStubs(
              WorkflowServiceStubsOptions.newBuilder().setTarget(stack.temporalAddress()).build(),
              Duration.ofSeconds(10));
      try {
        WorkflowClient client = WorkflowClient.newInstance(service);
        return deploymentDemo == null ? run(client, stack) : deploymentDemo.run(client, stack);
      } finally {
        service.shutdownNow();
      }
    }
  }

  private int run(WorkflowClient client, DevStack stack) throws InterruptedException {
    UpgradePlan plan =
        UpgradePlan.builder()
            .target(TARGET)
            .cluster(Names.DEFAULT_CLUSTER)
            .images(Map.of("postgresql", "postgres:14.9"))
            .gate(UpgradePlan.Gate.FIRST)
            .unitTimeout("2m")
            .build();
    say("");
    say("$ lockstep upgrade " + TARGET + " --image postgresql=postgres:14.9 --gate first");
    Instant began = Instant.now();
    Upgrades.Started started =
        Upgrades.start(
            client, new UpgradeRequest(plan, "demo@lockstep", "minor upgrade 14.8 -> 14.9", 0));
    say(
        "upgrade started (run "
            + started.runId()
            + "), from revision "
            + started.verdict().fromRevision());
    say("rollback: lockstep rollback " + TARGET);
    say("");
    UpgradeWorkflow upgrade = client.newWorkflowStub(UpgradeWorkflow.class, started.workflowId());
    String last = "";
    boolean resumed = false;
    UpgradeStatus status;
    while (true) {
      status = upgrade.status();
      String table = StatusTable.render(status);
      if (!table.equals(last)) {
        System.out.println(table);
        last = table;
      }
      if (status.phase() == Phase.WAITING_FOR_RESUME && !resumed) {
        say("The first unit runs postgres:14.9 and is Ready; the others wait at the gate.");
        say("A human would look at it now. The demo resumes for you, exactly as");
        say("`lockstep resume " + TARGET + "` does (a Temporal update with who and why):");
        // A moment to read the table before the demo plays the human.
        Thread.sleep(2000);
        say("$ lockstep resume " + TARGET + " --as demo@lockstep --reason \"first unit healthy\"");
        say(upgrade.resume(new SteerRequest("demo@lockstep", "first unit healthy")));
        say("");
        resumed = true;
      }
      if (status.phase().isTerminal()) {
        break;
      }
      Thread.sleep(200);
    }
    summary(status, Duration.between(began, Instant.now()), stack);
    say("");
    say("$ lockstep audit " + TARGET);
    var history = client.fetchHistory(started.workflowId(), started.runId());
    System.out.print(
        dev.lockstep.workflows.Audit.render(
            dev.lockstep.workflows.Audit.of(
                started.runId(),
                history.getEvents(),
                io.temporal.common.converter.GlobalDataConverter.get(),
                null)));
    System.out.flush();
    return status.phase() == Phase.COMPLETED ? 0 : 1;
  }

  private static void summary(UpgradeStatus status, Duration took, DevStack stack) {
    say("Summary");
    say("  outcome:   " + status.phase() + ": " + status.message());
    say("  target:    " + status.target() + " (" + status.units().size() + " units)");
    say("  images:    " + status.fromImages() + " -> " + status.toImages());
    say("  revisions: " + status.fromRevision() + " -> " + status.toRevision());
    StringBuilder order = new StringBuilder();
    for (UnitStatus u : status.units()) {
      order.append(order.length() == 0 ? "" : ", ").append(u.name());
    }
    say("  order:     " + order + " (highest ordinal first, each Ready before the next)");
    for (Steering s : status.steering()) {
      say(
          "  steering:  "
              + s.action()
              + " by "
              + s.identity()
              + " ("
              + s.reason()
              + "): "
              + s.outcome());
    }
    say(
        "  took:      "
            + took.toSeconds()
            + "s, with pods that start in "
            + stack.kubesim().behaviours().podStartup().toMillis()
            + "ms");
    say("  the workflow history in Temporal is the audit trail of all of it:");
  }

  private static void awaitSeeded(DevStack stack) throws InterruptedException {
    Instant deadline = Instant.now().plusSeconds(60);
    while (Instant.now().isBefore(deadline)) {
      var sts =
          stack
              .kubesim()
              .client()
              .apps()
              .statefulSets()
              .inNamespace(DevStack.DEMO_NAMESPACE)
              .withName("postgresql")
              .get();
      var aeterna =
          stack
              .kubesim()
              .client()
              .apps()
              .deployments()
              .inNamespace(DevStack.DEMO_NAMESPACE)
              .withName("aeterna")
              .get();
      if (sts != null
          && sts.getStatus() != null
          && sts.getStatus().getReadyReplicas() != null
          && sts.getStatus().getReadyReplicas() == 3
          && aeterna != null
          && aeterna.getStatus() != null
          && aeterna.getStatus().getAvailableReplicas() != null
          && aeterna.getStatus().getAvailableReplicas() == 4) {
        return;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("the example workloads did not come up within 60s");
  }

  private static void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  static Target target() {
    return Target.parse(TARGET, "default");
  }
}
