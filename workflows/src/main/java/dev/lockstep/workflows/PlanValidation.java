package dev.lockstep.workflows;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What can be said of a plan without the cluster: syntax, names, durations, image references, and
 * what this version does not do yet. The worker checks the rest (target exists, container names) as
 * the run's first step.
 */
public final class PlanValidation {
  private static final java.time.Duration MIN_REMIND_EVERY = java.time.Duration.ofMinutes(10);

  /**
   * An image reference: [registry[:port]/]path[:tag][@digest], lower-case path components, a tag of
   * at most 128 word characters, dots and dashes.
   */
  private static final Pattern IMAGE =
      Pattern.compile(
          "^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*"
              + "[a-zA-Z0-9])?)*(?::[0-9]+)?)/)?"
              + "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
              + "(?::[\\w][\\w.-]{0,127})?"
              + "(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$");

  private static final Pattern CONTAINER_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");

  /** The pre-checks a plan may name in {@code force}. */
  public static final Set<String> CHECKS = Set.copyOf(PreChecks.FORCEABLE);

  private PlanValidation() {}

  /** Whether a string is a well-formed image reference. */
  public static boolean isImageReference(String image) {
    return image != null && image.length() <= 4096 && IMAGE.matcher(image).matches();
  }

  /**
   * Every problem with the plan, each one line; empty when it is fine. The target is parsed from
   * {@code plan.target()}.
   */
  public static List<String> problems(UpgradePlan plan) {
    List<String> problems = new ArrayList<>();
    try {
      Target target = Target.parse(plan.target(), "default");
      strategy(plan, Target.DEPLOYMENT.equals(target.kind()), problems);
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
    }
    String cluster = plan.effectiveCluster();
    if (!CONTAINER_NAME.matcher(cluster).matches() || cluster.length() > 63) {
      problems.add("cluster '" + cluster + "' is not a valid name (lower case, digits, '-')");
    }
    UpgradePlan.Change change = plan.effectiveChange();
    if (plan.repair() != null) {
      if (!change.isEmpty()) {
        problems.add(
            "a repair continues or restores the change of the run that ended: it takes no change");
      }
      if (Boolean.TRUE.equals(plan.scaleUp()) || plan.effectiveRetries() > 0) {
        problems.add("a repair takes neither scaleUp nor retries");
      }
      if (!plan.effectiveForce().isEmpty()) {
        problems.add("a repair runs no pre-checks: it takes no force");
      }
    } else if (change.isEmpty()) {
      problems.add("the plan changes nothing: give --image CONTAINER=IMAGE or change: in the plan");
    }
    if (change.restore() != null
        && (!change.images().isEmpty()
            || !change.template().isEmpty()
            || !change.resources().isEmpty())) {
      problems.add(
          "a rollback restores a revision as it was: it takes no images, template or"
              + " resources");
    }
    if (change.restore() != null && change.restore().isBlank()) {
      problems.add("restore: give a revision name or number");
    }
    for (Map.Entry<String, String> image : change.images().entrySet()) {
      if (!image.getKey().equals(UpgradePlan.Change.ONLY_CONTAINER)
          && !CONTAINER_NAME.matcher(image.getKey()).matches()) {
        problems.add("'" + image.getKey() + "' is not a valid container name");
      }
      if (!isImageReference(image.getValue())) {
        problems.add(
            "'"
                + image.getValue()
                + "' is not a valid image reference"
                + (image.getKey().isEmpty() ? "" : " for container " + image.getKey())
                + " (e.g. postgres:14.9 or registry.example.com/team/app:1.2.3)");
      }
      if (image.getKey().equals(UpgradePlan.Change.ONLY_CONTAINER) && change.images().size() > 1) {
        problems.add("an image without CONTAINER= can only be given alone");
      }
    }
    templateFields(change.template(), problems);
    for (Map.Entry<String, Map<String, Map<String, String>>> r : change.resources().entrySet()) {
      for (String kind : r.getValue().keySet()) {
        if (!kind.equals("requests") && !kind.equals("limits")) {
          problems.add(
              "resources of " + r.getKey() + ": '" + kind + "' is neither requests nor limits");
        }
      }
    }
    try {
      plan.effectiveUnitTimeout();
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
    }
    try {
      plan.effectiveSoak();
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
    }
    if (plan.crashLoopRestarts() != null && plan.crashLoopRestarts() < 1) {
      problems.add("crashLoopRestarts must be at least 1, was " + plan.crashLoopRestarts());
    }
    for (String check : plan.effectiveForce()) {
      if (PreChecks.ALL.contains(check) && !CHECKS.contains(check)) {
        problems.add(
            "check '"
                + check
                + "' cannot be forced: the API server would refuse the change mid-upgrade");
      } else if (!CHECKS.contains(check)) {
        problems.add("unknown check '" + check + "' in force: use one of " + PreChecks.FORCEABLE);
      }
    }
    gatePolicy(plan, problems);
    notify(plan, problems);
    if (plan.retries() != null && (plan.retries() < 0 || plan.retries() > 10)) {
      problems.add("retries must be between 0 and 10, was " + plan.retries());
    }
    if (plan.health() != null) {
      UpgradePlan.Health health = plan.health();
      if (health.port() == null || health.port() < 1 || health.port() > 65535) {
        problems.add("health.port must be a port number (1-65535), was " + health.port());
      }
      if (health.successes() != null && (health.successes() < 1 || health.successes() > 100)) {
        problems.add("health.successes must be between 1 and 100, was " + health.successes());
      }
      if (health.expectStatus() != null
          && (health.expectStatus() < 100 || health.expectStatus() > 599)) {
        problems.add("health.expectStatus must be an HTTP status, was " + health.expectStatus());
      }
      if (health.path() != null
          && (health.path().contains("..") || health.path().chars().anyMatch(c -> c <= ' '))) {
        problems.add("health.path must be a plain URL path, was '" + health.path() + "'");
      }
    }
    UpgradePlan.Hooks hooks = plan.effectiveHooks();
    hook(problems, "backup", hooks.backup());
    hook(problems, "migrate", hooks.migrate());
    hook(problems, "test", hooks.test());
    hook(problems, "restore", hooks.restore());
    if (hooks.restore() != null && !plan.effectiveMigration().forwardOnly()) {
      problems.add(
          "hooks.restore runs when a rollback follows a migration that cannot be reversed: set"
              + " migration.reversible: false, or leave the restore hook out");
    }
    if (plan.repair() != null && !hooks.isEmpty()) {
      problems.add("a repair runs no hooks");
    }
    return problems;
  }

