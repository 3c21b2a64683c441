package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.workflows.HelmActivities.ReleaseRevision;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeRequest;
import dev.lockstep.workflows.UpgradeWorkflow;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code lockstep history|repair NAMESPACE/helm/RELEASE} (and {@code rollback --to-revision}'s
 * refusal) against the scripted worker: Helm's revisions as {@code helm history} lists them with
 * the Lockstep run that wrote each; a release left pending shown, then marked failed only when
 * asked; both refused while a Lockstep run holds the release.
 */
class ReleaseRecordsCommandsTest {
  private static FakeTemporal temporal;

  @BeforeAll
  static void start() {
    temporal = FakeTemporal.start();
  }

  @AfterAll
  static void stop() {
    temporal.close();
  }

  private static FakeTemporal.Run cli(String... args) {
    String[] all = java.util.Arrays.copyOf(args, args.length + 1);
    all[args.length] = "--temporal-address=" + temporal.address();
    return FakeTemporal.cli(all);
  }

  @Test
  void historyListsTheRevisionsAsHelmHistoryDoesWithTheLockstepRunThatWroteEach() {
    FakeTemporal.RELEASES.put(
        "demo/shop",
        List.of(
            new ReleaseRevision(
                1,
                "2026-11-27T22:00:00Z",
                "superseded",
                "ghostwire-0.2.0",
                "1.18.0",
                "Install complete"),
            new ReleaseRevision(
                2,
                "2026-11-27T23:00:00.5Z",
                "failed",
                "ghostwire-0.3.0",
                "1.19.0",
                "Upgrade \"shop\" failed: interrupted while pending-upgrade (Preparing upgrade"
                    + " (lockstep run 3f2a-11)); marked failed by lockstep repair by alice"),
            new ReleaseRevision(
                3,
                "2026-11-28T00:00:00Z",
                "deployed",
                "ghostwire-0.2.0",
                "1.18.0",
                "Rollback to 1")));

    FakeTemporal.Run r = cli("history", "demo/helm/shop");

    assertEquals(0, r.exit(), r.err());
    List<String> lines = r.out().lines().toList();
    assertThat(lines.get(0))
        .containsSubsequence(
            "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION", "LOCKSTEP RUN");
    assertThat(lines.get(1))
        .containsSubsequence(
            "1",
            "Fri Nov 27 22:00:00 2026 UTC",
            "superseded",
            "ghostwire-0.2.0",
            "1.18.0",
            "Install complete",
            "-");
    assertThat(lines.get(2)).contains("failed", "3f2a-11");
    assertThat(lines.get(3)).contains("deployed", "Rollback to 1");

    FakeTemporal.Run json = cli("history", "demo/helm/shop", "-o", "json");
    assertEquals(0, json.exit(), json.err());
    assertThat(json.out())
        .contains(
            "\"revision\" : 3", "\"app_version\" : \"1.19.0\"", "\"lockstep_run\" : \"3f2a-11\"");
  }

  @Test
  void historyOfAReleaseHelmDoesNotKnowIsOneLineExit2() {
    FakeTemporal.Run r = cli("history", "demo/helm/nothere");
    assertEquals(2, r.exit(), r.err());
    assertThat(r.err())
        .startsWith("lockstep: ")
        .hasLineCount(1)
        .contains("release demo/nothere not found in cluster default");
  }

