package dev.lockstep.starter;

import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradeStatus;
import dev.lockstep.workflows.UpgradeWorkflow;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.failure.ApplicationFailure;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lockstep resume|pause|cancel TARGET [--as NAME] [--reason TEXT]}. */
final class SteerCommands {
  private SteerCommands() {}

  abstract static class Steer extends Common {
    @Parameters(index = "0", paramLabel = "TARGET", description = "[NAMESPACE/]KIND/NAME")
    String target;

    @Option(
        names = "--as",
        paramLabel = "NAME",
        description = "Who is asking (default $USER@hostname).")
    String as;

    @Option(names = "--reason", paramLabel = "TEXT", description = "Why, for the audit.")
    String reason;

    abstract String action();

    /** Who asks, and why. */
    SteerRequest request() {
      return who(as, reason);
    }

    abstract BiFunction<UpgradeWorkflow, SteerRequest, String> operation();

    @Override
    int run() {
      Target release = ReleaseCommands.releaseOf(target, defaultNamespace());
      if (release != null) {
        // A release: cancel and rollback are its own; the rest go to the workload moving now.
        WorkflowClient client = temporal();
        Target child = ReleaseCommands.steer(this, client, cluster(), release, action(), request());
        return child == null ? 0 : steer(client, child);
      }
      Target t = target(target);
      WorkflowClient client = temporal();
      return steer(client, t);
    }

    int steer(WorkflowClient client, Target t) {
      UpgradeWorkflow upgrade = StatusCommand.stub(client, cluster(), t, null);
      SteerRequest who = request();
      CompletableFuture<String> answer =
          CompletableFuture.supplyAsync(() -> operation().apply(upgrade, who));
      try {
        String outcome = answer.get(30, TimeUnit.SECONDS);
        out().println(t + ": " + outcome);
        out().flush();
        return 0;
      } catch (TimeoutException e) {
        throw new CliFailure(
            CliFailure.UNREACHABLE,
            "no worker of cluster "
                + cluster()
                + " answered within 30s: is `lockstep worker --cluster "
                + cluster()
                + "` running?");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CliFailure(CliFailure.FAILED, "interrupted");
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof WorkflowUpdateException refused) {
          throw new CliFailure(CliFailure.REFUSED, action() + " refused: " + reasonOf(refused));
        }
        if (cause instanceof io.temporal.client.WorkflowNotFoundException) {
          Integer instead = whenNoneRuns(client, t);
          if (instead != null) {
            return instead;
          }
          String ended =
              endedPhase(StatusCommand.stub(client, cluster(), t, countedRun(client, t)));
          if (ended != null) {
            throw new CliFailure(
                CliFailure.REFUSED,
                action()
                    + " refused: the upgrade has ended ("
                    + ended
                    + "); see `lockstep status "
                    + t
                    + "`");
          }
          throw noRun(client, t);
        }
        throw cause instanceof RuntimeException r ? r : new IllegalStateException(cause);
      }
    }

    /** What to do when no upgrade of the target runs: null to say so and fail. */
    Integer whenNoneRuns(WorkflowClient client, Target t) {
      return null;
    }

    /** The phase of the latest run when it has ended, or null when there is none. */
    private static String endedPhase(UpgradeWorkflow upgrade) {
      try {
        return String.valueOf(upgrade.status().phase());
      } catch (io.temporal.client.WorkflowNotFoundException e) {
        return null;
      }
    }

