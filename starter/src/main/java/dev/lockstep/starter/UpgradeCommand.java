package dev.lockstep.starter;

import dev.lockstep.workflows.PlanValidation;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeRequest;
import dev.lockstep.workflows.Upgrades;
import dev.lockstep.workflows.Verdict;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lockstep upgrade TARGET --image [CONTAINER=]IMAGE ...}. */
@Command(
    name = "upgrade",
    footerHeading = "%nExamples:%n",
    footer = {
      "  lockstep upgrade demo/statefulset/postgresql --image postgresql=postgres:14.9",
      "  lockstep upgrade demo/sts/postgresql --image postgres:14.9 --gate none --wait   # in CI",
      "  lockstep upgrade -f upgrade.yaml --reason \"CVE-2026-1234\""
    },
    description =
        "Starts an upgrade and returns once the worker has checked the plan against the cluster (or, with --wait, when the upgrade ends).")
class UpgradeCommand extends Common {
  // Not picocli's standard help options: their --version would take the chart's --version.
  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Parameters(
      index = "0",
      arity = "0..1",
      paramLabel = "TARGET",
      description =
          "[NAMESPACE/]KIND/NAME, e.g. demo/statefulset/postgresql (or target: in the plan).")
  String target;

  @Option(
      names = "--image",
      paramLabel = "[CONTAINER=]IMAGE",
      description = "New image; without CONTAINER= for the only container. Repeatable.")
  List<String> images = new ArrayList<>();

  @Option(
      names = "-f",
      paramLabel = "FILE",
      description =
          "A plan file; flags override it. For a Helm release: a values file, as helm's -f"
              + " (repeatable).")
  List<Path> files = new ArrayList<>();

  /** The plan file: the one {@code -f} of a workload target. */
  Path planFile;

  /** The chart options, for a Helm release target. */
  @Mixin ChartArgs chartArgs = new ChartArgs();

  @Option(names = "--gate", description = "first (default), each or none.")
  String gate;

  @Option(names = "--on-failure", description = "rollback (default) or hold.")
  String onFailure;

  @Option(
      names = "--strategy",
      description =
          "For a Deployment: rolling (default: its own rolling update, stopped at the gates),"
              + " canary (the plan file's steps, or by default: 25%%, a gate, 50%%, 1m, analysis,"
              + " promote) or blue-green (a preview beside it, its test hook, a gate, the Service"
              + " switched, then the Deployment itself; strategy.blueGreen in the plan file:"
              + " scaleDownDelay, 30s by default, and previewService).")
  String strategy;

  @Option(names = "--unit-timeout", description = "How long one unit may take, e.g. 10m (default).")
  String unitTimeout;

  @Option(names = "--scale-up", description = "Add one unit first, upgrade it first.")
  Boolean scaleUp;

  @Option(
      names = "--force",
      paramLabel = "CHECK",
      description = "Skip a named pre-check (recorded). Repeatable.")
  List<String> force = new ArrayList<>();

  @Option(
      names = "--as",
      paramLabel = "NAME",
      description = "Who is asking (default $USER@hostname).")
  String as;

  @Option(names = "--reason", paramLabel = "TEXT", description = "Why, for the audit.")
  String reason;

  @Option(
      names = "--wait",
      description = "Follow the upgrade until it ends; exit 0 only if it COMPLETED.")
  boolean await;

  @Option(
      names = "--heartbeat-timeout",
      defaultValue = "30s",
      description =
          "How long a worker may go silent before another takes over its step (default 30s).")
  String heartbeatTimeout;

  @Option(
      names = "--verdict-timeout",
      defaultValue = "30s",
      description = "How long to wait for a worker to check the plan (default 30s).")
  String verdictTimeout;

  @Option(
      names = "--dry-run",
      description =
          "Helm release only: print what the upgrade would do (as lockstep plan) and change"
              + " nothing.")
  boolean dryRun;

