package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.PreChecks;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.Upgrades;
import dev.lockstep.workflows.Verdict;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The pre-upgrade checks that need the cluster, each passing and failing, against kubesim. */
class ChecksIT {
  private static UpgradeHarness h;
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void start() {
    h = new UpgradeHarness(Duration.ofMillis(100));
  }

  @AfterAll
  static void stop() {
    if (h != null) {
      h.close();
    }
  }

  private static Map<String, Object> json(String text) {
    try {
      return JSON.readValue(text, new TypeReference<Map<String, Object>>() {});
    } catch (Exception e) {
      throw new IllegalArgumentException(e);
    }
  }

  /** A database-like StatefulSet: a named port, a Service on it, a secret env, a claim. */
  private static StatefulSet database(String ns, int replicas, String cpu) {
    StatefulSet sts =
        new StatefulSetBuilder()
            .withNewMetadata()
            .withName("db")
            .endMetadata()
            .withNewSpec()
            .withReplicas(replicas)
            .withServiceName("db")
            .withNewSelector()
            .addToMatchLabels("app", "db")
            .endSelector()
            .withNewTemplate()
            .withNewMetadata()
            .addToLabels("app", "db")
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName("db")
            .withImage("postgres:14.8")
            .addNewPort()
            .withName("pg")
            .withContainerPort(5432)
            .endPort()
            .addNewEnv()
            .withName("PGPASSWORD")
            .withNewValueFrom()
            .withNewSecretKeyRef("password", "db-secret", false)
            .endValueFrom()
            .endEnv()
            .addNewVolumeMount()
            .withName("data")
            .withMountPath("/var/lib/postgresql")
            .endVolumeMount()
            .withNewResources()
            .addToRequests("cpu", new Quantity(cpu))
            .endResources()
            .endContainer()
            .endSpec()
            .endTemplate()
            .addNewVolumeClaimTemplate()
            .withNewMetadata()
            .withName("data")
            .endMetadata()
            .withNewSpec()
            .withAccessModes("ReadWriteOnce")
            .withNewResources()
            .addToRequests("storage", new Quantity("1Gi"))
            .endResources()
            .endSpec()
            .endVolumeClaimTemplate()
            .endSpec()
            .build();
    h.kube
        .services()
        .inNamespace(ns)
        .resource(
            new ServiceBuilder()
                .withNewMetadata()
                .withName("db")
                .endMetadata()
                .withNewSpec()
                .addToSelector("app", "db")
                .addNewPort()
                .withPort(5432)
                .withTargetPort(new IntOrString("pg"))
                .endPort()
                .endSpec()
                .build())
        .create();
    return h.createReady(ns, sts);
  }

  private static UpgradePlan.Builder plan(String ns) {
    return UpgradePlan.builder()
        .target(ns + "/statefulset/db")
        .cluster(UpgradeHarness.CLUSTER)
        .gate(UpgradePlan.Gate.NONE)
        .unitTimeout("1m");
  }

  /** Starts the plan and expects pre-checks to refuse it without a single write. */
  private static Verdict refused(UpgradePlan plan) {
    long mark = h.mark();
    Upgrades.Started started = h.start(plan);
    assertEquals(Verdict.Refusal.CHECKS_FAILED, started.verdict().refusal());
    assertEquals(Phase.FAILED, h.result(plan.target()).phase());
    String ns = plan.target().substring(0, plan.target().indexOf('/'));
    assertThat(h.writesSince(mark, ns)).isEmpty();
    return started.verdict();
  }