  /** The plan's {@code strategy} and what a Deployment target does not take. */
  private static void strategy(UpgradePlan plan, boolean deployment, List<String> problems) {
    UpgradePlan.Strategy strategy = plan.strategy();
    if (!deployment) {
      if (strategy != null) {
        problems.add(
            "strategy is for Deployments: a StatefulSet is upgraded in place by ordinal (leave"
                + " strategy out)");
      }
      return;
    }
    if (plan.repair() != null) {
      problems.add(
          "repair is not supported for Deployments by this version of Lockstep yet: remove the"
              + " annotations "
              + ClusterActivities.RUN_ANNOTATION
              + " and "
              + ClusterActivities.ORIGIN_ANNOTATION
              + " and run `kubectl rollout resume` or `kubectl rollout undo`");
    }
    if (Boolean.TRUE.equals(plan.scaleUp())) {
      problems.add(
          "scaleUp is for StatefulSets: a Deployment's rollout adds pods by its own maxSurge");
    }
    if (strategy == null) {
      return;
    }
    int given =
        (strategy.rolling() != null ? 1 : 0)
            + (strategy.canary() != null ? 1 : 0)
            + (strategy.blueGreen() != null ? 1 : 0);
    if (given != 1) {
      problems.add("strategy: give exactly one of rolling, canary and blueGreen");
      return;
    }
    if (strategy.rolling() != null && strategy.rolling().gates() != null) {
      for (String point : strategy.rolling().gates()) {
        try {
          DeploymentRollingStrategy.count(point, 1);
        } catch (IllegalArgumentException e) {
          problems.add(e.getMessage());
        }
      }
    }
    if (strategy.canary() != null) {
      canary(strategy.canary(), problems);
    }
    if (strategy.blueGreen() != null) {
      blueGreen(strategy.blueGreen(), problems);
    }
  }

