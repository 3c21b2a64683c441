package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A plan file reports every problem at once, each with its line, never a Java type name. */
class PlanFileTest {
  @TempDir Path dir;

  private FakeTemporal.Run upgrade(String yaml) throws Exception {
    Path plan = dir.resolve("plan.yaml");
    Files.writeString(plan, yaml);
    // No Temporal listens there: a command that got past the plan would exit 4.
    return FakeTemporal.cli("upgrade", "-f", plan.toString(), "--temporal-address", "localhost:1");
  }

  @Test
  void everyProblemAtOnceEachWithItsLine() throws Exception {
    FakeTemporal.Run r =
        upgrade(
            "target: demo/sts/pg\n"
                + "change:\n"
                + "  images: {pg: postgres:15}\n"
                + "  imagez: {}\n"
                + "gate: later\n"
                + "retries: 11\n"
                + "scaleUp: perhaps\n");
    assertEquals(2, r.exit(), r.err());
    assertEquals(
        "lockstep: "
            + dir.resolve("plan.yaml")
            + ": line 4: unknown field 'imagez' (known: images, resources, restore, template);"
            + " line 5: gate: 'later' is not one of first, each or none;"
            + " line 6: retries must be between 0 and 10, was 11;"
            + " line 7: scaleUp: 'perhaps' is not true or false\n",
        r.err());
  }

  @Test
  void aDeploymentsStrategyIsReadAndWhatThisVersionLacksIsSaid() throws Exception {
    FakeTemporal.Run bad =
        upgrade(
            "target: demo/deployment/web\n"
                + "change: {images: {web: nginx:1.27}}\n"
                + "strategy:\n"
                + "  rolling: {gates: [1, \"half\"]}\n");
    assertEquals(2, bad.exit(), bad.err());
    assertThat(bad.err())
        .contains("strategy.rolling.gates: 'half' is neither a count of new pods")
        .doesNotContain("dev.lockstep");
    FakeTemporal.Run canary =
        upgrade(
            "target: demo/deployment/web\n"
                + "change: {images: {web: nginx:1.27}}\n"
                + "strategy:\n"
                + "  canary:\n"
                + "    steps: [{setWeight: 120}, {pause: {}}, {pause: {duration: 10m}}, {analysis: {}}]\n");
    assertEquals(2, canary.exit(), canary.err());
    assertThat(canary.err())
        .contains(
            "strategy.canary.steps[1]: setWeight is a percent of the pods, 0 to 100, was 120");
    FakeTemporal.Run goodCanary =
        upgrade(
            "target: demo/deployment/web\n"
                + "change: {images: {web: nginx:1.27}}\n"
                + "strategy:\n"
                + "  canary:\n"
                + "    steps: [{setWeight: 20}, {pause: {}}, {pause: {duration: 10m}}, {analysis: {}}]\n");
    assertEquals(4, goodCanary.exit(), goodCanary.err());
    FakeTemporal.Run blueGreen =
        upgrade(
            "target: demo/deployment/web\n"
                + "change: {images: {web: nginx:1.27}}\n"
                + "strategy:\n"
                + "  blueGreen: {scaleDownDelay: later, previewService: web-next}\n");
    assertEquals(2, blueGreen.exit(), blueGreen.err());
    assertThat(blueGreen.err()).contains("strategy.blueGreen.scaleDownDelay");
    FakeTemporal.Run goodBlueGreen =
        upgrade(
            "target: demo/deployment/web\n"
                + "change: {images: {web: nginx:1.27}}\n"
                + "strategy:\n"
                + "  blueGreen: {scaleDownDelay: 5m, previewService: web-next}\n");
    assertEquals(4, goodBlueGreen.exit(), goodBlueGreen.err());
    FakeTemporal.Run good =
        upgrade(
            "target: demo/deployment/web\n"
                + "change: {images: {web: nginx:1.27}}\n"
                + "strategy: {rolling: {gates: [1, \"50%\"]}}\n");
    assertEquals(4, good.exit(), good.err());
  }

  @Test
  void strategyFlagNamesOneOfThree() throws Exception {
    FakeTemporal.Run r =
        FakeTemporal.cli(
            "upgrade",
            "demo/deployment/web",
            "--image",
            "web=nginx:1.27",
            "--strategy",
            "linear",
            "--temporal-address",
            "localhost:1");
    assertEquals(2, r.exit(), r.err());
    assertThat(r.err())
        .isEqualTo("lockstep: --strategy must be rolling, canary or blue-green, not 'linear'\n");
  }

  @Test
  void validationProblemsAreTiedToTheirLinesToo() throws Exception {
    FakeTemporal.Run r =
        upgrade(
            "target: demo/sts/pg\n"
                + "change: {images: {pg: postgres:15}}\n"
                + "crashLoopRestarts: 0\n"
                + "retries: 11\n"
                + "health:\n"
                + "  port: 70000\n");
    assertEquals(2, r.exit(), r.err());
    assertEquals(
        "lockstep: "
            + dir.resolve("plan.yaml")
            + ": line 3: crashLoopRestarts must be at least 1, was 0;"
            + " line 4: retries must be between 0 and 10, was 11;"
            + " line 6: health.port must be a port number (1-65535), was 70000\n",
        r.err());
  }

  @Test
  void aBadGateNamesTheValuesNotAJavaType() throws Exception {
    FakeTemporal.Run r =
        upgrade("target: demo/sts/pg\nchange: {images: {pg: postgres:15}}\ngate: 3\n");
    assertEquals(2, r.exit(), r.err());
    assertThat(r.err())
        .isEqualTo(
            "lockstep: "
                + dir.resolve("plan.yaml")
                + ": line 3: gate: 3 is not one of first, each or none\n")
        .doesNotContain("dev.lockstep")
        .doesNotContain("java.");
  }

  @Test
  void aListWhereAMappingGoesSaysSo() throws Exception {
    FakeTemporal.Run r = upgrade("target: demo/sts/pg\nchange:\n  images: [a, b]\nretries: many\n");
    assertEquals(2, r.exit(), r.err());
    assertEquals(
        "lockstep: "
            + dir.resolve("plan.yaml")
            + ": line 3: change.images: expected a mapping (field: value), not a list;"
            + " line 4: retries: 'many' is not a whole number\n",
        r.err());
  }
}
