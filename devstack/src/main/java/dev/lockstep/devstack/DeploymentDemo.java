package dev.lockstep.devstack;

import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.StatusTable;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Step;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeRequest;
import dev.lockstep.workflows.UpgradeStatus;
import dev.lockstep.workflows.UpgradeWorkflow;
import dev.lockstep.workflows.Upgrades;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.temporal.client.WorkflowClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code lockstep demo --deployment STRATEGY}: upgrades {@code demo/deployment/aeterna} (4 replicas
 * behind the Service {@code aeterna}) from aeterna:1.4.0 to 1.5.0 with that strategy, printing each
 * step as the run reaches it with the traffic share (the Service's Ready endpoints per version, as
 * {@code status} prints its {@code Traffic:} line), and resuming every gate itself as {@code
 * lockstep resume} does.
 *
 * <p>A strategy is one {@link Kind}: its plan and the command a user would type.
 */
final class DeploymentDemo {
  static final String TARGET = "demo/deployment/aeterna";
  static final String SERVICE = "aeterna";
  static final String TO = "aeterna:1.5.0";

  /** The strategies the demo knows, by the name {@code --deployment} takes. */
  enum Kind {
    ROLLING("rolling"),
    CANARY("canary"),
    BLUE_GREEN("blue-green");

    final String flag;

    Kind(String flag) {
      this.flag = flag;
    }

    /** The plan's strategy. */
    UpgradePlan.Strategy strategy() {
      return switch (this) {
        case ROLLING -> UpgradePlan.Strategy.rolling(List.of("1", "50%"));
        case CANARY ->
            new UpgradePlan.Strategy(
                null,
                new UpgradePlan.Canary(
                    List.of(
                        new UpgradePlan.CanaryStep(25, null, null),
                        new UpgradePlan.CanaryStep(null, new UpgradePlan.Pause(null), null),
                        new UpgradePlan.CanaryStep(50, null, null),
                        new UpgradePlan.CanaryStep(null, new UpgradePlan.Pause("5s"), null),
                        new UpgradePlan.CanaryStep(null, null, Map.of()))),
                null);
        case BLUE_GREEN -> new UpgradePlan.Strategy(null, null, new UpgradePlan.BlueGreen("5s"));
      };
    }

    /** How the plan reads in a plan file, for the command line the demo prints. */
    String described() {
      return switch (this) {
        case ROLLING -> "strategy: {rolling: {gates: [1, \"50%\"]}}";
        case CANARY ->
            "strategy: {canary: {steps: [{setWeight: 25}, {pause: {}}, {setWeight: 50},"
                + " {pause: {duration: 5s}}, {analysis: {}}]}}";
        case BLUE_GREEN -> "strategy: {blueGreen: {scaleDownDelay: 5s}}";
      };
    }
  }

  private final Kind kind;

  private DeploymentDemo(Kind kind) {
    this.kind = kind;
  }

  /**
   * The demo of {@code name}.
   *
   * @throws IllegalArgumentException with the one line to print, for a name that is not a strategy
   */
  static DeploymentDemo of(String name) {
    List<String> known = new ArrayList<>();
    for (Kind k : Kind.values()) {
      known.add(k.flag);
      if (k.flag.equals(name)) {
        return new DeploymentDemo(k);
      }
    }
    throw new IllegalArgumentException(
        "--deployment must be one of " + String.join(", ", known) + ", not '" + name + "'");
  }

  UpgradePlan plan() {
    return UpgradePlan.builder()
        .target(TARGET)
        .cluster(Names.DEFAULT_CLUSTER)
        .images(Map.of("aeterna", TO))
        .strategy(kind.strategy())
        .unitTimeout("2m")
        .build();
  }