  private static String problem(Verdict verdict, String check) {
    return verdict.problems().stream()
        .filter(p -> p.startsWith(check + ": "))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + check + " in " + verdict.problems()));
  }

  @Test
  void capacityRefusesANewTemplateThatFitsNoNode() {
    String ns = h.namespace();
    database(ns, 2, "500m");
    Verdict verdict =
        refused(
            plan(ns)
                .change(
                    new UpgradePlan.Change(
                        null, null, Map.of("db", Map.of("requests", Map.of("cpu", "64")))))
                .build());
    assertThat(problem(verdict, PreChecks.CAPACITY))
        .startsWith("capacity: no node has room for db-1 on the new template (needs cpu 64000m");
    assertThat(verdict.problems()).hasSize(1);
  }

  @Test
  void capacityCountsTheExtraUnitOfAScaleUp() {
    h.deleteNamespaces();
    String ns = h.namespace();
    // Three nodes of 4 CPUs; three units of 3 CPUs leave no node with room for a fourth.
    database(ns, 3, "3");
    Verdict verdict = refused(plan(ns).images(Map.of("db", "postgres:14.9")).scaleUp(true).build());
    assertThat(problem(verdict, PreChecks.CAPACITY))
        .startsWith("capacity: no node has room for the extra unit db-3");
    // Without the extra unit, each replacement fits in the room its old pod leaves.
    Upgrades.Started ok = h.start(plan(ns).images(Map.of("db", "postgres:14.9")).build());
    assertThat(ok.verdict().valid()).isTrue();
    assertEquals(Phase.COMPLETED, h.result(ns + "/statefulset/db").phase());
  }

  /** A budget for the db: policy/v1, or policy/v1beta1 on a server without v1 (before 1.21). */
  private static void budget(String ns, int minAvailable) {
    if (servesPolicyV1()) {
      h.kube
          .policy()
          .v1()
          .podDisruptionBudget()
          .inNamespace(ns)
          .resource(
              new PodDisruptionBudgetBuilder()
                  .withNewMetadata()
                  .withName("db-pdb")
                  .endMetadata()
                  .withNewSpec()
                  .withMinAvailable(new IntOrString(minAvailable))
                  .withNewSelector()
                  .addToMatchLabels("app", "db")
                  .endSelector()
                  .endSpec()
                  .build())
          .create();
    } else {
      h.kube
          .policy()
          .v1beta1()
          .podDisruptionBudget()
          .inNamespace(ns)
          .resource(
              new io.fabric8.kubernetes.api.model.policy.v1beta1.PodDisruptionBudgetBuilder()
                  .withNewMetadata()
                  .withName("db-pdb")
                  .endMetadata()
                  .withNewSpec()
                  .withMinAvailable(new IntOrString(minAvailable))
                  .withNewSelector()
                  .addToMatchLabels("app", "db")
                  .endSelector()
                  .endSpec()
                  .build())
          .create();
    }
  }

  private static Integer currentHealthy(String ns) {
    if (servesPolicyV1()) {
      var pdb = h.kube.policy().v1().podDisruptionBudget().inNamespace(ns).withName("db-pdb").get();
      return pdb.getStatus() == null ? null : pdb.getStatus().getCurrentHealthy();
    }
    var pdb =
        h.kube.policy().v1beta1().podDisruptionBudget().inNamespace(ns).withName("db-pdb").get();
    return pdb.getStatus() == null ? null : pdb.getStatus().getCurrentHealthy();
  }

  private static boolean servesPolicyV1() {
    return h.kube.supports(io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget.class);
  }

  @Test
  void disruptionRefusesWhenABudgetAllowsNoUnitDownAndForcingIsRecorded() {
    String ns = h.namespace();
    database(ns, 3, "100m");
    budget(ns, 3);
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(10))
        .until(() -> Integer.valueOf(3).equals(currentHealthy(ns)));
    Verdict verdict = refused(plan(ns).images(Map.of("db", "postgres:14.9")).build());
    assertThat(problem(verdict, PreChecks.DISRUPTION))
        .isEqualTo(
            "disruption: taking a unit down would break its disruption budget: db-pdb allows 0"
                + " disruptions (currentHealthy 3, desiredHealthy 3)");

    Upgrades.Started forced =
        h.start(
            plan(ns)
                .images(Map.of("db", "postgres:14.9"))
                .force(List.of(PreChecks.DISRUPTION))
                .build());
    assertThat(forced.verdict().valid()).isTrue();
    UpgradeResult result = h.result(ns + "/statefulset/db");
    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(result.status().checks())
        .filteredOn(c -> c.name().equals(PreChecks.DISRUPTION))
        .singleElement()
        .satisfies(c -> assertThat(c.forced()).isTrue());
  }

  @Test
  void compatibilityNamesEveryBrokenPortMountAndEnvKindWithoutShowingValues() {
    String ns = h.namespace();
    database(ns, 2, "100m");
    Verdict verdict =
        refused(
            plan(ns)
                .change(
                    new UpgradePlan.Change(
                        Map.of("db", "postgres:14.9"),
                        json(
                            "{\"spec\":{\"containers\":[{\"name\":\"db\",\"ports\":null,"
                                + "\"volumeMounts\":null,\"env\":[{\"name\":\"PGPASSWORD\","
                                + "\"value\":\"hunter2\",\"valueFrom\":null}]}]}}"),
                        null))
                .build());
    String compatibility = problem(verdict, PreChecks.COMPATIBILITY);
    assertThat(compatibility)
        .contains("Service db targets port 'pg', which the new template no longer declares")
        .contains("container db no longer mounts claim data at /var/lib/postgresql")
        .contains("env PGPASSWORD of container db changes from secretKeyRef to a literal value");
    assertThat(String.join("; ", verdict.problems())).doesNotContain("hunter2");
  }

  @Test
  void compatibleChangesPassEveryCheck() {
    String ns = h.namespace();
    database(ns, 2, "100m");
    Upgrades.Started started = h.start(plan(ns).images(Map.of("db", "postgres:14.9")).build());
    assertThat(started.verdict().valid()).isTrue();
    UpgradeResult result = h.result(ns + "/statefulset/db");
    assertEquals(Phase.COMPLETED, result.phase());
    assertThat(result.status().checks())
        .extracting(c -> c.name() + "=" + c.passed())
        .containsExactly(
            "units-ready=true",
            "no-rollout=true",
            "capacity=true",
            "disruption=true",
            "compatibility=true",
            "immutable-fields=true",
            "dry-run=true");
  }

  @Test
  void labelsThatLeaveTheSelectorAreRefusedUpFrontWithTheWayOut() {
    String ns = h.namespace();
    database(ns, 2, "100m");
    Verdict verdict =
        refused(
            plan(ns)
                .change(
                    new UpgradePlan.Change(
                        null, json("{\"metadata\":{\"labels\":{\"app\":\"other\"}}}"), null))
                .build());
    assertThat(problem(verdict, PreChecks.IMMUTABLE))
        .contains("no longer match spec.selector")
        .contains("--cascade=orphan");
    assertThat(problem(verdict, PreChecks.DRY_RUN)).isEqualTo("dry-run: not run: immutable-fields");
  }

  @Test
  void theApiServersDryRunAnswerIsACheck() {
    String ns = h.namespace();
    String server = h.kube.getKubernetesVersion().getGitVersion();
    if (server.startsWith("v1.20.")) {
      // v1.20 validates a StatefulSet's template on create, not on update (measured): its dry run
      // accepts this change, and the unit's pod is refused instead (FailedCreate, FailureIT).
      UpgradeHarness.onlyInKubesimLane(
          "ChecksIT.theApiServersDryRunAnswerIsACheck: "
              + server
              + " does not validate a StatefulSet's template on update");
    }
    database(ns, 2, "100m");
    long mark = h.mark();
    Verdict verdict =
        refused(
            plan(ns)
                .change(
                    new UpgradePlan.Change(
                        null,
                        json(
                            "{\"spec\":{\"containers\":[{\"name\":\"\",\"image\":\"busybox:1.36\"}]}}"),
                        null))
                .build());
    assertThat(problem(verdict, PreChecks.DRY_RUN))
        .startsWith("dry-run: the API server refuses the change (422)")
        .contains("containers[1].name: Required value");
    assertThat(h.cluster.requests().since(mark)).anyMatch(r -> r.dryRun());
  }
}
