package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lockstep.workflows.PlanReport;
import dev.lockstep.workflows.UpgradePlan;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What {@code lockstep plan} prints when the target already runs what the plan asks for. */
class PlanTextTest {
  @Test
  void aPlanOfWhatAlreadyRunsSaysUnchangedAsTheUpgradeWouldAndNothingElse() {
    PlanReport report =
        new PlanReport(
            "demo/statefulset/web",
            "default",
            true,
            List.of(),
            List.of(),
            List.of(),
            "web-2",
            Map.of("web", "nginx:1.25"),
            Map.of("web", "nginx:1.25"),
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            "lockstep rollback demo/statefulset/web",
            List.of(),
            "already runs {web=nginx:1.25}");
    UpgradePlan plan =
        UpgradePlan.builder()
            .target("demo/statefulset/web")
            .images(Map.of("web", "nginx:1.25"))
            .build();
    assertThat(PlanCommand.render(report, plan))
        .isEqualTo(
            "Plan for demo/statefulset/web (cluster default), now on revision web-2\n"
                + "\n"
                + "Unchanged: demo/statefulset/web already runs {web=nginx:1.25}: `lockstep"
                + " upgrade` would end at once, unchanged (exit 0).\n"
                + "\n"
                + "Nothing to do. Nothing was changed.\n");
  }
}