  /**
   * {@code upgrade NAMESPACE/helm/RELEASE --chart DIR ...}: the release's parent run, one child
   * upgrade per changed workload. Bad input is one line, exit 2, before anything is started.
   */
  private int upgradeRelease(Target release) {
    List<String> given = new ArrayList<>();
    if (!images.isEmpty()) {
      given.add("--image");
    }
    if (strategy != null) {
      given.add("--strategy");
    }
    if (scaleUp != null) {
      given.add("--scale-up");
    }
    if (!force.isEmpty()) {
      given.add("--force");
    }
    if (restore != null || repair != null) {
      given.add(restore != null ? "rollback" : "repair");
    }
    ReleaseCommands.refuse(given, release);
    dev.lockstep.workflows.HelmActivities.ReleaseRequest chart = chartArgs.request(release, files);
    UpgradePlan.Builder workloads = UpgradePlan.builder().gate(UpgradePlan.Gate.FIRST);
    Map<String, UpgradePlan.Gate> gates = ReleaseCommands.gates(gate, workloads);
    if (onFailure != null) {
      try {
        workloads.onFailure(UpgradePlan.FailurePolicy.valueOf(onFailure.toUpperCase()));
      } catch (IllegalArgumentException e) {
        throw new CliFailure(
            CliFailure.BAD_INPUT, "--on-failure '" + onFailure + "': give rollback or hold");
      }
    }
    if (unitTimeout != null) {
      duration("--unit-timeout", unitTimeout);
      workloads.unitTimeout(unitTimeout);
    }
    Duration heartbeat = duration("--heartbeat-timeout", heartbeatTimeout);
    Duration verdictWait = duration("--verdict-timeout", verdictTimeout);
    String cluster = cluster();
    io.temporal.client.WorkflowClient client = temporal();
    if (dryRun) {
      dev.lockstep.workflows.HelmActivities.ReleasePlan plan =
          PlanCommand.askReleasePlan(client, cluster, release, chart, verdictWait, verdictTimeout);
      if (!plan.problems().isEmpty()) {
        throw new CliFailure(
            CliFailure.BAD_INPUT, String.join("; ", plan.problems()) + "; nothing was changed");
      }
      out().print(ReleaseCommands.dryRun(release, cluster, plan));
      out().println("Dry run: nothing was started or changed.");
      out().flush();
      return 0;
    }
    return ReleaseCommands.start(
        this,
        client,
        cluster,
        new dev.lockstep.workflows.ReleaseUpgradeRequest(
            chart,
            cluster,
            workloads.build(),
            gates,
            identity(as),
            reason,
            (int) Math.max(1, heartbeat.toSeconds())),
        verdictWait);
  }

  /** The plan file as read, with what was wrong in it. */
  private PlanFiles.Loaded loaded;

  /** Set by {@code lockstep rollback}: a run that restores this revision. */
  String restore;

  /** Set by {@code lockstep repair}: a run that takes over from a dead one. */
  UpgradePlan.Repair repair;

  /**
   * Set by {@code lockstep rollback --accept-data-risk} and {@code lockstep repair --restore
   * --accept-data-risk}: go back even over data migrated forward only.
   */
  boolean acceptDataRisk;