  /** A blue-green's delay (a positive duration) and preview Service name (a DNS-1035 label). */
  private static void blueGreen(UpgradePlan.BlueGreen blueGreen, List<String> problems) {
    if (blueGreen.scaleDownDelay() != null) {
      try {
        Durations.positive("strategy.blueGreen.scaleDownDelay", blueGreen.scaleDownDelay());
      } catch (IllegalArgumentException e) {
        problems.add(e.getMessage());
      }
    }
    String name = blueGreen.previewService();
    if (name != null && (name.length() > 63 || !name.matches("[a-z]([-a-z0-9]*[a-z0-9])?"))) {
      problems.add(
          "strategy.blueGreen.previewService: '"
              + name
              + "' is not a Service name (lower-case letters, digits and '-', starting with a"
              + " letter, at most 63 characters)");
    }
  }

  /** A canary's steps: each exactly one of setWeight (0 to 100), pause and analysis. */
  private static void canary(UpgradePlan.Canary canary, List<String> problems) {
    if (canary.steps() == null) {
      return;
    }
    int n = 0;
    for (UpgradePlan.CanaryStep step : canary.steps()) {
      n++;
      if (step == null) {
        problems.add("strategy.canary.steps[" + n + "]: empty step");
        continue;
      }
      int given =
          (step.setWeight() != null ? 1 : 0)
              + (step.pause() != null ? 1 : 0)
              + (step.analysis() != null ? 1 : 0);
      if (given != 1) {
        problems.add(
            "strategy.canary.steps["
                + n
                + "]: give exactly one of setWeight, pause and analysis (e.g. {setWeight: 25},"
                + " {pause: {}}, {pause: {duration: 10m}}, {analysis: {}})");
        continue;
      }
      if (step.setWeight() != null && (step.setWeight() < 0 || step.setWeight() > 100)) {
        problems.add(
            "strategy.canary.steps["
                + n
                + "]: setWeight is a percent of the pods, 0 to 100, was "
                + step.setWeight());
      }
      if (step.pause() != null && step.pause().duration() != null) {
        try {
          Durations.positive(
              "strategy.canary.steps[" + n + "].pause.duration", step.pause().duration());
        } catch (IllegalArgumentException e) {
          problems.add(e.getMessage());
        }
      }
    }
  }

  /**
   * What main refused before the canary strategy, in a plan this version accepts: a run refused for
   * it ended before it did anything, and its history must replay as it ran.
   */
  static List<String> refusedBeforeCanary(UpgradePlan plan) {
    List<String> problems = new ArrayList<>();
    notYet(
        problems, plan.strategy() != null && plan.strategy().canary() != null, "strategy canary");
    return problems;
  }

  /**
   * What main refused before the blue-green strategy, in a plan this version accepts: a run refused
   * for it ended before it did anything, and its history must replay as it ran.
   */
  static List<String> refusedBeforeBlueGreen(UpgradePlan plan) {
    List<String> problems = new ArrayList<>();
    notYet(
        problems,
        plan.strategy() != null && plan.strategy().blueGreen() != null,
        "strategy blueGreen");
    return problems;
  }

