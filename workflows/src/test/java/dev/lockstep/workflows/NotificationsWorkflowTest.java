package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.temporal.client.WorkflowClient;
import io.temporal.common.converter.GlobalDataConverter;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Notifications: when a gate waits, reminders on durable timers, and the run's end. */
@Timeout(60)
class NotificationsWorkflowTest {
  /** A receiver that records what it was told; it can be made to refuse every delivery. */
  static final class Receiver implements Notifications {
    final List<Notice> notices = Collections.synchronizedList(new ArrayList<>());
    volatile boolean down;

    @Override
    public String deliver(Notice notice) {
      if (down) {
        throw ApplicationFailure.newFailure("webhook answered HTTP 503", "DeliveryFailed");
      }
      notices.add(notice);
      return "delivered: HTTP 200";
    }

    List<String> events() {
      return notices.stream().map(Notice::event).toList();
    }
  }

  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private Receiver receiver;
  private FakeCluster cluster;

  @BeforeEach
  void start() {
    env = Environments.withSearchAttributes(TestWorkflowEnvironment.newInstance());
    Worker worker = env.newWorker(Names.taskQueue("default"));
    worker.registerWorkflowImplementationTypes(UpgradeWorkflowImpl.class);
    receiver = new Receiver();
    cluster = new FakeCluster(3);
    worker.registerActivitiesImplementations(cluster, receiver);
    env.start();
    client = env.getWorkflowClient();
  }

  @AfterEach
  void stop() {
    env.close();
  }

  private static final UpgradePlan.Notify HOOK =
      new UpgradePlan.Notify(
          List.of(new UpgradePlan.Webhook("https://hooks.example.com/T1/B2/x", "slack")), "1h");

  private static UpgradePlan.Builder plan() {
    return UpgradeWorkflowTest.plan(UpgradePlan.Gate.FIRST).toBuilder().notifications(HOOK);
  }

  @Test
  void aWaitingGateIsToldThenRemindedEveryHourUntilResumedAndTheEndIsTold() {
    Upgrades.start(client, new UpgradeRequest(plan().build(), "alice", "minor", 0));
    env.sleep(Duration.ofMinutes(150));
    assertThat(receiver.events()).containsExactly("gate-waiting", "gate-reminder", "gate-reminder");
    Notifications.Notice reminder = receiver.notices.get(1);
    assertThat(reminder.text()).startsWith("still waiting since ").contains("lockstep resume");
    assertThat(reminder.waitingSince()).isEqualTo(receiver.notices.get(0).waitingSince());
    assertThat(reminder.target()).isEqualTo(UpgradeWorkflowTest.TARGET);

    Scenarios.stub(client).resume(new SteerRequest("bob", "ok"));
    assertEquals(Phase.COMPLETED, Scenarios.result(client).phase());
    env.sleep(Duration.ofHours(3));
    assertThat(receiver.events())
        .containsExactly("gate-waiting", "gate-reminder", "gate-reminder", "completed");
  }

  @Test
  void heldAndRolledBackAreTold() {
    Upgrades.start(
        client,
        new UpgradeRequest(
            plan()
                .gateTimeout("30m")
                .notifications(new UpgradePlan.Notify(HOOK.webhooks(), null))
                .build(),
            "alice",
            "minor",
            0));
    env.sleep(Duration.ofHours(1));
    assertEquals(Phase.HELD, Scenarios.stub(client).status().phase());
    Scenarios.stub(client).rollback(new SteerRequest("bob", "no one looked"));
    assertEquals(Phase.ROLLED_BACK, Scenarios.result(client).phase());
    assertThat(receiver.events()).containsExactly("gate-waiting", "held", "rolled-back");
  }

  @Test
  void aFailedDeliveryNeverFailsTheRunAndIsInTheAudit() {
    receiver.down = true;
    Upgrades.start(
        client,
        new UpgradeRequest(
            plan()
                .gate(UpgradePlan.Gate.NONE)
                .notifications(new UpgradePlan.Notify(HOOK.webhooks(), null))
                .build(),
            "alice",
            "minor",
            0));
    UpgradeResult result = Scenarios.result(client);
    assertEquals(Phase.COMPLETED, result.phase());

    var history =
        client.fetchHistory(
            Names.workflowId("default", Target.parse(UpgradeWorkflowTest.TARGET, "default")));
    Audit.Report audit = Audit.of(null, history.getEvents(), GlobalDataConverter.get(), null);
    assertThat(audit.entries())
        .anySatisfy(
            e -> {
              assertThat(e.what()).isEqualTo("notify");
              assertThat(e.subject()).isEqualTo("completed");
              assertThat(e.detail()).startsWith("not delivered: ").contains("HTTP 503");
            });
    assertThat(audit.outcome()).isEqualTo("COMPLETED");
  }

  @Test
  void eachDeliveryIsInTheAudit() {
    Upgrades.start(client, new UpgradeRequest(plan().build(), "alice", "minor", 0));
    env.sleep(Duration.ofMinutes(10));
    Scenarios.stub(client).resume(new SteerRequest("bob", "ok"));
    Scenarios.result(client);
    var history =
        client.fetchHistory(
            Names.workflowId("default", Target.parse(UpgradeWorkflowTest.TARGET, "default")));
    Audit.Report audit = Audit.of(null, history.getEvents(), GlobalDataConverter.get(), null);
    assertThat(
            audit.entries().stream()
                .filter(e -> e.what().equals("notify"))
                .map(e -> e.subject() + ": " + e.detail())
                .toList())
        .containsExactly("gate-waiting: delivered: HTTP 200", "completed: delivered: HTTP 200");
  }