  @Override
  int run() {
    Target release = releaseTarget();
    if (release != null) {
      return upgradeRelease(release);
    }
    if (dryRun) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "--dry-run is for a Helm release; for a workload, `lockstep plan " + target + "`");
    }
    // Everything the CLI can check alone is checked before it connects anywhere.
    UpgradePlan plan = validPlan();
    return start(temporal(), plan);
  }

  /** The plan, checked as far as the CLI can without the cluster. */
  UpgradePlan validPlan() {
    UpgradePlan plan;
    try {
      plan = plan();
    } catch (CliFailure e) {
      // A file that could not be read whole says so first: the rest may only follow from it.
      if (loaded != null && loaded.hasProblems()) {
        throw loaded.failure(List.of());
      }
      throw e;
    }
    List<String> problems = PlanValidation.problems(plan);
    if (loaded != null && (loaded.hasProblems() || !problems.isEmpty())) {
      throw loaded.failure(problems);
    }
    if (!problems.isEmpty()) {
      throw new CliFailure(CliFailure.BAD_INPUT, String.join("; ", problems));
    }
    duration("--heartbeat-timeout", heartbeatTimeout);
    duration("--verdict-timeout", verdictTimeout);
    return plan;
  }

  int start(io.temporal.client.WorkflowClient client, UpgradePlan plan) {
    Duration heartbeat = duration("--heartbeat-timeout", heartbeatTimeout);
    Duration verdictWait = duration("--verdict-timeout", verdictTimeout);
    UpgradeRequest request =
        new UpgradeRequest(plan, identity(as), reason, (int) Math.max(1, heartbeat.toSeconds()));
    Target t = Target.parse(plan.target(), defaultNamespace());
    Upgrades.Started started;
    try {
      started = Upgrades.start(client, request, verdictWait);
    } catch (Upgrades.TargetBusy e) {
      throw new CliFailure(
          CliFailure.REFUSED,
          "refused: another upgrade of "
              + t
              + " is running (run "
              + e.runId()
              + "): see `lockstep status "
              + t
              + "`");
    } catch (Upgrades.NoWorker e) {
      throw new CliFailure(CliFailure.UNREACHABLE, e.getMessage());
    }
    Verdict verdict = started.verdict();
    if (verdict.unchanged()) {
      // As kubectl apply: asking again for what is already there is not an error.
      out().println(t + " unchanged: " + String.join("; ", verdict.problems()));
      out().flush();
      return 0;
    }
    if (!verdict.valid()) {
      String problems = String.join("; ", verdict.problems()) + "; nothing was changed";
      if (!verdict.inspected() || verdict.refusal() == null) {
        throw new CliFailure(CliFailure.FAILED, problems);
      }
      throw switch (verdict.refusal()) {
        case INVALID_PLAN -> new CliFailure(CliFailure.BAD_INPUT, "invalid plan: " + problems);
        case CHECKS_FAILED -> new CliFailure(CliFailure.FAILED, "pre-checks failed: " + problems);
        case TARGET_HELD -> new CliFailure(CliFailure.REFUSED, "refused: " + problems);
      };
    }
    var out = out();
    out.println(
        (repair != null
                ? "repair (" + repair.name().toLowerCase(java.util.Locale.ROOT) + ")"
                : restore == null ? "upgrade" : "rollback to revision " + restore)
            + " of "
            + t
            + " started (run "
            + started.runId()
            + "), from revision "
            + started.verdict().fromRevision());
    out.println("follow:   lockstep status " + t + clusterFlag() + " --watch");
    out.println("rollback: lockstep rollback " + t + clusterFlag());
    out.flush();
    if (!await) {
      return 0;
    }
    return StatusCommand.ending(
        t,
        StatusCommand.follow(client, cluster(), t, out, spec.commandLine().getErr(), true),
        spec.commandLine().getErr());
  }

  private String clusterFlag() {
    return cluster().equals("default") ? "" : " --cluster " + cluster();
  }

  static Duration duration(String flag, String text) {
    try {
      return dev.lockstep.workflows.Durations.positive(flag, text);
    } catch (IllegalArgumentException e) {
      throw new CliFailure(CliFailure.BAD_INPUT, e.getMessage());
    }
  }

  /**
   * The target when it is a Helm release ({@code NAMESPACE/helm/RELEASE}), or null: then it is a
   * workload, or not a target at all, and {@link #plan()} says so.
   */
  Target releaseTarget() {
    if (target == null) {
      return null;
    }
    try {
      Target t = Target.parseWithReleases(target, defaultNamespace());
      return Target.HELM.equals(t.kind()) ? t : null;
    } catch (IllegalArgumentException e) {
      String[] parts = target.trim().split("/", -1);
      if (parts.length == 2 && Target.isReleaseKind(parts[0])
          || parts.length == 3 && Target.isReleaseKind(parts[1])) {
        // A release whose name or namespace is wrong: say that, not that releases are refused.
        throw new CliFailure(CliFailure.BAD_INPUT, e.getMessage());
      }
      return null;
    }
  }

  /** The plan file, if any, with every flag given laid over it. */
  UpgradePlan plan() {
    if (files.size() > 1 && releaseTarget() == null) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "-f takes one plan file for a StatefulSet or Deployment (several -f are the values"
              + " files of a Helm release)");
    }
    if (!files.isEmpty()) {
      planFile = files.get(0);
    }
    loaded = planFile != null ? PlanFiles.load(planFile) : null;
    UpgradePlan base = loaded != null ? loaded.plan() : UpgradePlan.builder().build();
    String targetText = target != null ? target : base.target();
    if (targetText == null) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "no target: give [NAMESPACE/]KIND/NAME, e.g. demo/statefulset/postgresql");
    }
    Target t = target(targetText);
    chartArgs.refuseFor(t);
    UpgradePlan.Change change = base.effectiveChange();
    Map<String, String> newImages = new LinkedHashMap<>(change.images());
    java.util.Set<String> flagged = new java.util.HashSet<>();
    for (String image : images) {
      int eq = image.indexOf('=');
      String container = eq < 0 ? UpgradePlan.Change.ONLY_CONTAINER : image.substring(0, eq);
      String ref = eq < 0 ? image : image.substring(eq + 1);
      if (eq == 0 || ref.isBlank()) {
        throw new CliFailure(
            CliFailure.BAD_INPUT,
            "--image '"
                + image
                + "' is not [CONTAINER=]IMAGE, e.g. --image postgresql=postgres:14.9");
      }
      if (flagged.contains(container)) {
        throw new CliFailure(
            CliFailure.BAD_INPUT,
            container.isEmpty()
                ? "--image without CONTAINER= can only be given once; name the containers, e.g."
                    + " --image app="
                    + ref
                : "--image given twice for container " + container);
      }
      flagged.add(container);
      newImages.put(container, ref);
    }
    List<String> forced = new ArrayList<>(base.effectiveForce());
    forced.addAll(force);
    return base.toBuilder()
        .target(t.toString())
        .cluster(cluster != null ? cluster : base.cluster() != null ? base.cluster() : cluster())
        .change(
            repair != null
                ? null
                : restore != null
                    ? UpgradePlan.Change.restoring(restore)
                    : new UpgradePlan.Change(newImages, change.template(), change.resources()))
        .repair(repair != null ? repair : base.repair())
        .gate(gate != null ? parseGate(gate) : base.gate())
        .unitTimeout(unitTimeout != null ? unitTimeout : base.unitTimeout())
        .scaleUp(scaleUp != null ? scaleUp : base.scaleUp())
        .onFailure(onFailure != null ? parseFailure(onFailure) : base.onFailure())
        .strategy(strategy != null ? parseStrategy(strategy, base.strategy()) : base.strategy())
        .force(forced)
        .migration(
            acceptDataRisk
                ? new UpgradePlan.Migration(
                    base.migration() == null ? null : base.migration().reversible(), true)
                : base.migration())
        .build();
  }

  private static UpgradePlan.Gate parseGate(String text) {
    return switch (text) {
      case "first" -> UpgradePlan.Gate.FIRST;
      case "each" -> UpgradePlan.Gate.EACH;
      case "none" -> UpgradePlan.Gate.NONE;
      default ->
          throw new CliFailure(
              CliFailure.BAD_INPUT, "--gate must be first, each or none, not '" + text + "'");
    };
  }

  /** The named strategy, keeping what the plan file says of it (its gates or steps). */
  private static UpgradePlan.Strategy parseStrategy(String text, UpgradePlan.Strategy file) {
    UpgradePlan.Strategy given = file == null ? new UpgradePlan.Strategy(null, null, null) : file;
    return switch (text) {
      case "rolling" ->
          new UpgradePlan.Strategy(
              given.rolling() != null ? given.rolling() : new UpgradePlan.Rolling(null),
              null,
              null);
      case "canary" ->
          new UpgradePlan.Strategy(
              null,
              given.canary() != null ? given.canary() : new UpgradePlan.Canary(List.of()),
              null);
      case "blue-green" ->
          new UpgradePlan.Strategy(
              null,
              null,
              given.blueGreen() != null ? given.blueGreen() : new UpgradePlan.BlueGreen(null));
      default ->
          throw new CliFailure(
              CliFailure.BAD_INPUT,
              "--strategy must be rolling, canary or blue-green, not '" + text + "'");
    };
  }

  private static UpgradePlan.FailurePolicy parseFailure(String text) {
    return switch (text) {
      case "rollback" -> UpgradePlan.FailurePolicy.ROLLBACK;
      case "hold" -> UpgradePlan.FailurePolicy.HOLD;
      default ->
          throw new CliFailure(
              CliFailure.BAD_INPUT, "--on-failure must be rollback or hold, not '" + text + "'");
    };
  }
}