  /** StatefulSet fields the API server never lets change in place, with the way out. */
  private static final Map<String, String> IMMUTABLE =
      Map.of(
          "volumeClaimTemplates",
          "volumeClaimTemplates cannot change in place (the API server refuses it, helm#7998):"
              + " delete the StatefulSet with `kubectl delete sts NAME --cascade=orphan` (pods and"
              + " claims stay), create it again with the new claim templates, then upgrade",
          "selector",
          "spec.selector cannot change in place: recreate the StatefulSet (`kubectl delete sts"
              + " NAME --cascade=orphan`, then apply it with the new selector)",
          "serviceName",
          "serviceName cannot change in place: recreate the StatefulSet (`kubectl delete sts NAME"
              + " --cascade=orphan`, then apply it with the new serviceName)",
          "podManagementPolicy",
          "podManagementPolicy cannot change in place: recreate the StatefulSet (`kubectl delete"
              + " sts NAME --cascade=orphan`, then apply it)");

  /**
   * change.template patches spec.template, a pod template: StatefulSet fields put there by mistake
   * (the immutable ones especially) are refused up front, with the reason and the way out.
   */
  private static void templateFields(Map<String, Object> template, List<String> problems) {
    List<String> places = new ArrayList<>(template.keySet());
    if (template.get("spec") instanceof Map<?, ?> spec) {
      spec.keySet().forEach(k -> places.add(String.valueOf(k)));
    }
    for (String key : places) {
      if (IMMUTABLE.containsKey(key)) {
        problems.add(PreChecks.IMMUTABLE + ": " + IMMUTABLE.get(key));
      }
    }
    for (String key : template.keySet()) {
      if (!key.equals("metadata") && !key.equals("spec") && !IMMUTABLE.containsKey(key)) {
        problems.add(
            "change.template patches the pod template (spec.template): '"
                + key
                + "' is not one of its fields (metadata, spec)");
      }
    }
  }

  private static void hook(List<String> problems, String name, UpgradePlan.Hook hook) {
    if (hook == null) {
      return;
    }
    String where = "hooks." + name;
    if ((hook.image() == null) == (hook.job() == null)) {
      problems.add(
          where
              + ": give either image (and command) or job, not "
              + (hook.image() == null ? "neither" : "both"));
    }
    if (hook.image() != null && !isImageReference(hook.image())) {
      problems.add(where + ": '" + hook.image() + "' is not a valid image reference");
    }
    if (hook.job() != null) {
      Object spec = hook.job().containsKey("spec") ? hook.job().get("spec") : hook.job();
      Object template = spec instanceof Map<?, ?> m ? m.get("template") : null;
      Object podSpec = template instanceof Map<?, ?> t ? t.get("spec") : null;
      Object containers = podSpec instanceof Map<?, ?> p ? p.get("containers") : null;
      if (!(containers instanceof List<?> list) || list.isEmpty()) {
        problems.add(where + ".job: a Job spec needs template.spec.containers");
      }
    }
    try {
      hook.effectiveTimeout();
    } catch (IllegalArgumentException e) {
      problems.add(where + ": " + e.getMessage());
    }
  }