  /** The worker's defaults as its inspect hands them to a run: references, never the URLs. */
  static final UpgradePlan.Notify WORKER_DEFAULTS =
      new UpgradePlan.Notify(List.of(new UpgradePlan.Webhook("worker:0", "slack")), "1h");

  @Test
  void aPlanWithoutNotifyTellsTheWorkersDefaultsWithTheirReminders() {
    cluster.workerNotify = WORKER_DEFAULTS;
    Upgrades.start(
        client,
        new UpgradeRequest(UpgradeWorkflowTest.plan(UpgradePlan.Gate.FIRST), "alice", "minor", 0));
    env.sleep(Duration.ofMinutes(90));
    assertThat(receiver.events()).containsExactly("gate-waiting", "gate-reminder");
    Scenarios.stub(client).resume(new SteerRequest("bob", "ok"));
    assertEquals(Phase.COMPLETED, Scenarios.result(client).phase());
    assertThat(receiver.events()).containsExactly("gate-waiting", "gate-reminder", "completed");
    assertThat(receiver.notices)
        .allSatisfy(n -> assertThat(n.webhook()).isEqualTo(WORKER_DEFAULTS.webhooks().get(0)));
  }

  @Test
  void aPlansOwnNotifyReplacesTheWorkersDefaults() {
    cluster.workerNotify = WORKER_DEFAULTS;
    Upgrades.start(
        client,
        new UpgradeRequest(
            plan()
                .gate(UpgradePlan.Gate.NONE)
                .notifications(new UpgradePlan.Notify(HOOK.webhooks(), null))
                .build(),
            "alice",
            "minor",
            0));
    assertEquals(Phase.COMPLETED, Scenarios.result(client).phase());
    assertThat(receiver.events()).containsExactly("completed");
    assertThat(receiver.notices.get(0).webhook()).isEqualTo(HOOK.webhooks().get(0));
  }

  @Test
  void anEmptyNotifyTellsNobodyNotEvenTheWorkersDefaults() {
    cluster.workerNotify = WORKER_DEFAULTS;
    Upgrades.start(
        client,
        new UpgradeRequest(
            plan().notifications(new UpgradePlan.Notify(List.of(), null)).build(),
            "alice",
            "minor",
            0));
    env.sleep(Duration.ofMinutes(90));
    Scenarios.stub(client).resume(new SteerRequest("bob", "ok"));
    assertEquals(Phase.COMPLETED, Scenarios.result(client).phase());
    assertThat(receiver.events()).isEmpty();
  }

  @Test
  void aRunKeepsTheDefaultsItStartedWithWhenTheWorkersChange() {
    cluster.workerNotify = WORKER_DEFAULTS;
    Upgrades.start(
        client,
        new UpgradeRequest(UpgradeWorkflowTest.plan(UpgradePlan.Gate.FIRST), "alice", "minor", 0));
    env.sleep(Duration.ofMinutes(10));
    assertThat(receiver.events()).containsExactly("gate-waiting");
    // The worker is restarted without defaults while the run waits at its gate.
    cluster.workerNotify = null;
    Scenarios.stub(client).resume(new SteerRequest("bob", "ok"));
    assertEquals(Phase.COMPLETED, Scenarios.result(client).phase());
    assertThat(receiver.events()).containsExactly("gate-waiting", "completed");

    // A run started after the change is told nothing.
    receiver.notices.clear();
    Upgrades.start(
        client,
        new UpgradeRequest(UpgradeWorkflowTest.plan(UpgradePlan.Gate.NONE), "alice", "again", 0));
    assertEquals(Phase.COMPLETED, Scenarios.result(client).phase());
    assertThat(receiver.events()).isEmpty();
  }

  private List<String> gateEntries() {
    var history =
        client.fetchHistory(
            Names.workflowId("default", Target.parse(UpgradeWorkflowTest.TARGET, "default")));
    Audit.Report audit = Audit.of(null, history.getEvents(), GlobalDataConverter.get(), null);
    return audit.entries().stream()
        .filter(e -> e.what().equals("gate"))
        .map(e -> e.who() + ": " + e.detail())
        .toList();
  }

  @Test
  void remindersAreNotGateTimeoutsInTheAudit() {
    // Reminders every hour, a gate timeout of 3h never reached: resumed after 150 minutes.
    Upgrades.start(
        client, new UpgradeRequest(plan().gateTimeout("3h").build(), "alice", "minor", 0));
    env.sleep(Duration.ofMinutes(150));
    Scenarios.stub(client).resume(new SteerRequest("bob", "ok"));
    assertEquals(Phase.COMPLETED, Scenarios.result(client).phase());
    assertThat(receiver.events())
        .containsExactly("gate-waiting", "gate-reminder", "gate-reminder", "completed");
    assertThat(gateEntries()).containsExactly("null: waited for `lockstep resume`");
  }

  @Test
  void theGateTimeoutAmongRemindersIsInTheAuditOnce() {
    // Reminders every hour; the gate times out after 90 minutes and holds; resumed after 170.
    Upgrades.start(
        client, new UpgradeRequest(plan().gateTimeout("90m").build(), "alice", "minor", 0));
    env.sleep(Duration.ofMinutes(170));
    assertEquals(Phase.HELD, Scenarios.stub(client).status().phase());
    Scenarios.stub(client).resume(new SteerRequest("bob", "ok"));
    assertEquals(Phase.COMPLETED, Scenarios.result(client).phase());
    assertThat(receiver.events())
        .containsExactly("gate-waiting", "gate-reminder", "held", "gate-reminder", "completed");
    assertThat(gateEntries())
        .containsExactly(
            "lockstep: no resume within gateTimeout 90m: onGateTimeout hold",
            "null: waited for `lockstep resume`");
  }
}
