package dev.lockstep.starter;

import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.StatusTable;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradeStatus;
import dev.lockstep.workflows.UpgradeWorkflow;
import io.temporal.client.WorkflowClient;
import java.io.PrintWriter;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lockstep status TARGET [--run RUN_ID] [-o table|json|yaml] [--watch]}. */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    description = "Shows an upgrade (the running one, or the latest), one line per unit.")
class StatusCommand extends Common {
  @Parameters(index = "0", paramLabel = "TARGET", description = "[NAMESPACE/]KIND/NAME")
  String target;

  @Option(names = "--run", paramLabel = "RUN_ID", description = "An earlier run.")
  String run;

  @Option(
      names = {"-o", "--output"},
      defaultValue = "table",
      description = "table, json or yaml.")
  String output;

  @Option(names = "--watch", description = "Redraw as it changes, until the upgrade ends.")
  boolean watch;

  @Option(
      names = "--wait",
      description =
          "As --watch, but also stop when the upgrade is HELD; exit 0 only if it COMPLETED.")
  boolean await;

  @Override
  int run() {
    checkOutput(output);
    Target t = target(target);
    WorkflowClient client = temporal();
    if (watch || await) {
      UpgradeStatus last = follow(client, cluster(), t, out(), spec.commandLine().getErr(), await);
      return await ? ending(t, last, spec.commandLine().getErr()) : 0;
    }
    UpgradeStatus status = stub(client, cluster(), t, run).status();
    print(output, status, () -> StatusTable.render(status));
    return 0;
  }

  static UpgradeWorkflow stub(WorkflowClient client, String cluster, Target t, String run) {
    return client.newWorkflowStub(
        UpgradeWorkflow.class, Names.workflowId(cluster, t), Optional.ofNullable(run));
  }

  /**
   * Prints the status table whenever it changes, until the upgrade ends (or, with {@code
   * stopWhenHeld}, is HELD: it then waits for a person); returns the last status read. Stopped
   * (Ctrl-C) while it follows, it says on {@code err} that the upgrade goes on and how to follow
   * it: the upgrade is Temporal's, not this command's.
   */
  static UpgradeStatus follow(
      WorkflowClient client,
      String cluster,
      Target t,
      PrintWriter out,
      PrintWriter err,
      boolean stopWhenHeld) {
    UpgradeWorkflow upgrade = stub(client, cluster, t, null);
    Thread stopped =
        new Thread(
            () -> {
              err.println(
                  "lockstep: stopped following; the upgrade of "
                      + t
                      + " goes on: follow it with `lockstep status "
                      + t
                      + Names.clusterFlag(cluster)
                      + " --watch`");
              err.flush();
            });
    Runtime.getRuntime().addShutdownHook(stopped);
    try {
      String last = "";
      while (true) {
        UpgradeStatus status = upgrade.status();
        String table = StatusTable.render(status);
        if (!table.equals(last)) {
          out.println(table);
          out.flush();
          last = table;
        }
        if (status.phase().isTerminal() || (stopWhenHeld && status.phase() == Phase.HELD)) {
          return status;
        }
        try {
          Thread.sleep(500);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return status;
        }
      }
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(stopped);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running: it says what it has to
      }
    }
  }

  /**
   * How a followed upgrade ended, for {@code --wait}: 0 when it COMPLETED; otherwise one line on
   * stderr with the phase and the upgrade's own message (which says what to do next), and 1.
   */
  static int ending(Target t, UpgradeStatus status, PrintWriter err) {
    if (status.phase() == Phase.COMPLETED) {
      return 0;
    }
    String how = status.phase() == Phase.HELD ? " is HELD: " : " ended " + status.phase() + ": ";
    err.println("lockstep: " + t + how + oneLineOf(status.message()));
    err.flush();
    return CliFailure.FAILED;
  }

  private static String oneLineOf(String text) {
    return text == null ? "(no message)" : String.join(" ", text.lines().toList());
  }
}
