package dev.lockstep.starter;

import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code lockstep repair TARGET --continue|--restore}, {@code repair NS/helm/RELEASE
 * [--mark-failed]}.
 */
@Command(
    name = "repair",
    footerHeading = "%nExamples:%n",
    footer = {
      "  lockstep repair demo/statefulset/postgresql --continue",
      "  lockstep repair demo/statefulset/postgresql --restore",
      "  lockstep repair demo-helm/helm/ghostwire                # says what it would do",
      "  lockstep repair demo-helm/helm/ghostwire --mark-failed"
    },
    mixinStandardHelpOptions = true,
    description =
        "Takes a target over from a Lockstep run that ended outside Lockstep (e.g. terminated with `temporal workflow terminate`) and left it marked with a pinned partition: --continue moves the remaining units to the revision that run applied; --restore returns every unit to the revision it started from. Either way, as a new run, verified like an upgrade. For a Helm release (NAMESPACE/helm/RELEASE) left pending-upgrade or pending-rollback by an operation that died (a killed helm client, a Lockstep run terminated outside Lockstep): says what it finds and what the workloads run now, and with --mark-failed marks that revision failed, as Helm records an interrupted operation, so Helm and Lockstep can upgrade or roll back again; refused while a Lockstep run of the release is open.")
final class RepairCommand extends Common {
  @Parameters(index = "0", paramLabel = "TARGET", description = "[NAMESPACE/]KIND/NAME")
  String target;

  @Option(names = "--continue", description = "Finish the dead run's change.")
  boolean carryOn;

  @Option(names = "--restore", description = "Return to the revision the dead run started from.")
  boolean restore;

  @Option(
      names = "--gate",
      description =
          "With --continue: first (default), each or none, counted from this run's units.")
  String gate;

  @Option(names = "--on-failure", description = "With --continue: rollback (default) or hold.")
  String onFailure;

  @Option(names = "--unit-timeout", description = "How long one unit may take (default 10m).")
  String unitTimeout;

  @Option(
      names = "--as",
      paramLabel = "NAME",
      description = "Who is asking (default $USER@hostname).")
  String as;

  @Option(names = "--reason", paramLabel = "TEXT", description = "Why, for the audit.")
  String reason;

  @Option(names = "--wait", description = "Follow the repair until it ends.")
  boolean await;

  @Option(
      names = "--accept-data-risk",
      description =
          "With --restore: go back even though the dead run migrated the data forward only (the"
              + " old version will run on migrated data). Without it such a repair holds first.")
  boolean acceptDataRisk;

  @Option(
      names = "--heartbeat-timeout",
      defaultValue = "30s",
      description = "As for upgrade (default 30s).")
  String heartbeatTimeout;

  @Option(
      names = "--mark-failed",
      description =
          "Helm release only: mark the revision left pending-upgrade or pending-rollback failed"
              + " (without it, repair of a release only says what it would do).")
  boolean markFailed;

  @Override
  int run() {
    Target release = ReleaseCommands.releaseOf(target, defaultNamespace());
    if (release != null) {
      if (carryOn || restore || gate != null || onFailure != null || acceptDataRisk || await) {
        throw new CliFailure(
            CliFailure.BAD_INPUT,
            "repair of a Helm release ("
                + release
                + ") takes --mark-failed only: it marks the revision a dead operation left pending"
                + " failed; then upgrade or rollback --to-revision N move the workloads");
      }
      return ReleaseCommands.repair(this, temporal(), cluster(), release, markFailed, identity(as));
    }
    if (markFailed) {
      throw new CliFailure(
          CliFailure.BAD_INPUT, "--mark-failed is for a Helm release (NAMESPACE/helm/RELEASE)");
    }
    if (carryOn == restore) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "choose one: --continue (finish the dead run's change) or --restore (return to the"
              + " revision it started from)");
    }
    if (acceptDataRisk && !restore) {
      throw new CliFailure(CliFailure.BAD_INPUT, "--accept-data-risk goes with --restore");
    }
    if (restore && (gate != null || onFailure != null)) {
      throw new CliFailure(
          CliFailure.BAD_INPUT, "--gate and --on-failure go with --continue, not --restore");
    }
    UpgradeCommand upgrade = new UpgradeCommand();
    upgrade.spec = spec;
    upgrade.cluster = cluster;
    upgrade.target = target;
    upgrade.gate = gate;
    upgrade.onFailure = onFailure;
    upgrade.unitTimeout = unitTimeout;
    upgrade.as = as;
    upgrade.reason =
        reason == null ? "repair (" + (restore ? "restore" : "continue") + ")" : reason;
    upgrade.await = await;
    upgrade.heartbeatTimeout = heartbeatTimeout;
    upgrade.verdictTimeout = "30s";
    upgrade.repair = restore ? UpgradePlan.Repair.RESTORE : UpgradePlan.Repair.CONTINUE;
    upgrade.acceptDataRisk = acceptDataRisk;
    UpgradePlan plan = upgrade.validPlan();
    return upgrade.start(temporal(), plan);
  }
}
