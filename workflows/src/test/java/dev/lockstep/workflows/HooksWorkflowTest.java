package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Where hooks run, what their failures lead to, and the data risk of a forward-only migration. */
@Timeout(60)
class HooksWorkflowTest {
  static final String TARGET = "demo/statefulset/web";
  private static final UpgradePlan.Hook BACKUP =
      new UpgradePlan.Hook("postgres:14.8", List.of("sh", "-c", "pg_dumpall > /backup/all.sql"));
  private static final UpgradePlan.Hook MIGRATE =
      new UpgradePlan.Hook("discourse:3.3", List.of("rake", "db:migrate"));
  private static final UpgradePlan.Hook TEST =
      new UpgradePlan.Hook("curlimages/curl:8.10.1", List.of("curl", "-f", "http://web/"));
  private static final UpgradePlan.Hook RESTORE =
      new UpgradePlan.Hook("postgres:14.8", List.of("sh", "-c", "psql < /backup/all.sql"));

  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private FakeCluster cluster;

  @BeforeEach
  void start() {
    env = Environments.withSearchAttributes(TestWorkflowEnvironment.newInstance());
    Worker worker = env.newWorker(Names.taskQueue("default"));
    worker.registerWorkflowImplementationTypes(UpgradeWorkflowImpl.class);
    cluster = new FakeCluster(3);
    worker.registerActivitiesImplementations(cluster);
    env.start();
    client = env.getWorkflowClient();
  }

  @AfterEach
  void stop() {
    env.close();
  }

  private static UpgradePlan.Builder plan(UpgradePlan.Gate gate, UpgradePlan.Hooks hooks) {
    return UpgradePlan.builder()
        .target(TARGET)
        .images(Map.of("web", "nginx:1.26"))
        .gate(gate)
        .hooks(hooks);
  }

  private void begin(UpgradePlan plan) {
    Upgrades.start(client, new UpgradeRequest(plan, "alice", "with hooks", 0));
  }

  private UpgradeWorkflow upgrade() {
    return client.newWorkflowStub(
        UpgradeWorkflow.class, Names.workflowId("default", Target.parse(TARGET, "default")));
  }

  private UpgradeResult result() {
    return WorkflowStub.fromTyped(upgrade()).getResult(UpgradeResult.class);
  }

  /** The calls with Job names reduced to their hook, after checking their shape. */
  private List<String> calls() {
    return cluster.calls.stream()
        .map(
            c -> {
              if (c.startsWith("hook ")) {
                String[] parts = c.split(" ");
                assertThat(parts[2]).matches("web-" + parts[1] + "-[0-9a-f]{8}");
                return "hook " + parts[1];
              }
              return c;
            })
        .toList();
  }

  @Test
  void backupBeforeAnyChangeMigrateAfterTheFirstUnitBeforeTheGateTestAfterTheLast() {
    begin(plan(UpgradePlan.Gate.FIRST, new UpgradePlan.Hooks(BACKUP, MIGRATE, TEST, null)).build());
    env.sleep(Duration.ofMinutes(10));
    assertEquals(Phase.WAITING_FOR_RESUME, upgrade().status().phase());
    assertThat(calls())
        .containsExactly(
            "inspect", "hook backup", "prepare {web=nginx:1.26}", "upgrade web-2", "hook migrate");
    upgrade().resume(new SteerRequest("bob", "schema looks right"));
    assertEquals(Phase.COMPLETED, result().phase());
    assertThat(calls())
        .containsExactly(
            "inspect",
            "hook backup",
            "prepare {web=nginx:1.26}",
            "upgrade web-2",
            "hook migrate",
            "upgrade web-1",
            "upgrade web-0",
            "hook test",
            "finish Strategy[type=RollingUpdate, partition=0, spec=null]");
    // Three steps, three Jobs, three names.
    assertThat(cluster.calls.stream().filter(c -> c.startsWith("hook ")).distinct()).hasSize(3);
  }

  @Test
  void aFailedBackupChangesNothing() {
    cluster.failingHooks.add("backup");
    begin(plan(UpgradePlan.Gate.FIRST, new UpgradePlan.Hooks(BACKUP, MIGRATE, null, null)).build());
    UpgradeResult result = result();
    assertEquals(Phase.FAILED, result.phase());
    assertThat(result.message())
        .startsWith("backup hook failed: Job web-backup-")
        .endsWith("; nothing was changed");
    assertThat(calls()).containsExactly("inspect", "hook backup");
  }

  @Test
  void aFailedTestTakesTheFailurePolicy() {
    cluster.failingHooks.add("test");
    begin(plan(UpgradePlan.Gate.NONE, new UpgradePlan.Hooks(null, null, TEST, null)).build());
    UpgradeResult result = result();
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(result.message()).startsWith("test hook failed: Job web-test-");
    assertThat(calls()).endsWith("hook test", "revert to web-1");
  }

  @Test
  void aHeldFailedMigrationIsRetriedWithANewJob() {
    cluster.failingHooks.add("migrate");
    begin(
        plan(UpgradePlan.Gate.NONE, new UpgradePlan.Hooks(null, MIGRATE, null, null))
            .onFailure(UpgradePlan.FailurePolicy.HOLD)
            .build());
    env.sleep(Duration.ofMinutes(5));
    UpgradeStatus held = upgrade().status();
    assertEquals(Phase.HELD, held.phase());
    assertThat(held.message()).startsWith("migrate hook failed: Job web-migrate-");
    // The unit itself is fine: it stays upgraded.
    assertEquals(UnitState.UPGRADED, held.units().get(0).state());
    cluster.failingHooks.clear();
    upgrade().retry(new SteerRequest("dba", "fixed the migration"));
    assertEquals(Phase.COMPLETED, result().phase());
    List<String> migrateJobs =
        cluster.calls.stream().filter(c -> c.startsWith("hook migrate")).toList();
    assertThat(migrateJobs).hasSize(2).doesNotHaveDuplicates();
  }

