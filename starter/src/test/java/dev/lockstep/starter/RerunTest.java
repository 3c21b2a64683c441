package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.temporal.client.WorkflowStub;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Running the same command again is safe, as with {@code kubectl apply}: an upgrade to what already
 * runs is {@code unchanged} (exit 0), and runs turned down before any change do not hide the last
 * real run from {@code status}.
 */
class RerunTest {
  private static FakeTemporal temporal;

  @BeforeAll
  static void start() {
    temporal = FakeTemporal.start();
  }

  @AfterAll
  static void stop() {
    temporal.close();
  }

  private static String id(String name) {
    return "lockstep/default/demo/statefulset/" + name;
  }

  private static FakeTemporal.Run upgrade(String name, String image) {
    return FakeTemporal.cli(
        "upgrade",
        "demo/sts/" + name,
        "--image",
        image,
        "--temporal-address=" + temporal.address());
  }

  /** Ends the running (accepted) run of {@code name} from outside; returns its run id. */
  private static String end(String name) {
    WorkflowStub run = temporal.client.newUntypedWorkflowStub(id(name));
    String runId = run.describe().getExecution().getRunId();
    run.terminate("the test is done with it");
    return runId;
  }

  @Test
  void upgradingToWhatAlreadyRunsIsUnchangedAndExits0() {
    FakeTemporal.VERDICT.put(
        id("cache"),
        Map.of(
            "valid",
            false,
            "inspected",
            true,
            "problems",
            List.of("already runs cache=redis:7.2; nothing was changed"),
            "fromRevision",
            "cache-5d8f",
            "refusal",
            "CHECKS_FAILED",
            "unchanged",
            true));

    FakeTemporal.Run r = upgrade("cache", "cache=redis:7.2");

    assertEquals(0, r.exit(), r.err());
    assertEquals(
        "demo/statefulset/cache unchanged: already runs cache=redis:7.2; nothing was changed\n",
        r.out());
    assertEquals("", r.err());
  }

  @Test
  void aRunRefusedBeforeAnyChangeDoesNotHideTheLastRealRun() throws Exception {
    FakeTemporal.STATUS.put(
        id("pg"), FakeTemporal.status("demo/statefulset/pg", "COMPLETED", "upgrade completed"));
    assertEquals(0, upgrade("pg", "pg=postgres:14.9").exit());
    String real = end("pg");
    FakeTemporal.VERDICT.put(
        id("pg"),
        Map.of(
            "valid",
            false,
            "inspected",
            true,
            "problems",
            List.of("no container 'pq' in demo/statefulset/pg: containers are [pg]"),
            "refusal",
            "INVALID_PLAN",
            "unchanged",
            false));

    FakeTemporal.Run refused = upgrade("pg", "pq=postgres:15");
    FakeTemporal.Run status =
        FakeTemporal.cli(
            "status", "demo/sts/pg", "-o", "json", "--temporal-address=" + temporal.address());

    assertEquals(2, refused.exit(), refused.err());
    assertThat(refused.err())
        .isEqualTo(
            "lockstep: invalid plan: no container 'pq' in demo/statefulset/pg: containers are [pg];"
                + " nothing was changed\n");
    assertEquals(0, status.exit(), status.err());
    assertEquals(real, new ObjectMapper().readTree(status.out()).get("runId").asText());
  }
}
