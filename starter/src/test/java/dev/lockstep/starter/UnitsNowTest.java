package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.workflows.PodState;
import dev.lockstep.workflows.UnitStatus;
import dev.lockstep.workflows.UpgradeStatus;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** While a unit waits, status says what for, with its pod as kubectl shows it. */
class UnitsNowTest {
  private static final Instant NOW = Instant.parse("2026-11-27T10:05:00Z");

  private static UpgradeStatus upgrading() throws Exception {
    Map<String, Object> s =
        new java.util.LinkedHashMap<>(
            FakeTemporal.status("demo/statefulset/pg", "UPGRADING", "upgrading", "pg-2", "pg-1"));
    s.put(
        "units",
        java.util.List.of(
            Map.of(
                "name",
                "pg-2",
                "ordinal",
                2,
                "state",
                "UPGRADING",
                "revision",
                "pg-5d8f",
                "ready",
                false,
                "message",
                "upgrading unit"),
            Map.of(
                "name",
                "pg-1",
                "ordinal",
                1,
                "state",
                "WAITING",
                "revision",
                "pg-5d8f",
                "ready",
                true,
                "message",
                "other units upgrading first...")));
    return new ObjectMapper().convertValue(s, UpgradeStatus.class);
  }

  @Test
  void aUnitThatIsNotReadyYetSaysWhatItWaitsForWithItsPodsStatusRestartsAndTime() throws Exception {
    PodState pod =
        new PodState(
            "pg-2",
            "CrashLoopBackOff",
            6,
            "2026-11-27T10:04:10Z",
            "pg-7c41",
            false,
            NOW.toString());

    UpgradeStatus shown = UnitsNow.withPods(upgrading(), Map.of("pg-2", pod), NOW);

    UnitStatus unit = shown.units().get(0);
    assertEquals(
        "waiting for pg-2 to be Ready (CrashLoopBackOff, 6 restarts, 50 s)", unit.message());
    assertEquals("pg-7c41", unit.revision());
    assertThat(shown.units().get(1).message()).isEqualTo("other units upgrading first...");
  }

  @Test
  void aPodStillBeingCreatedSaysSoWithoutRestarts() throws Exception {
    PodState pod =
        new PodState(
            "pg-2", "ContainerCreating", 0, "2026-11-27T10:04:57Z", "pg-7c41", false, null);

    UpgradeStatus shown = UnitsNow.withPods(upgrading(), Map.of("pg-2", pod), NOW);

    assertEquals(
        "waiting for pg-2 to be Ready (ContainerCreating, 3 s)", shown.units().get(0).message());
  }

  @Test
  void anotherUnitsPodThatIsNotRunningShowsItsStateAndTheRevisionItRuns() throws Exception {
    PodState active =
        new PodState("pg-2", "Running", 0, "2026-11-27T10:04:40Z", "pg-7c41", true, null);
    PodState other =
        new PodState("pg-1", "CrashLoopBackOff", 2, "2026-11-27T10:03:00Z", "pg-5d8f", false, null);

    UpgradeStatus shown =
        UnitsNow.withPods(upgrading(), Map.of("pg-2", active, "pg-1", other), NOW);

    UnitStatus unit = shown.units().get(1);
    assertEquals(
        "pod CrashLoopBackOff, 2 restarts, 120 s; other units upgrading first...", unit.message());
    assertEquals("pg-5d8f", unit.revision());
    assertThat(unit.ready()).isFalse();
  }

  @Test
  void anotherUnitsRunningReadyPodChangesNothingButTheRevisionItRuns() throws Exception {
    PodState other =
        new PodState("pg-1", "Running", 0, "2026-11-27T09:00:00Z", "pg-5d8f", true, null);

    UpgradeStatus shown = UnitsNow.withPods(upgrading(), Map.of("pg-1", other), NOW);

    assertThat(shown.units().get(1).message()).isEqualTo("other units upgrading first...");
    assertThat(shown.units().get(1).ready()).isTrue();
  }
}