  @Test
  void aForwardOnlyMigrationIsRestoredWithEveryUnitStoppedBeforeTheUnitsGoBack() {
    cluster.failingHooks.add("test");
    begin(
        plan(UpgradePlan.Gate.NONE, new UpgradePlan.Hooks(null, MIGRATE, TEST, RESTORE))
            .migration(new UpgradePlan.Migration(false, null))
            .build());
    UpgradeResult result = result();
    assertEquals(Phase.ROLLED_BACK, result.phase());
    // Nothing runs while the data is restored: not the new version (it could write to the data or
    // migrate it again), not the old one (the data is not yet restored).
    assertThat(calls())
        .containsExactly(
            "inspect",
            "prepare {web=nginx:1.26}",
            "upgrade web-2",
            "hook migrate",
            "upgrade web-1",
            "upgrade web-0",
            "hook test",
            "scale to 0",
            "hook restore",
            "revert to web-1",
            "scale to 3",
            "release");
    assertThat(result.status().steps())
        .extracting(Step::describe)
        .endsWith("stop web", "restore-data restore", "revert web-1", "start 3 units", "release");
    assertThat(result.status().units()).extracting(UnitStatus::revision).containsOnly("web-1");
  }

  @Test
  void withoutARestoreHookTheRollbackHoldsUntilTheDataRiskIsAccepted() {
    cluster.failingHooks.add("test");
    begin(
        plan(UpgradePlan.Gate.NONE, new UpgradePlan.Hooks(null, MIGRATE, TEST, null))
            .migration(new UpgradePlan.Migration(false, null))
            .build());
    env.sleep(Duration.ofHours(3));
    UpgradeStatus held = upgrade().status();
    assertEquals(Phase.HELD, held.phase());
    assertThat(held.message())
        .contains("rolling back would run web-1 on data migrated forward")
        .contains("lockstep rollback " + TARGET + " --accept-data-risk");
    assertThat(calls()).doesNotContain("revert to web-1");

    WorkflowUpdateException refused =
        assertThrows(
            WorkflowUpdateException.class,
            () -> upgrade().rollback(new SteerRequest("ops", "just roll back")));
    assertThat(refused).hasStackTraceContaining("add --accept-data-risk");
    assertThrows(
        WorkflowUpdateException.class, () -> upgrade().retry(new SteerRequest("ops", "again")));

    assertThat(upgrade().rollback(new SteerRequest("dba", "restored by hand", true)))
        .endsWith("accepting the data risk");
    UpgradeResult result = result();
    assertEquals(Phase.ROLLED_BACK, result.phase());
    assertThat(calls()).endsWith("hook test", "revert to web-1");
    assertThat(result.status().steering())
        .extracting(s -> s.identity() + " " + s.action() + " " + s.accepted())
        // Updates a validator refused leave no trace in the history; the accepted one does.
        .containsExactly("dba rollback true");
  }

  @Test
  void aFailedRestoreHoldsWithEveryUnitStoppedUntilRetried() {
    cluster.failingHooks.add("test");
    cluster.failingHooks.add("restore");
    begin(
        plan(UpgradePlan.Gate.NONE, new UpgradePlan.Hooks(null, MIGRATE, TEST, RESTORE))
            .migration(new UpgradePlan.Migration(false, null))
            .build());
    env.sleep(Duration.ofMinutes(5));
    UpgradeStatus held = upgrade().status();
    assertEquals(Phase.HELD, held.phase());
    assertThat(held.message())
        .startsWith("test hook failed: Job web-test-")
        .contains("restore hook failed: Job web-restore-")
        .contains("lockstep retry " + TARGET)
        .contains("lockstep abandon " + TARGET);
    assertThat(calls())
        .endsWith("hook test", "scale to 0", "hook restore")
        .doesNotContain("revert to web-1");
    assertThat(held.units()).extracting(UnitStatus::revision).containsOnly("web-2");

    cluster.failingHooks.remove("restore");
    assertEquals("retrying the failed step", upgrade().retry(new SteerRequest("dba", "fixed")));
    assertEquals(Phase.ROLLED_BACK, result().phase());
    assertThat(calls())
        .endsWith("hook restore", "hook restore", "revert to web-1", "scale to 3", "release");
  }

  @Test
  void aPlanThatAcceptsTheDataRiskRollsBackWithoutHolding() {
    cluster.failingHooks.add("test");
    begin(
        plan(UpgradePlan.Gate.NONE, new UpgradePlan.Hooks(null, MIGRATE, TEST, null))
            .migration(new UpgradePlan.Migration(false, true))
            .build());
    assertEquals(Phase.ROLLED_BACK, result().phase());
    assertThat(calls()).endsWith("hook test", "revert to web-1");
  }

  @Test
  void aRollbackAtTheGateAfterAForwardOnlyMigrationRunsTheRestoreHook() {
    begin(
        plan(UpgradePlan.Gate.FIRST, new UpgradePlan.Hooks(null, MIGRATE, null, RESTORE))
            .migration(new UpgradePlan.Migration(false, null))
            .build());
    env.sleep(Duration.ofMinutes(5));
    assertEquals(Phase.WAITING_FOR_RESUME, upgrade().status().phase());
    upgrade().rollback(new SteerRequest("ops", "schema looks wrong"));
    assertEquals(Phase.ROLLED_BACK, result().phase());
    assertThat(calls())
        .endsWith(
            "hook migrate",
            "scale to 0",
            "hook restore",
            "revert to web-1",
            "scale to 3",
            "release");
  }
}
