package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.ReleaseStatus;
import dev.lockstep.workflows.UpgradePlan;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What {@code lockstep upgrade|status NAMESPACE/helm/RELEASE} make of their options and status. */
class ReleaseCommandsTest {

  @Test
  void aGateForEveryWorkloadAndOnePerWorkloadByKindAndNameOrByName() {
    UpgradePlan.Builder defaults = UpgradePlan.builder();
    var gates = ReleaseCommands.gates("none, statefulset/db=first,cache=each", defaults);

    assertThat(defaults.build().effectiveGate()).isEqualTo(UpgradePlan.Gate.NONE);
    assertThat(gates)
        .containsExactly(
            java.util.Map.entry("StatefulSet/db", UpgradePlan.Gate.FIRST),
            java.util.Map.entry("cache", UpgradePlan.Gate.EACH));
    assertThatThrownBy(() -> ReleaseCommands.gates("db=later", UpgradePlan.builder()))
        .hasMessageContaining("--gate 'db=later': give first, each or none");
  }

  @Test
  void theStatusNamesTheWorkloadMovingNowAndItsOwnRun() {
    ReleaseStatus status =
        new ReleaseStatus(
            "demo/helm/shop",
            "default",
            "run-1",
            Phase.UPGRADING,
            "upgrading StatefulSet/cache",
            1,
            2,
            "shop-0.1.0",
            "shop-0.2.0",
            List.of(
                new ReleaseStatus.Workload(
                    "StatefulSet/db",
                    "lockstep/default/demo/statefulset/db",
                    "completed",
                    "none",
                    ""),
                new ReleaseStatus.Workload(
                    "StatefulSet/cache",
                    "lockstep/default/demo/statefulset/cache",
                    "upgrading",
                    "first",
                    "")),
            1,
            List.of("revision 2 pending-upgrade (shop-0.1.0 -> shop-0.2.0) by alice"),
            "2026-11-27T23:00:00Z",
            null);

    String text = ReleaseCommands.render(status);

    assertThat(text)
        .contains("demo/helm/shop (cluster default): UPGRADING")
        .contains("revision 1 -> 2 (shop-0.1.0 -> shop-0.2.0)")
        .contains("moving now: StatefulSet/cache: lockstep status demo/statefulset/cache");
    assertThat(text.lines().filter(l -> l.startsWith(">")))
        .singleElement()
        .asString()
        .contains("StatefulSet/cache", "upgrading", "first");
  }

  @Test
  void aWorkloadTheChartAddsIsNamedAsTheReleasesOwnStepWithNoChildRunToFollow() {
    ReleaseStatus.Workload search =
        new ReleaseStatus.Workload(
            "Deployment/shop-search",
            "lockstep/default/demo/deployment/shop-search",
            "upgrading",
            "none",
            "");
    ReleaseStatus status =
        new ReleaseStatus(
            "demo/helm/shop",
            "default",
            "run-1",
            Phase.UPGRADING,
            "creating Deployment/shop-search",
            1,
            2,
            "shop-0.1.0",
            "shop-0.2.0",
            List.of(search),
            0,
            List.of(),
            "2026-11-27T23:00:00Z",
            null);

    assertThat(ReleaseCommands.render(status))
        .contains("moving now: Deployment/shop-search: being created by the release's own run")
        .doesNotContain("lockstep status demo/deployment/shop-search");
    assertThat(ReleaseCommands.placing(status, search)).isEqualTo("created");
    ReleaseStatus child =
        new ReleaseStatus(
            "demo/helm/shop",
            "default",
            "run-1",
            Phase.UPGRADING,
            "upgrading Deployment/shop-search (lockstep/default/demo/deployment/shop-search)",
            1,
            2,
            "shop-0.1.0",
            "shop-0.2.0",
            List.of(search),
            0,
            List.of(),
            "2026-11-27T23:00:00Z",
            null);
    assertThat(ReleaseCommands.placing(child, search)).isNull();
  }
}