    private static String reasonOf(WorkflowUpdateException e) {
      for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
        if (t instanceof ApplicationFailure app) {
          return app.getOriginalMessage();
        }
      }
      return e.getMessage();
    }
  }

  @Command(
      name = "resume",
      footerHeading = "%nExamples:%n",
      footer = {"  lockstep resume demo/statefulset/postgresql --reason \"first unit healthy\""},
      mixinStandardHelpOptions = true,
      description = "Resumes an upgrade waiting at a gate, or paused.")
  static final class Resume extends Steer {
    String action() {
      return "resume";
    }

    BiFunction<UpgradeWorkflow, SteerRequest, String> operation() {
      return UpgradeWorkflow::resume;
    }
  }

  @Command(
      name = "pause",
      footerHeading = "%nExamples:%n",
      footer = {"  lockstep pause demo/statefulset/postgresql --reason \"change freeze\""},
      mixinStandardHelpOptions = true,
      description = "Holds an upgrade before its next unit.")
  static final class Pause extends Steer {
    String action() {
      return "pause";
    }

    BiFunction<UpgradeWorkflow, SteerRequest, String> operation() {
      return UpgradeWorkflow::pause;
    }
  }

  @Command(
      name = "cancel",
      footerHeading = "%nExamples:%n",
      footer = {"  lockstep cancel demo/statefulset/postgresql --reason \"wrong image\""},
      mixinStandardHelpOptions = true,
      description =
          "Stops before the next unit and returns upgraded units to the original revision.")
  static final class Cancel extends Steer {
    String action() {
      return "cancel";
    }

    BiFunction<UpgradeWorkflow, SteerRequest, String> operation() {
      return UpgradeWorkflow::cancel;
    }
  }

  @Command(
      name = "rollback",
      footerHeading = "%nExamples:%n",
      footer = {
        "  lockstep rollback demo/statefulset/postgresql            # the running upgrade, or the last one",
        "  lockstep rollback demo/sts/postgresql --to-revision 3 --wait",
        "  lockstep rollback demo-helm/helm/ghostwire --to-revision 1   # as helm rollback ghostwire 1"
      },
      mixinStandardHelpOptions = true,
      description =
          "While an upgrade runs: returns its upgraded units to the original revision, ends it ROLLED_BACK (at a gate, paused, held, or mid-way: the unit being replaced settles first). When none runs: restores the revision the last Lockstep run started from (or, with --to-revision, ControllerRevision N) as a new run, verified unit by unit like an upgrade but without a gate, as helm rollback and kubectl rollout undo do (--gate first to gate it). For a Helm release (NAMESPACE/helm/RELEASE) with none running, --to-revision N writes revision N's chart, values and manifest as a new revision (pending-rollback, then deployed \"Rollback to N\") and moves each workload that differs as its own run, one at a time.")
  static final class Rollback extends Steer {
    @Option(
        names = "--to-revision",
        paramLabel = "N",
        description =
            "Restore ControllerRevision N (by number or name), or a Helm release's revision N;"
                + " only when no upgrade runs.")
    String toRevision;

    @Option(
        names = "--gate",
        defaultValue = "none",
        description =
            "For a new run: none (default: an operator rolling back in an incident is not asked"
                + " again), first or each.")
    String gate;

    @Option(names = "--wait", description = "For a new run: follow it until it ends.")
    boolean await;

    @Option(
        names = "--accept-data-risk",
        description =
            "Roll back even though a forward-only migration ran and the plan has no restore hook"
                + " (the old version will run on migrated data).")
    boolean acceptDataRisk;

    @Override
    SteerRequest request() {
      return new SteerRequest(identity(as), reason, acceptDataRisk);
    }

    @Option(
        names = "--heartbeat-timeout",
        defaultValue = "30s",
        description = "For a new run, as for upgrade.")
    String heartbeatTimeout;

    String action() {
      return "rollback";
    }

    BiFunction<UpgradeWorkflow, SteerRequest, String> operation() {
      return UpgradeWorkflow::rollback;
    }

    @Override
    int run() {
      Target release = ReleaseCommands.releaseOf(target, defaultNamespace());
      if (release != null) {
        if (toRevision != null) {
          return rollbackRelease(release);
        }
        // The release's running upgrade goes back; its workloads each by their own run.
        ReleaseCommands.steer(this, temporal(), cluster(), release, action(), request());
        return 0;
      }
      Target t = target(target);
      if (toRevision != null && toRevision.isBlank()) {
        throw new CliFailure(CliFailure.BAD_INPUT, "--to-revision needs a revision number or name");
      }
      WorkflowClient client = temporal();
      if (toRevision != null) {
        return startRun(client, t, toRevision);
      }
      refuseRollingBackARollback(client, t);
      return steer(client, t);
    }

    /**
     * {@code rollback NAMESPACE/helm/RELEASE --to-revision N} with no run open: revision N's
     * manifest and values as a new revision, through the release's run (a child per workload).
     */
    private int rollbackRelease(Target release) {
      int revision;
      try {
        revision = Integer.parseInt(toRevision.trim());
      } catch (NumberFormatException e) {
        revision = 0;
      }
      if (revision < 1) {
        throw new CliFailure(
            CliFailure.BAD_INPUT,
            "--to-revision '"
                + toRevision
                + "': a Helm release's revision is a number (lockstep history "
                + release
                + " lists them)");
      }
      if (acceptDataRisk) {
        throw new CliFailure(
            CliFailure.BAD_INPUT,
            "--accept-data-risk is not taken for a Helm release: its rollback runs the chart's"
                + " rollback hooks");
      }
      // No gate unless asked (--gate), as for a workload's rollback.
      dev.lockstep.workflows.UpgradePlan.Builder workloads =
          dev.lockstep.workflows.UpgradePlan.builder()
              .gate(dev.lockstep.workflows.UpgradePlan.Gate.NONE);
      java.util.Map<String, dev.lockstep.workflows.UpgradePlan.Gate> gates =
          ReleaseCommands.gates(gate, workloads);
      java.time.Duration heartbeat =
          UpgradeCommand.duration("--heartbeat-timeout", heartbeatTimeout);
      WorkflowClient client = temporal();
      String where = release + Names.clusterFlag(cluster());
      String open = ReleaseCommands.openRun(client, cluster(), release);
      if (open != null) {
        throw new CliFailure(
            CliFailure.REFUSED,
            "rollback refused: a Lockstep run of "
                + release
                + " is open (run "
                + open
                + "): `lockstep rollback "
                + where
                + "` (no --to-revision) takes it back, or wait for it to end");
      }
      dev.lockstep.workflows.ReleaseUpgradeRequest request =
          new dev.lockstep.workflows.ReleaseUpgradeRequest(
              new dev.lockstep.workflows.HelmActivities.ReleaseRequest(
                  release.namespace(),
                  release.name(),
                  null,
                  null,
                  java.util.List.of(),
                  java.util.List.of(),
                  null),
              cluster(),
              workloads.build(),
              gates,
              identity(as),
              reason == null ? "rollback to revision " + revision : reason,
              (int) Math.max(1, heartbeat.toSeconds()),
              revision);
      int started =
          ReleaseCommands.start(this, client, cluster(), request, java.time.Duration.ofSeconds(30));
      if (!await) {
        return started;
      }
      dev.lockstep.workflows.ReleaseResult result =
          io.temporal.client.WorkflowStub.fromTyped(
                  dev.lockstep.workflows.Releases.of(client, cluster(), release))
              .getResult(dev.lockstep.workflows.ReleaseResult.class);
      out().print(ReleaseCommands.render(result.status()));
      out().flush();
      return result.phase() == dev.lockstep.workflows.Phase.COMPLETED ? 0 : CliFailure.FAILED;
    }

    /**
     * A run that is itself a rollback is already going back: rolling it back would bring back the
     * version it is leaving. Refused with what to do instead.
     */
    private void refuseRollingBackARollback(WorkflowClient client, Target t) {
      UpgradeStatus status;
      try {
        status = StatusCommand.stub(client, cluster(), t, null).status();
      } catch (io.temporal.client.WorkflowNotFoundException
          | io.temporal.client.WorkflowQueryException e) {
        return;
      }
      if (status == null
          || status.phase() == null
          || status.phase().isTerminal()
          || !"rollback".equals(status.kind())) {
        return;
      }
      String where = t + Names.clusterFlag(cluster());
      throw new CliFailure(
          CliFailure.REFUSED,
          "rollback refused: the run of "
              + t
              + " is itself a rollback (to "
              + String.join(
                  ", ",
                  status.toImages() == null
                      ? java.util.List.of()
                      : status.toImages().entrySet().stream()
                          .map(e -> e.getKey() + "=" + e.getValue())
                          .toList())
              + "), already going back; rolling it back would return the version it is leaving."
              + " Follow it with `lockstep status "
              + where
              + " --watch`; `lockstep pause "
              + where
              + "` holds it before its next unit");
    }

    @Override
    Integer whenNoneRuns(WorkflowClient client, Target t) {
      String from;
      try {
        from =
            StatusCommand.stub(client, cluster(), t, countedRun(client, t)).status().fromRevision();
      } catch (io.temporal.client.WorkflowNotFoundException e) {
        throw new CliFailure(
            CliFailure.FAILED,
            "no Lockstep run of "
                + t
                + " found in cluster "
                + cluster()
                + ": give the revision to restore with --to-revision N");
      }
      if (from == null) {
        throw new CliFailure(
            CliFailure.FAILED,
            "the last Lockstep run of " + t + " changed nothing: give --to-revision N");
      }
      return startRun(client, t, from);
    }

    private int startRun(WorkflowClient client, Target t, String revision) {
      UpgradeCommand upgrade = new UpgradeCommand();
      upgrade.spec = spec;
      upgrade.cluster = cluster;
      upgrade.target = t.toString();
      upgrade.gate = gate;
      upgrade.as = as;
      upgrade.reason = reason == null ? "rollback to " + revision : reason;
      upgrade.await = await;
      upgrade.heartbeatTimeout = heartbeatTimeout;
      upgrade.verdictTimeout = "30s";
      upgrade.restore = revision;
      upgrade.acceptDataRisk = acceptDataRisk;
      return upgrade.start(client, upgrade.validPlan());
    }
  }

  @Command(
      name = "retry",
      footerHeading = "%nExamples:%n",
      footer = {"  lockstep retry demo/statefulset/postgresql --reason \"image fixed\""},
      mixinStandardHelpOptions = true,
      description = "Tries the failed unit of a HELD upgrade again (e.g. once the image is fixed).")
  static final class Retry extends Steer {
    String action() {
      return "retry";
    }

    BiFunction<UpgradeWorkflow, SteerRequest, String> operation() {
      return UpgradeWorkflow::retry;
    }
  }

  @Command(
      name = "abandon",
      footerHeading = "%nExamples:%n",
      footer = {"  lockstep abandon demo/statefulset/postgresql --reason \"fixed by hand\""},
      mixinStandardHelpOptions = true,
      description = "Leaves a HELD upgrade's target exactly as it is, releases it, ends ABANDONED.")
  static final class Abandon extends Steer {
    String action() {
      return "abandon";
    }

    BiFunction<UpgradeWorkflow, SteerRequest, String> operation() {
      return UpgradeWorkflow::abandon;
    }
  }
}