  int run(WorkflowClient client, DevStack stack) throws InterruptedException {
    KubernetesClient kube = stack.kubesim().client();
    say("");
    say("# plan.yaml: " + kind.described());
    say("$ lockstep upgrade " + TARGET + " --image aeterna=" + TO + " -f plan.yaml");
    Instant began = Instant.now();
    Upgrades.Started started =
        Upgrades.start(
            client,
            new UpgradeRequest(plan(), "demo@lockstep", kind.flag + " upgrade 1.4.0 -> 1.5.0", 0));
    say(
        "upgrade started (run "
            + started.runId()
            + "), from revision "
            + started.verdict().fromRevision());
    say("rollback: lockstep rollback " + TARGET);
    say("");
    say("Traffic: " + traffic(kube));
    UpgradeWorkflow upgrade = client.newWorkflowStub(UpgradeWorkflow.class, started.workflowId());
    String shown = "";
    Set<Integer> resumed = new HashSet<>();
    UpgradeStatus status;
    while (true) {
      status = upgrade.status();
      String now = stepLine(status) + "\n  Traffic: " + traffic(kube);
      if (!now.equals(shown)) {
        say(now);
        shown = now;
      }
      if (status.phase() == Phase.WAITING_FOR_RESUME && resumed.add(status.step())) {
        say("");
        System.out.println(StatusTable.render(status));
        say("The run waits at a gate; a human would look now. The demo resumes, as");
        say("`lockstep resume " + TARGET + "` does:");
        // A moment to read the table before the demo plays the human.
        Thread.sleep(2000);
        String atGate = stepLine(status) + "\n  Traffic: " + traffic(kube);
        if (!atGate.equals(shown)) {
          say(atGate);
          shown = atGate;
        }
        say(upgrade.resume(new SteerRequest("demo@lockstep", "looks healthy")));
        say("");
      }
      if (status.phase().isTerminal()) {
        break;
      }
      Thread.sleep(200);
    }
    say("");
    say("Summary");
    say("  outcome:   " + status.phase() + ": " + status.message());
    say("  target:    " + status.target() + " (" + kind.flag + ")");
    say("  images:    " + status.fromImages() + " -> " + status.toImages());
    say("  revisions: " + status.fromRevision() + " -> " + status.toRevision());
    say("  traffic:   " + traffic(kube));
    say("  gates:     " + resumed.size() + " resumed by demo@lockstep");
    say("  took:      " + Duration.between(began, Instant.now()).toSeconds() + "s");
    return status.phase() == Phase.COMPLETED ? 0 : 1;
  }

  /** {@code step 4/9 roll to 1 of 4 new pods (UPGRADING)}, or the phase once the run ended. */
  static String stepLine(UpgradeStatus s) {
    List<Step> steps = s.steps();
    if (s.step() == null || steps == null || s.step() >= steps.size()) {
      return "end: " + s.phase() + (s.message() == null ? "" : " (" + s.message() + ")");
    }
    return "step "
        + (s.step() + 1)
        + "/"
        + steps.size()
        + " "
        + steps.get(s.step()).describe()
        + " ("
        + s.phase()
        + ")";
  }

  /**
   * Where the Service sends traffic now: its Ready endpoints, counted per image, in {@code
   * status}'s words ({@code Service aeterna: aeterna:1.4.0 3 (75%), aeterna:1.5.0 1 (25%) of the
   * Ready endpoints}).
   */
  static String traffic(KubernetesClient kube) {
    Map<String, Integer> perImage = new TreeMap<>();
    for (EndpointSlice slice :
        kube.discovery()
            .v1()
            .endpointSlices()
            .inNamespace(DevStack.DEMO_NAMESPACE)
            .withLabel("kubernetes.io/service-name", SERVICE)
            .list()
            .getItems()) {
      for (Endpoint e : slice.getEndpoints() == null ? List.<Endpoint>of() : slice.getEndpoints()) {
        if (e.getConditions() == null
            || !Boolean.TRUE.equals(e.getConditions().getReady())
            || e.getTargetRef() == null) {
          continue;
        }
        Pod pod =
            kube.pods()
                .inNamespace(DevStack.DEMO_NAMESPACE)
                .withName(e.getTargetRef().getName())
                .get();
        if (pod != null) {
          perImage.merge(pod.getSpec().getContainers().get(0).getImage(), 1, Integer::sum);
        }
      }
    }
    List<UpgradeStatus.Share> shares = new ArrayList<>();
    perImage.forEach((image, ready) -> shares.add(new UpgradeStatus.Share(image, null, ready)));
    return new UpgradeStatus.Traffic(SERVICE, shares).describe();
  }

  private static void say(String line) {
    System.out.println(line);
    System.out.flush();
  }
}