  /**
   * gateTimeout, onGateTimeout, approvals and excludeStarter: what a gate does and who opens it.
   */
  private static void gatePolicy(UpgradePlan plan, List<String> problems) {
    try {
      plan.effectiveGateTimeout();
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
    }
    if (plan.onGateTimeout() != null && plan.gateTimeout() == null) {
      problems.add(
          "onGateTimeout needs gateTimeout: how long a gate waits before it applies (e.g."
              + " gateTimeout: 24h)");
    }
    if (plan.approvals() != null && (plan.approvals() < 1 || plan.approvals() > 10)) {
      problems.add("approvals must be between 1 and 10, was " + plan.approvals());
    }
    if (plan.effectiveOnGateTimeout() == UpgradePlan.GateTimeoutPolicy.RESUME
        && plan.gateTimeout() != null
        && plan.countsApprovals()) {
      problems.add(
          "onGateTimeout: resume would open a gate that needs approvals without them: use hold or"
              + " rollback with approvals and excludeStarter");
    }
    // A Deployment's rolling strategy names its own gates (strategy.rolling.gates) instead of gate.
    boolean namesGates =
        plan.strategy() != null
            && plan.strategy().rolling() != null
            && plan.strategy().rolling().gates() != null;
    boolean canary = plan.strategy() != null && plan.strategy().canary() != null;
    boolean gated =
        canary
            ? DeploymentCanaryStrategy.steps(plan).stream()
                .anyMatch(s -> s != null && s.pause() != null && s.pause().duration() == null)
            : plan.strategy() != null && plan.strategy().blueGreen() != null
                ? plan.effectiveGate() != UpgradePlan.Gate.NONE
                : namesGates
                    ? !plan.strategy().rolling().gates().isEmpty()
                    : plan.effectiveGate() != UpgradePlan.Gate.NONE;
    if ((plan.gateTimeout() != null || plan.countsApprovals()) && !gated) {
      problems.add(
          "gateTimeout, approvals and excludeStarter apply to gates, and the plan has none (gate: none,"
              + " or strategy.rolling.gates: [])");
    }
  }

  private static void notYet(List<String> problems, boolean used, String what) {
    if (used) {
      problems.add(what + " is not supported by this version of Lockstep yet");
    }
  }

  /**
   * What release 0.2.0 refused in a plan that this version accepts: a run 0.2.0 refused for it
   * ended before it did anything, and its history must replay as it ran.
   */
  static List<String> refusedBy020(UpgradePlan plan) {
    List<String> problems = new ArrayList<>();
    if (plan.target() != null) {
      try {
        if (Target.DEPLOYMENT.equals(Target.parse(plan.target(), "default").kind())) {
          problems.add(
              "deployment targets are not supported yet: Lockstep upgrades StatefulSets for now");
        }
      } catch (IllegalArgumentException e) {
        // refused by problems() as it was by 0.2.0
      }
    }
    notYet(problems, plan.gateTimeout() != null || plan.onGateTimeout() != null, "gateTimeout");
    return problems;
  }

  private static void notify(UpgradePlan plan, List<String> problems) {
    if (plan.notifications() == null) {
      return;
    }
    try {
      java.time.Duration remind = plan.notifications().effectiveRemindEvery();
      if (remind != null && remind.compareTo(MIN_REMIND_EVERY) < 0) {
        // Each reminder is a timer and a delivery in the run's history, which Temporal bounds.
        problems.add(
            "notify.remindEvery must be at least 10m (every reminder is kept in the run's"
                + " history), was "
                + plan.notifications().remindEvery());
      }
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
    }
    // No webhook is the plan's way to tell nobody, the worker's defaults included; reminders of
    // nobody are a mistake.
    if (plan.notifications().effectiveWebhooks().isEmpty()
        && plan.notifications().remindEvery() != null) {
      problems.add(
          "notify.remindEvery: no webhook to remind (notify: [] tells nobody; give"
              + " notify.webhooks: [{url: https://...}])");
    }
    for (UpgradePlan.Webhook w : plan.notifications().effectiveWebhooks()) {
      String url = w.url() == null ? "" : w.url();
      java.net.URI uri = null;
      try {
        uri = new java.net.URI(url);
      } catch (java.net.URISyntaxException e) {
        // said below
      }
      if (uri == null
          || uri.getHost() == null
          || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
        // The URL may carry a token (Slack's do): name the webhook by its place, not its text.
        problems.add(
            "notify.webhooks: each url must be an http(s) URL with a host (webhook "
                + (plan.notifications().effectiveWebhooks().indexOf(w) + 1)
                + ")");
      }
      if (!w.effectiveFormat().equals("json") && !w.effectiveFormat().equals("slack")) {
        problems.add(
            "notify.webhooks: format must be json or slack, not '" + w.effectiveFormat() + "'");
      }
    }
  }
}
