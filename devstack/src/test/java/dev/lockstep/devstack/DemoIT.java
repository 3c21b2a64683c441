package dev.lockstep.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** README's main command: {@code ./lockstep demo}. */
class DemoIT {
  @Test
  void theDemoUpgradesPostgresqlHighestUnitFirstAndEndsCompleted() throws Exception {
    try (Processes.Running demo =
        Processes.start(Map.of(), Processes.DEVSTACK, "demo", "--pod-startup", "200ms")) {
      demo.awaitLine("Summary", Duration.ofSeconds(120));
      assertThat(demo.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertEquals(0, demo.process.exitValue(), String.join("\n", demo.lines));
      String out = String.join("\n", demo.lines);
      assertThat(out)
          .contains("WAITING_FOR_RESUME")
          .contains("does (a Temporal update with who and why)")
          .contains("outcome:   COMPLETED")
          .contains("order:     postgresql-2, postgresql-1, postgresql-0")
          .contains("steering:  resume by demo@lockstep");
    }
  }

  @Test
  void theRollingDeploymentDemoShowsEachGateWithItsTrafficShareAndEndsCompleted() throws Exception {
    try (Processes.Running demo =
        Processes.start(
            Map.of(),
            Processes.DEVSTACK,
            "demo",
            "--deployment",
            "rolling",
            "--pod-startup",
            "200ms")) {
      demo.awaitLine("Summary", Duration.ofSeconds(120));
      assertThat(demo.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      String out = String.join("\n", demo.lines);
      assertEquals(0, demo.process.exitValue(), out);
      assertThat(out)
          .contains("$ lockstep upgrade demo/deployment/aeterna --image aeterna=aeterna:1.5.0")
          .contains("gate at 1 of 4 new pods (WAITING_FOR_RESUME)")
          .contains("gate at 2 of 4 new pods (WAITING_FOR_RESUME)")
          .contains("outcome:   COMPLETED")
          .contains("gates:     2 resumed by demo@lockstep");
      // The traffic share at each gate: exactly the gate's count of new pods behind the Service.
      assertThat(lineAfter(demo.lines, "gate at 1 of 4 new pods"))
          .isEqualTo(
              "  Traffic: Service aeterna: aeterna:1.4.0 3 (75%), aeterna:1.5.0 1 (25%) of the"
                  + " Ready endpoints");
      assertThat(lineAfter(demo.lines, "gate at 2 of 4 new pods"))
          .isEqualTo(
              "  Traffic: Service aeterna: aeterna:1.4.0 2 (50%), aeterna:1.5.0 2 (50%) of the"
                  + " Ready endpoints");
      assertThat(out)
          .contains("traffic:   Service aeterna: aeterna:1.5.0 4 (100%) of the Ready endpoints");
    }
  }

  @Test
  void theCanaryDeploymentDemoShowsTheWeightsAndPromotes() throws Exception {
    try (Processes.Running demo =
        Processes.start(
            Map.of(),
            Processes.DEVSTACK,
            "demo",
            "--deployment",
            "canary",
            "--pod-startup",
            "200ms")) {
      demo.awaitLine("Summary", Duration.ofSeconds(120));
      assertThat(demo.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      String out = String.join("\n", demo.lines);
      assertEquals(0, demo.process.exitValue(), out);
      assertThat(lineAfter(demo.lines, "gate at 25%"))
          .isEqualTo(
              "  Traffic: Service aeterna: aeterna:1.4.0 3 (75%), aeterna:1.5.0 1 (25%) of the"
                  + " Ready endpoints");
      assertThat(out)
          .contains("outcome:   COMPLETED")
          .contains("traffic:   Service aeterna: aeterna:1.5.0 4 (100%) of the Ready endpoints");
    }
  }

  @Test
  void theBlueGreenDeploymentDemoSwitchesTheServiceToTheFullPreviewAtOnce() throws Exception {
    try (Processes.Running demo =
        Processes.start(
            Map.of(),
            Processes.DEVSTACK,
            "demo",
            "--deployment",
            "blue-green",
            "--pod-startup",
            "200ms")) {
      demo.awaitLine("Summary", Duration.ofSeconds(120));
      assertThat(demo.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      String out = String.join("\n", demo.lines);
      assertEquals(0, demo.process.exitValue(), out);
      // At the gate the preview runs beside the old pods and takes no traffic; after the switch
      // every Ready endpoint is a new pod: no mixed share at any step.
      assertThat(lineAfter(demo.lines, "gate before the switch"))
          .isEqualTo("  Traffic: Service aeterna: aeterna:1.4.0 4 (100%) of the Ready endpoints");
      assertThat(demo.lines)
          .filteredOn(l -> l.startsWith("  Traffic: "))
          .noneMatch(l -> l.contains("aeterna:1.4.0") && l.contains("aeterna:1.5.0"));
      assertThat(out)
          .contains("outcome:   COMPLETED")
          .contains("traffic:   Service aeterna: aeterna:1.5.0 4 (100%) of the Ready endpoints");
    }
  }

  @Test
  void anUnknownStrategyIsRefusedInOneLineBeforeAnythingStarts() throws Exception {
    try (Processes.Running demo =
        Processes.start(Map.of(), Processes.DEVSTACK, "demo", "--deployment", "recreate")) {
      assertThat(demo.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertEquals(2, demo.process.exitValue(), String.join("\n", demo.lines));
      assertThat(demo.lines)
          .contains(
              "lockstep demo: --deployment must be one of rolling, canary, blue-green, not"
                  + " 'recreate'")
          .noneMatch(l -> l.startsWith("Starting the embedded stack"));
    }
  }

  /** The line after the last line that contains {@code marker} and ends a step line. */
  private static String lineAfter(java.util.List<String> lines, String marker) {
    for (int i = lines.size() - 2; i >= 0; i--) {
      if (lines.get(i).startsWith("step ") && lines.get(i).contains(marker)) {
        return lines.get(i + 1);
      }
    }
    return "(no step line with " + marker + ")";
  }
}
