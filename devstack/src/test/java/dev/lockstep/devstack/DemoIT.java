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
}