  @Test
  void repairSaysWhatItWouldDoAndMarksTheRevisionFailedOnlyWhenAsked() {
    FakeTemporal.RELEASES.put(
        "demo/stuck",
        List.of(
            new ReleaseRevision(
                1, "2026-11-27T22:00:00Z", "deployed", "gw-0.2.0", "1.18.0", "Install complete"),
            new ReleaseRevision(
                2,
                "2026-11-27T23:00:00Z",
                "pending-upgrade",
                "gw-0.3.0",
                "1.19.0",
                "Preparing upgrade")));

    FakeTemporal.Run shown = cli("repair", "demo/helm/stuck");

    assertEquals(0, shown.exit(), shown.err());
    assertThat(shown.out())
        .contains(
            "demo/helm/stuck: revision 2 is pending-upgrade (\"Preparing upgrade\") and no"
                + " Lockstep run holds it",
            "repair would mark revision 2 failed",
            "revision 1 stays deployed",
            "StatefulSet/ghostwire: its template has ghostwire=gw:1.18.0",
            "to do it: lockstep repair demo/helm/stuck --mark-failed");
    assertThat(FakeTemporal.RECORDS).contains("show-repair demo/stuck");
    assertThat(FakeTemporal.RECORDS).doesNotContain("repair demo/stuck");

    FakeTemporal.Run done = cli("repair", "demo/helm/stuck", "--mark-failed");

    assertEquals(0, done.exit(), done.err());
    assertThat(done.out())
        .contains(
            "demo/helm/stuck: revision 2 marked failed (it was pending-upgrade",
            "nothing in the cluster was changed",
            "lockstep rollback demo/helm/stuck --to-revision N");
    assertThat(FakeTemporal.RECORDS).contains("repair demo/stuck");
  }

  @Test
  void aReleaseWithNothingPendingHasNothingToRepair() {
    FakeTemporal.RELEASES.put(
        "demo/fine",
        List.of(
            new ReleaseRevision(
                1, "2026-11-27T22:00:00Z", "deployed", "gw-0.2.0", "1.18.0", "Install complete")));
    FakeTemporal.Run r = cli("repair", "demo/helm/fine", "--mark-failed");
    assertEquals(2, r.exit(), r.err());
    assertThat(r.err())
        .startsWith("lockstep: ")
        .hasLineCount(1)
        .contains("is deployed at revision 1: nothing to repair; nothing was changed");
  }

  @Test
  void repairAndRollbackToARevisionAreRefusedWhileALockstepRunHoldsTheRelease() {
    UpgradeWorkflow run =
        temporal.client.newWorkflowStub(
            UpgradeWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId("lockstep/default/demo/helm/busy")
                .setTaskQueue(Names.taskQueue("default"))
                .build());
    WorkflowClient.start(
        run::run,
        new UpgradeRequest(
            UpgradePlan.builder().target("demo/statefulset/busy").build(), "alice", "", 0));

    FakeTemporal.Run repair = cli("repair", "demo/helm/busy", "--mark-failed");
    FakeTemporal.Run rollback = cli("rollback", "demo/helm/busy", "--to-revision", "1");

    assertEquals(3, repair.exit(), repair.err());
    assertThat(repair.err())
        .startsWith("lockstep: ")
        .hasLineCount(1)
        .contains("repair refused: a Lockstep run of demo/helm/busy is open (run ");
    assertEquals(3, rollback.exit(), rollback.err());
    assertThat(rollback.err())
        .startsWith("lockstep: ")
        .hasLineCount(1)
        .contains("rollback refused: a Lockstep run of demo/helm/busy is open (run ");
    assertThat(FakeTemporal.RECORDS).noneMatch(a -> a.endsWith("demo/busy"));
  }

  @Test
  @SuppressWarnings("unchecked")
  void rollbackToARevisionStartsTheReleasesRunUngatedUnlessAsked() {
    FakeTemporal.Run r = cli("rollback", "demo/helm/back", "--to-revision", "1");

    assertEquals(0, r.exit(), r.err());
    assertThat(r.out())
        .contains(
            "rollback of demo/helm/back to revision 1 started (run ",
            "from revision 2",
            "follow:   lockstep status demo/helm/back");
    java.util.Map<String, Object> request =
        FakeTemporal.STARTED.get("lockstep/default/demo/helm/back");
    assertThat(request).containsEntry("rollbackTo", 1);
    assertThat((java.util.Map<String, Object>) request.get("workloads"))
        .containsEntry("gate", "none");
    assertThat((java.util.Map<String, Object>) request.get("release"))
        .containsEntry("namespace", "demo")
        .containsEntry("release", "back");

    FakeTemporal.Run gated =
        cli("rollback", "demo/helm/gated", "--to-revision", "1", "--gate", "first");
    assertEquals(0, gated.exit(), gated.err());
    assertThat(
            (java.util.Map<String, Object>)
                FakeTemporal.STARTED.get("lockstep/default/demo/helm/gated").get("workloads"))
        .containsEntry("gate", "first");
  }
}
