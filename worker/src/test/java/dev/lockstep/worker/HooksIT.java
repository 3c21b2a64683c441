package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.kubesim.ImageBehaviour;
import dev.lockstep.kubesim.RequestRecord;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.UpgradeStatus;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Hooks as Kubernetes Jobs, against kubesim's Job controller (and a real one in the real lane). */
class HooksIT {
  private static UpgradeHarness h;
  private static final UpgradePlan.Hook OK =
      new UpgradePlan.Hook("busybox:1.36", List.of("sh", "-c", "true"));

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

  @AfterEach
  void clearBehaviours() {
    h.cluster.behaviours().clear();
  }

  private static UpgradePlan.Builder plan(String target, UpgradePlan.Gate gate) {
    return UpgradePlan.builder()
        .target(target)
        .cluster(UpgradeHarness.CLUSTER)
        .images(Map.of("app", "example/app:2.0"))
        .gate(gate)
        .unitTimeout("1m");
  }

  private static List<Job> jobs(String ns, String hook) {
    return h.kube
        .batch()
        .v1()
        .jobs()
        .inNamespace(ns)
        .withLabel("lockstep.dev/hook", hook)
        .list()
        .getItems();
  }

  private static boolean complete(Job job) {
    return job.getStatus() != null
        && job.getStatus().getConditions() != null
        && job.getStatus().getConditions().stream()
            .anyMatch(c -> c.getType().equals("Complete") && c.getStatus().equals("True"));
  }

  @Test
  void backupRunsFirstMigrateOnceBeforeTheGateAndTestAfterTheLastUnit() {
    String ns = h.namespace();
    h.statefulSet(ns, "app", 3, "example/app:1.0");
    String target = ns + "/statefulset/app";
    long mark = h.mark();
    h.start(
        plan(target, UpgradePlan.Gate.FIRST)
            .hooks(new UpgradePlan.Hooks(OK, OK, OK, null))
            .build());
    UpgradeStatus gate = h.awaitPhase(target, Phase.WAITING_FOR_RESUME);
    assertThat(jobs(ns, "backup")).singleElement().matches(HooksIT::complete);
    assertThat(jobs(ns, "migrate")).singleElement().matches(HooksIT::complete);
    assertThat(jobs(ns, "test")).isEmpty();
    Job backup = jobs(ns, "backup").get(0);
    assertEquals(gate.runId(), backup.getMetadata().getLabels().get("lockstep.dev/run"));
    assertThat(backup.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv())
        .anyMatch(e -> e.getName().equals("LOCKSTEP_TARGET") && e.getValue().equals(target));
    // The backup Job was created before the first write to the StatefulSet.
    List<RequestRecord> writes = h.writesSince(mark, ns);
    long backupAt = firstWrite(writes, "jobs");
    long firstChange = firstWrite(writes, "statefulsets");
    assertThat(backupAt).isLessThan(firstChange);

    h.upgrade(target).resume(new SteerRequest("ops", "migrated"));
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(jobs(ns, "migrate")).hasSize(1);
    assertThat(jobs(ns, "test")).singleElement().matches(HooksIT::complete);
  }

  private static long firstWrite(List<RequestRecord> writes, String resource) {
    return writes.stream()
        .filter(r -> r.resource().equals(resource))
        .mapToLong(RequestRecord::seq)
        .min()
        .orElseThrow(() -> new AssertionError("no write to " + resource + " in " + writes));
  }

  @Test
  void aFailedBackupEndsTheRunWithTheLogTailAndNothingChanged() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "app", 2, "example/app:1.0");
    h.cluster.behaviours().image("example/backup:1", ImageBehaviour.FAIL);
    String target = ns + "/statefulset/app";
    long mark = h.mark();
    h.start(
        plan(target, UpgradePlan.Gate.NONE)
            .hooks(
                new UpgradePlan.Hooks(
                    new UpgradePlan.Hook("example/backup:1", List.of("backup")), null, null, null))
            .build());
    UpgradeResult result = h.result(target);
    assertEquals(Phase.FAILED, result.phase());
    assertThat(result.message())
        .startsWith("backup hook failed: Job app-backup-")
        .endsWith("; nothing was changed");
    // In the real lane too: the API server reads the log from the hollow node's kubelet API.
    assertThat(result.message())
        .contains("failed (BackoffLimitExceeded); log of app-backup-")
        .contains("exited with code 1");
    assertThat(h.writesSince(mark, ns)).noneMatch(r -> r.resource().equals("statefulsets"));
    StatefulSet after = h.kube.apps().statefulSets().inNamespace(ns).withName("app").get();
    assertEquals(before.getMetadata().getGeneration(), after.getMetadata().getGeneration());
  }

  @Test
  void migrateRunsExactlyOnceWhenTheWorkerDiesWhileItRuns() {
    String ns = h.namespace();
    h.statefulSet(ns, "app", 2, "example/app:1.0");
    h.cluster
        .behaviours()
        .image("example/migrate:1", ImageBehaviour.startingIn(Duration.ofSeconds(3)));
    String target = ns + "/statefulset/app";
    h.start(
        plan(target, UpgradePlan.Gate.NONE)
            .hooks(
                new UpgradePlan.Hooks(
                    null,
                    new UpgradePlan.Hook("example/migrate:1", List.of("migrate")),
                    null,
                    null))
            .build(),
        3);
    h.awaitPhase(target, Phase.MIGRATING);
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> jobs(ns, "migrate").size() == 1);
    h.replaceWorkers();
    UpgradeResult result = h.result(target);
    assertEquals(Phase.COMPLETED, result.phase(), result.message());
    assertThat(jobs(ns, "migrate")).singleElement().matches(HooksIT::complete);
    String job = jobs(ns, "migrate").get(0).getMetadata().getName();
    assertThat(h.kube.pods().inNamespace(ns).withLabel("job-name", job).list().getItems())
        .hasSize(1);
  }

  @Test
  void aFailedTestAfterAForwardOnlyMigrationRestoresTheDataThenTheUnits() {
    String ns = h.namespace();
    StatefulSet before = h.statefulSet(ns, "app", 2, "example/app:1.0");
    h.cluster.behaviours().image("example/smoke:1", ImageBehaviour.FAIL);
    String target = ns + "/statefulset/app";
    h.start(
        plan(target, UpgradePlan.Gate.NONE)
            .migration(new UpgradePlan.Migration(false, null))
            .hooks(
                new UpgradePlan.Hooks(
                    null, OK, new UpgradePlan.Hook("example/smoke:1", List.of("smoke")), OK))
            .build());
    UpgradeResult result = h.result(target);
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message()).startsWith("test hook failed: Job app-test-");
    assertThat(jobs(ns, "restore")).singleElement().matches(HooksIT::complete);
    assertThat(h.revisions(ns, "app").values())
        .containsOnly(before.getStatus().getCurrentRevision());
  }
}
