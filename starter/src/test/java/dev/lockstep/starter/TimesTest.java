package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.workflows.ClusterActivities;
import dev.lockstep.workflows.RevisionHistory;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Times in one format, and history read from the revision running now. */
class TimesTest {
  private static FakeTemporal temporal;

  @BeforeAll
  static void start() {
    temporal = FakeTemporal.start();
  }

  @AfterAll
  static void stop() {
    temporal.close();
  }

  @Test
  void everyTimeInStatusJsonIsIso8601() throws Exception {
    String id = "lockstep/default/demo/statefulset/timed";
    Map<String, Object> status =
        new LinkedHashMap<>(
            FakeTemporal.status("demo/statefulset/timed", "PAUSED", "paused", "pg-0"));
    status.put(
        "steering",
        List.of(
            Map.of(
                "at", 1764237600000L,
                "action", "pause",
                "identity", "alice@laptop",
                "reason", "change freeze",
                "via", "update",
                "accepted", true,
                "outcome", "paused")));
    FakeTemporal.STATUS.put(id, status);
    assertEquals(
        0,
        FakeTemporal.cli(
                "upgrade",
                "demo/sts/timed",
                "--image",
                "pg=postgres:14.9",
                "--temporal-address=" + temporal.address())
            .exit());

    FakeTemporal.Run r =
        FakeTemporal.cli(
            "status", "demo/sts/timed", "-o", "json", "--temporal-address=" + temporal.address());

    assertEquals(0, r.exit(), r.err());
    JsonNode json = new ObjectMapper().readTree(r.out());
    assertEquals("2025-11-27T10:00:00Z", json.get("steering").get(0).get("at").asText());
    assertEquals("alice@laptop", json.get("steering").get(0).get("identity").asText());
    assertEquals("2026-11-27T10:00:00Z", json.get("startedAt").asText());
  }

  @Test
  void historyPutsTheRunningRevisionOnTopMarkedAndTimesInOneFormat() {
    List<RevisionHistory.Row> rows =
        RevisionHistory.rows(
            new ClusterActivities.RevisionList(
                true,
                "web-2",
                "web-2",
                List.of(
                    new ClusterActivities.RevisionInfo(
                        1, "web-1", "2026-11-27T09:00:00Z", Map.of("web", "nginx:1.25"), Map.of()),
                    new ClusterActivities.RevisionInfo(
                        3,
                        "web-3",
                        "2026-11-27T09:30:00Z",
                        Map.of("web", "nginx:1.27-broken"),
                        Map.of(
                            ClusterActivities.NOTE_RUN, "r3",
                            ClusterActivities.NOTE_OUTCOME, "ROLLED_BACK",
                            ClusterActivities.NOTE_FINISHED_AT, "2026-11-27T09:31:02.123Z")),
                    new ClusterActivities.RevisionInfo(
                        4,
                        "web-2",
                        "2026-11-27T09:10:00Z",
                        Map.of("web", "nginx:1.26"),
                        Map.of(
                            ClusterActivities.NOTE_RUN, "r4",
                            ClusterActivities.NOTE_OUTCOME, "COMPLETED",
                            ClusterActivities.NOTE_FINISHED_AT, "2026-11-27T09:40:07.900Z")))));

    List<RevisionHistory.Row> shown = RevisionHistory.runningFirst(rows);

    assertThat(shown).extracting(RevisionHistory.Row::revision).containsExactly(4L, 3L, 1L);
    assertThat(shown)
        .extracting(RevisionHistory.Row::updated)
        .containsExactly("2026-11-27T09:40:07Z", "2026-11-27T09:31:02Z", "2026-11-27T09:00:00Z");
    assertThat(RevisionHistory.render(shown).lines().toList().get(1)).startsWith("* 4 ");
    assertThat(RevisionHistory.render(shown).lines().toList().get(2)).startsWith("  3 ");
  }
}
