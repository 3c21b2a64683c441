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
    footerHeading = "%nExamples:%n",
    footer = {
      "  lockstep status demo/statefulset/postgresql",
      "  lockstep status demo/sts/postgresql --watch",
      "  lockstep status demo/sts/postgresql --wait -o json   # in a script"
    },
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

  @Option(
      names = "--watch",
      description =
          "Redraw as it changes, until the upgrade ends: in place on a terminal, as appended frames"
              + " otherwise, each with the time; with -o json or yaml, one document per change.")
  boolean watch;

  @Option(
      names = "--no-color",
      description = "No colour for states on a terminal (also when NO_COLOR is set).")
  boolean noColor;

  @Option(
      names = "--wait",
      description =
          "As --watch, but also stop when the upgrade is HELD; exit 0 only if it COMPLETED.")
  boolean await;

  @Override
  int run() {
    checkOutput(output);
    Target release = ReleaseCommands.releaseOf(target, defaultNamespace());
    if (release != null) {
      dev.lockstep.workflows.ReleaseStatus status;
      try {
        status = ReleaseCommands.status(temporal(), cluster(), release);
      } catch (io.temporal.client.WorkflowNotFoundException e) {
        throw new CliFailure(
            CliFailure.FAILED,
            "no upgrade of "
                + release
                + " has run"
                + dev.lockstep.workflows.Names.clusterFlag(cluster())
                + ": start one with `lockstep upgrade "
                + release
                + " --chart DIR`");
      }
      print(output, status, () -> ReleaseCommands.render(status));
      return 0;
    }
    Target t = target(target);
    WorkflowClient client = temporal();
    if (watch || await) {
      Frames frames = Frames.of(output, t, noColor);
      UpgradeStatus last =
          follow(client, cluster(), t, out(), spec.commandLine().getErr(), await, frames);
      return await ? ending(t, last, spec.commandLine().getErr()) : 0;
    }
    UpgradeStatus status =
        withPods(
            client,
            cluster(),
            t,
            stub(client, cluster(), t, run != null ? run : countedRun(client, t)).status(),
            java.time.Instant.now());
    print(output, status, () -> StatusTable.render(status));
    return 0;
  }

  /** The status with its waiting units' pods, while the run goes on (see {@link UnitsNow}). */
  static UpgradeStatus withPods(
      WorkflowClient client,
      String cluster,
      Target t,
      UpgradeStatus status,
      java.time.Instant now) {
    if (status.phase() == null || status.phase().isTerminal()) {
      return status;
    }
    return UnitsNow.withPods(
        status, UnitsNow.pods(client, Names.workflowId(cluster, t), status.runId()), now);
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
    return follow(client, cluster, t, out, err, stopWhenHeld, Frames.of("table", t, false));
  }

  /** As above, each change printed as {@code frames} says. */
  static UpgradeStatus follow(
      WorkflowClient client,
      String cluster,
      Target t,
      PrintWriter out,
      PrintWriter err,
      boolean stopWhenHeld,
      Frames frames) {
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
        // The pods' times in steps of ten seconds: a frame is drawn for a change, not each second.
        java.time.Instant now = java.time.Instant.now();
        UpgradeStatus status =
            withPods(
                client, cluster, t, upgrade.status(), now.minusMillis(now.toEpochMilli() % 10_000));
        String content = frames.content(status);
        if (!content.equals(last)) {
          out.print(frames.frame(content, java.time.Instant.now()));
          out.flush();
          last = content;
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
