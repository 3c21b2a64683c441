package dev.lockstep.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PlanValidationTest {
  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory()).enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private static UpgradePlan plan(String target, Map<String, String> images, String unitTimeout) {
    return UpgradePlan.builder().target(target).images(images).unitTimeout(unitTimeout).build();
  }

  @Test
  void aGoodPlanHasNoProblems() {
    assertThat(PlanValidation.problems(plan("demo/sts/pg", Map.of("pg", "postgres:14.9"), "5m")))
        .isEmpty();
    assertThat(
            PlanValidation.problems(
                plan("sts/pg", Map.of("", "ghcr.io/acme/pg:14.9@sha256:" + "a".repeat(64)), null)))
        .isEmpty();
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '"',
      value = {
        "demo/sts/pg | pg | postgres:14.9 | 0s | unitTimeout must be positive",
        "demo/sts/pg | pg | postgres:14.9 | -5m | bad duration '-5m'",
        "demo/sts/pg | pg | postgres:14.9 | soon | bad duration 'soon'",
        "demo/sts/pg | pg | Postgres:14.9 | 5m | 'Postgres:14.9' is not a valid image reference",
        "demo/sts/pg | pg | postgres:14 9 | 5m | is not a valid image reference",
        "demo/sts/pg | PG | postgres:14.9 | 5m | 'PG' is not a valid container name",
        "demo/deploy/web | WEB | nginx:1.26 | 5m | 'WEB' is not a valid container name",
        "demo/daemonset/x | x | nginx:1.26 | 5m | unsupported kind 'daemonset'",
        "demo/sts/Bad_Name | x | nginx:1.26 | 5m | is not a valid Kubernetes object name",
        "a/b/c/d | x | nginx:1.26 | 5m | is not [NAMESPACE/]KIND/NAME",
      })
  void badPlansAreRefusedWithAOneLineReason(
      String target, String container, String image, String timeout, String expected) {
    assertThat(PlanValidation.problems(plan(target, Map.of(container, image), timeout)))
        .anySatisfy(p -> assertThat(p).contains(expected).doesNotContain("\n"));
  }

  @Test
  void aPlanThatChangesNothingIsRefused() {
    assertThat(PlanValidation.problems(plan("demo/sts/pg", Map.of(), null)))
        .containsExactly(
            "the plan changes nothing: give --image CONTAINER=IMAGE or change: in the plan");
  }

  @Test
  void immutableStatefulSetFieldsInTheTemplateAreRefusedWithTheWayOut() {
    UpgradePlan plan =
        UpgradePlan.builder()
            .target("demo/sts/pg")
            .change(
                new UpgradePlan.Change(
                    null,
                    Map.of(
                        "spec",
                        Map.of("volumeClaimTemplates", List.of()),
                        "serviceName",
                        "pg2",
                        "replicas",
                        5),
                    null))
            .build();
    assertThat(PlanValidation.problems(plan))
        .anySatisfy(
            p ->
                assertThat(p)
                    .startsWith("immutable-fields: volumeClaimTemplates cannot change in place")
                    .contains("--cascade=orphan"))
        .anySatisfy(p -> assertThat(p).startsWith("immutable-fields: serviceName cannot change"))
        .anySatisfy(
            p ->
                assertThat(p)
                    .isEqualTo(
                        "change.template patches the pod template (spec.template): 'replicas' is"
                            + " not one of its fields (metadata, spec)"));
  }

  @Test
  void checksTheApiServerWouldRefuseCannotBeForced() {
    UpgradePlan plan =
        plan("demo/sts/pg", Map.of("pg", "postgres:15"), null).toBuilder()
            .force(List.of("dry-run", "capacity", "speed"))
            .build();
    assertThat(PlanValidation.problems(plan))
        .containsExactly(
            "check 'dry-run' cannot be forced: the API server would refuse the change mid-upgrade",
            "unknown check 'speed' in force: use one of [units-ready, no-rollout, capacity,"
                + " disruption, compatibility]");
  }

  @Test
  void namesOverKubernetesLimitsAreRefused() {
    assertThat(
            PlanValidation.problems(plan("demo/sts/" + "a".repeat(53), Map.of("a", "a:1"), null)))
        .anySatisfy(p -> assertThat(p).contains("longer than 52 characters"));
    assertThat(
            PlanValidation.problems(
                plan("n" + "s".repeat(63) + "/sts/a", Map.of("a", "a:1"), null)))
        .anySatisfy(p -> assertThat(p).contains("is not a valid Kubernetes namespace"));
  }

  @Test
  void thePlanFileOfTheCliContractParses() throws Exception {
    String yaml =
        """
        target: demo/statefulset/postgresql
        cluster: default
        change:
          images:
            postgresql: postgres:14.9
          template:
            spec: {containers: [{name: postgresql, env: [{name: PGTZ, value: UTC}]}]}
          resources:
            postgresql: {requests: {cpu: "500m", memory: 1Gi}}
        gate: first
        unitTimeout: 10m
        crashLoopRestarts: 3
        force: []
        """;
    UpgradePlan plan = YAML.readValue(yaml, UpgradePlan.class);
    assertEquals(UpgradePlan.Gate.FIRST, plan.effectiveGate());
    assertEquals(Duration.ofMinutes(10), plan.effectiveUnitTimeout());
    assertEquals("postgres:14.9", plan.change().images().get("postgresql"));
    assertThat(PlanValidation.problems(plan)).isEmpty();
  }

  @Test
  void unknownFieldsInAPlanFileAreAnError() {
    UnrecognizedPropertyException e =
        assertThrows(
            UnrecognizedPropertyException.class,
            () -> YAML.readValue("target: demo/sts/pg\ngates: first\n", UpgradePlan.class));
    assertEquals("gates", e.getPropertyName());
  }

  @Test
  void notifyIsCheckedWithoutEchoingTheWebhooksUrl() throws Exception {
    String base = "target: demo/sts/pg\nchange: {images: {pg: postgres:14.9}}\n";
    assertThat(
            PlanValidation.problems(
                YAML.readValue(
                    base
                        + "notify: {webhooks: [{url: 'https://hooks.slack.com/services/T/B/s',"
                        + " format: slack}, {url: 'http://alerts:8080/lockstep'}],"
                        + " remindEvery: 1h}\n",
                    UpgradePlan.class)))
        .isEmpty();
    assertThat(
            PlanValidation.problems(
                YAML.readValue(
                    base
                        + "notify: {webhooks: [{url: 'ftp:secret-token', format: teams}],"
                        + " remindEvery: often}\n",
                    UpgradePlan.class)))
        .hasSize(3)
        .noneMatch(p -> p.contains("secret-token"))
        .contains(
            "notify.webhooks: each url must be an http(s) URL with a host (webhook 1)",
            "notify.webhooks: format must be json or slack, not 'teams'");
  }

  @Test
  void anEmptyNotifyIsAPlansWayToTellNobody() throws Exception {
    String base = "target: demo/sts/pg\nchange: {images: {pg: postgres:14.9}}\n";
    for (String notify : List.of("notify: []\n", "notify: {webhooks: []}\n")) {
      UpgradePlan plan = YAML.readValue(base + notify, UpgradePlan.class);
      assertThat(plan.notifications()).as(notify).isNotNull();
      assertThat(plan.notifications().effectiveWebhooks()).as(notify).isEmpty();
      assertThat(PlanValidation.problems(plan)).as(notify).isEmpty();
    }
    UpgradePlan listed =
        YAML.readValue(base + "notify: [{url: 'https://alerts/x'}]\n", UpgradePlan.class);
    assertThat(listed.notifications().effectiveWebhooks())
        .containsExactly(new UpgradePlan.Webhook("https://alerts/x", null));
    assertThat(
            PlanValidation.problems(
                YAML.readValue(
                    base + "notify: {webhooks: [], remindEvery: 1h}\n", UpgradePlan.class)))
        .containsExactly(
            "notify.remindEvery: no webhook to remind (notify: [] tells nobody; give"
                + " notify.webhooks: [{url: https://...}])");
  }

  @Test
  void gatePoliciesAreCheckedAsTheyAreWritten() throws Exception {
    String base = "target: demo/sts/pg\nchange: {images: {pg: postgres:14.9}}\n";
    assertThat(
            PlanValidation.problems(
                YAML.readValue(
                    base
                        + "gateTimeout: 24h\nonGateTimeout: rollback\napprovals: 2\n"
                        + "excludeStarter: true\n",
                    UpgradePlan.class)))
        .isEmpty();
    assertThat(
            PlanValidation.problems(
                YAML.readValue(
                    base + "gateTimeout: soon\nonGateTimeout: hold\napprovals: 11\n",
                    UpgradePlan.class)))
        .hasSize(2)
        .anySatisfy(p -> assertThat(p).startsWith("gateTimeout"))
        .contains("approvals must be between 1 and 10, was 11");
    assertThat(
            PlanValidation.problems(
                YAML.readValue(base + "onGateTimeout: hold\n", UpgradePlan.class)))
        .containsExactly(
            "onGateTimeout needs gateTimeout: how long a gate waits before it applies (e.g."
                + " gateTimeout: 24h)");
    assertThat(
            PlanValidation.problems(
                YAML.readValue(base + "gate: none\napprovals: 2\n", UpgradePlan.class)))
        .containsExactly(
            "gateTimeout, approvals and excludeStarter apply to gates, and the plan has none (gate:"
                + " none, or strategy.rolling.gates: [])");
    // A timeout that resumes would open a gate that needs approvals without them.
    assertThat(
            PlanValidation.problems(
                YAML.readValue(
                    base + "gateTimeout: 1h\nonGateTimeout: resume\napprovals: 2\n",
                    UpgradePlan.class)))
        .containsExactly(
            "onGateTimeout: resume would open a gate that needs approvals without them: use hold"
                + " or rollback with approvals and excludeStarter");
    // A Deployment's rolling strategy names its own gates: they are what gateTimeout applies to.
    String deployment = "target: demo/deployment/web\nchange: {images: {web: web:2}}\n";
    assertThat(
            PlanValidation.problems(
                YAML.readValue(
                    deployment
                        + "gate: none\nstrategy: {rolling: {gates: [\"50%\"]}}\ngateTimeout: 1h\n",
                    UpgradePlan.class)))
        .isEmpty();
    assertThat(
            PlanValidation.problems(
                YAML.readValue(
                    deployment + "strategy: {rolling: {gates: []}}\ngateTimeout: 1h\n",
                    UpgradePlan.class)))
        .containsExactly(
            "gateTimeout, approvals and excludeStarter apply to gates, and the plan has none (gate:"
                + " none, or strategy.rolling.gates: [])");
  }

  @Test
  void hooksAreCheckedAsTheyAreWritten() throws Exception {
    UpgradePlan plan =
        YAML.readValue(
            """
            target: demo/sts/pg
            change: {images: {pg: postgres:14.9}}
            migration: {reversible: true}
            hooks:
              backup: {image: "Not An Image", command: [pg_dumpall]}
              migrate: {image: discourse:3.3, job: {template: {spec: {containers: []}}}}
              test: {job: {spec: {template: {spec: {}}}}, timeout: 0s}
              restore: {image: postgres:14.8, command: [psql]}
            """,
            UpgradePlan.class);
    assertThat(PlanValidation.problems(plan))
        .containsExactly(
            "hooks.backup: 'Not An Image' is not a valid image reference",
            "hooks.migrate: give either image (and command) or job, not both",
            "hooks.migrate.job: a Job spec needs template.spec.containers",
            "hooks.test.job: a Job spec needs template.spec.containers",
            "hooks.test: hook timeout must be positive, was '0s'",
            "hooks.restore runs when a rollback follows a migration that cannot be reversed: set"
                + " migration.reversible: false, or leave the restore hook out");
  }

  @Test
  void targetsAndDurationsParseAsOperatorsWriteThem() {
    assertEquals(new Target("default", "statefulset", "pg"), Target.parse("sts/pg", "default"));
    assertEquals(
        new Target("demo", "statefulset", "pg"), Target.parse("demo/StatefulSets/pg", "default"));
    assertEquals(Duration.ofSeconds(90), Durations.parse("90s"));
    assertEquals(Duration.ofMinutes(10), Durations.parse("PT10M"));
    assertEquals("1h30m", Durations.format(Duration.ofMinutes(90)));
    assertThrows(IllegalArgumentException.class, () -> Target.parse("", "default"));
  }
}
