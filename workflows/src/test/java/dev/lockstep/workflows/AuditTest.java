package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.common.converter.GlobalDataConverter;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The audit read back from a run's history: every fact, who and why, in order. */
@Timeout(60)
class AuditTest {
  static final String TARGET = "demo/statefulset/web";
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

  private UpgradeWorkflow upgrade() {
    return client.newWorkflowStub(
        UpgradeWorkflow.class, Names.workflowId("default", Target.parse(TARGET, "default")));
  }

  @Test
  void aGateAPauseAForcedCheckAFailureAndTheRollbackAreAllInTheAuditInOrder() throws Exception {
    cluster.allReady = false;
    cluster.failUnit = "web-0";
    cluster.latchUnit = "web-1";
    cluster.unitLatch = new CountDownLatch(1);
    UpgradePlan plan =
        UpgradePlan.builder()
            .target(TARGET)
            .images(Map.of("web", "nginx:1.26"))
            .force(List.of(PreChecks.UNITS_READY))
            .build();
    Upgrades.Started started =
        Upgrades.start(client, new UpgradeRequest(plan, "alice@laptop", "CVE-2026-1234", 0));
    env.sleep(Duration.ofMinutes(30));
    assertEquals(Phase.WAITING_FOR_RESUME, upgrade().status().phase());
    upgrade().resume(new SteerRequest("bob", "first unit healthy"));
    env.sleep(Duration.ofSeconds(5));
    assertThat(upgrade().pause(new SteerRequest("carol", "incident elsewhere")))
        .startsWith("will pause");
    cluster.unitLatch.countDown();
    env.sleep(Duration.ofMinutes(10));
    assertEquals(Phase.PAUSED, upgrade().status().phase());
    upgrade().resume(new SteerRequest("carol", "incident over"));
    UpgradeResult result = WorkflowStub.fromTyped(upgrade()).getResult(UpgradeResult.class);
    assertEquals(Phase.ROLLED_BACK, result.phase());

    var history = client.fetchHistory(started.workflowId(), started.runId());
    Audit.Report audit =
        Audit.of(started.runId(), history.getEvents(), GlobalDataConverter.get(), null);
    List<String> facts = new ArrayList<>();
    for (Audit.Entry e : audit.entries()) {
      facts.add(
          e.what()
              + (e.subject() == null || e.subject().isEmpty() ? "" : " " + e.subject())
              + (e.who() == null ? "" : " by " + e.who()));
    }
    assertThat(facts)
        .containsExactly(
            "started by alice@laptop",
            "collect",
            "forced-check units-ready by alice@laptop",
            "prepare",
            "unit web-2",
            "gate",
            "resume by bob",
            "unit web-1",
            "pause by carol",
            "resume by carol",
            "failed unit",
            "return",
            "outcome");
    assertEquals("alice@laptop", audit.startedBy());
    assertEquals("CVE-2026-1234", audit.reason());
    assertEquals("ROLLED_BACK", audit.outcome());
    Map<String, Audit.Entry> byFact = new java.util.HashMap<>();
    audit.entries().forEach(e -> byFact.putIfAbsent(e.what() + e.who(), e));
    assertThat(byFact.get("resumebob").reason()).isEqualTo("first unit healthy");
    assertThat(byFact.get("resumebob").detail()).isEqualTo("resumed at the gate");
    assertThat(byFact.get("pausecarol").detail())
        .isEqualTo("will pause once the unit upgrading now is done");
    assertThat(byFact.get("gatenull").millis()).isGreaterThanOrEqualTo(30 * 60 * 1000L - 1000);
    assertThat(byFact.get("unitnull").detail()).startsWith("web-1 -> web-2, Ready after");
    assertThat(byFact.get("failednull").detail())
        .isEqualTo("web-0 is crash-looping on web-2 (3 restarts)");
    assertThat(byFact.get("startedalice@laptop").detail())
        .isEqualTo("images {web=nginx:1.26}, gate first, on failure rollback, force [units-ready]");

    String table = Audit.render(audit);
    assertThat(table)
        .contains("Audit of " + TARGET + ", run " + started.runId())
        .contains("Outcome: ROLLED_BACK: web-0 failed")
        .containsPattern("resume +bob +\"first unit healthy\" resumed at the gate")
        .containsPattern("forced-check +units-ready +alice@laptop +failed and was forced");
    JsonNode json = new ObjectMapper().valueToTree(audit);
    assertThat(json.path("entries")).hasSize(facts.size());
    assertThat(json.path("entries").get(6).path("who").asText()).isEqualTo("bob");
  }
}
