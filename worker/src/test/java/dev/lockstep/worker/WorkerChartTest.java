package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The chart charts/lockstep-worker rendered by Helm itself (helm-java) with the values sets an
 * operator uses, and the objects it makes asserted; its RBAC rules are exactly those docs/worker.md
 * publishes.
 */
class WorkerChartTest {
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  static final Path CHART = ROOT.resolve("charts/lockstep-worker");

  /** The objects of {@code helm template} of the chart, release "lockstep-worker" in "lockstep". */
  static List<Map<String, Object>> render(UnaryOperator<TemplateCommand> values) {
    TemplateCommand command = new Helm(CHART).template().withName("lockstep-worker");
    String yaml = values.apply(command.withNamespace("lockstep")).call();
    List<Map<String, Object>> objects = new ArrayList<>();
    for (Object doc : new Yaml().loadAll(yaml)) {
      if (doc != null) {
        @SuppressWarnings("unchecked")
        Map<String, Object> object = (Map<String, Object>) doc;
        objects.add(object);
      }
    }
    return objects;
  }

  static List<Map<String, Object>> ofKind(List<Map<String, Object>> objects, String kind) {
    return objects.stream().filter(o -> kind.equals(o.get("kind"))).collect(Collectors.toList());
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> metadata(Map<String, Object> object) {
    return (Map<String, Object>) object.get("metadata");
  }

  static Container worker(List<Map<String, Object>> objects) {
    List<Map<String, Object>> deployments = ofKind(objects, "Deployment");
    assertThat(deployments).hasSize(1);
    Deployment d = Serialization.jsonMapper().convertValue(deployments.get(0), Deployment.class);
    return d.getSpec().getTemplate().getSpec().getContainers().get(0);
  }

  static Deployment deployment(List<Map<String, Object>> objects) {
    return Serialization.jsonMapper()
        .convertValue(ofKind(objects, "Deployment").get(0), Deployment.class);
  }

  static Map<String, String> env(Container c) {
    return c.getEnv().stream()
        .filter(e -> e.getValue() != null)
        .collect(Collectors.toMap(EnvVar::getName, EnvVar::getValue));
  }

  /** The objects of the ```yaml blocks of docs/worker.md's RBAC section. */
  static List<Map<String, Object>> publishedRbac() throws Exception {
    String doc = Files.readString(ROOT.resolve("docs/worker.md"));
    String rbac = doc.substring(doc.indexOf("\n## RBAC"));
    int next = rbac.indexOf("\n## ", 1);
    rbac = next < 0 ? rbac : rbac.substring(0, next);
    List<Map<String, Object>> objects = new ArrayList<>();
    Matcher m = Pattern.compile("```yaml\n(.*?)```", Pattern.DOTALL).matcher(rbac);
    while (m.find()) {
      for (Object o : new Yaml().loadAll(m.group(1))) {
        @SuppressWarnings("unchecked")
        Map<String, Object> object = (Map<String, Object>) o;
        objects.add(object);
      }
    }
    return objects;
  }

  @Test
  void aRolePerNamespaceWithExactlyThePublishedRulesAndTheCapacityClusterRole() throws Exception {
    List<Map<String, Object>> objects =
        render(t -> t.set("rbac.namespaces[0]", "shop").set("rbac.namespaces[1]", "db"));
    List<Map<String, Object>> published = publishedRbac();
    Object roleRules = ofKind(published, "Role").get(0).get("rules");
    Object capacityRules = ofKind(published, "ClusterRole").get(0).get("rules");
    assertThat(roleRules).as("docs/worker.md publishes a Role").isNotNull();

    List<Map<String, Object>> roles = ofKind(objects, "Role");
    assertThat(roles).extracting(r -> metadata(r).get("namespace")).containsExactly("shop", "db");
    assertThat(roles).allSatisfy(r -> assertThat(r.get("rules")).isEqualTo(roleRules));
    List<Map<String, Object>> bindings = ofKind(objects, "RoleBinding");
    assertThat(bindings)
        .extracting(b -> metadata(b).get("namespace"))
        .containsExactly("shop", "db");
    assertThat(bindings)
        .allSatisfy(
            b ->
                assertThat(b.get("subjects"))
                    .isEqualTo(
                        List.of(
                            Map.of(
                                "kind",
                                "ServiceAccount",
                                "name",
                                "lockstep-worker",
                                "namespace",
                                "lockstep"))));

    List<Map<String, Object>> clusterRoles = ofKind(objects, "ClusterRole");
    assertThat(clusterRoles).hasSize(1);
    assertThat(metadata(clusterRoles.get(0)).get("name")).isEqualTo("lockstep-worker-capacity");
    assertThat(clusterRoles.get(0).get("rules")).isEqualTo(capacityRules);
    assertThat(ofKind(objects, "ClusterRoleBinding")).hasSize(1);
    assertThat(ofKind(objects, "ServiceAccount")).hasSize(1);
  }

  @Test
  void clusterWideIsOneClusterRoleWithTheSameRulesAndTheCapacityRoleIsAnOption() throws Exception {
    List<Map<String, Object>> objects =
        render(t -> t.set("rbac.clusterWide", true).set("rbac.capacity", false));
    Object roleRules = ofKind(publishedRbac(), "Role").get(0).get("rules");
    assertThat(ofKind(objects, "Role")).isEmpty();
    List<Map<String, Object>> clusterRoles = ofKind(objects, "ClusterRole");
    assertThat(clusterRoles).hasSize(1);
    assertThat(clusterRoles.get(0).get("rules")).isEqualTo(roleRules);
    assertThat(ofKind(objects, "ClusterRoleBinding")).hasSize(1);
  }

  @Test
  void withoutNamespacesOrClusterWideItRefusesToRenderSayingWhy() {
    assertThatThrownBy(() -> render(t -> t))
        .hasMessageContaining("rbac.namespaces: list the namespaces the worker may upgrade");
  }

  @Test
  void theDeploymentProbesHealthAndWaitsAsLongAsTheShutdownGrace() {
    List<Map<String, Object>> objects =
        render(
            t ->
                t.set("rbac.namespaces[0]", "shop")
                    .set("cluster", "prod-eu")
                    .set("temporal.address", "temporal-frontend.temporal:7233")
                    .set("temporal.namespace", "platform")
                    .set("shutdownGrace", 120)
                    .set("replicas", 3)
                    .withKubeVersion("1.29.0"));
    Deployment d = deployment(objects);
    assertThat(d.getSpec().getReplicas()).isEqualTo(3);
    var pod = d.getSpec().getTemplate().getSpec();
    assertThat(pod.getServiceAccountName()).isEqualTo("lockstep-worker");
    assertThat(pod.getTerminationGracePeriodSeconds()).isEqualTo(130L);
    assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(10001L);
    Container c = worker(objects);
    assertThat(c.getImage()).isEqualTo("lockstep/worker:0.1.0-SNAPSHOT");
    assertThat(c.getArgs()).contains("--cluster=prod-eu", "--shutdown-grace=120s");
    assertThat(c.getPorts())
        .anySatisfy(
            p -> {
              assertThat(p.getName()).isEqualTo("health");
              assertThat(p.getContainerPort()).isEqualTo(8081);
            });
    for (var probe : List.of(c.getReadinessProbe(), c.getLivenessProbe(), c.getStartupProbe())) {
      assertThat(probe.getHttpGet().getPath()).isEqualTo("/health");
      assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo("health");
    }
    assertThat(env(c))
        .containsEntry("TEMPORAL_ADDRESS", "temporal-frontend.temporal:7233")
        .containsEntry("TEMPORAL_NAMESPACE", "platform")
        .containsEntry("LOCKSTEP_WORKER_HEALTH_PORT", "8081")
        .doesNotContainKeys("TEMPORAL_TLS", "TEMPORAL_API_KEY", "LOCKSTEP_CODEC_KEYS");
    assertThat(c.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();

    List<Map<String, Object>> pdbs = ofKind(objects, "PodDisruptionBudget");
    assertThat(pdbs).hasSize(1);
    assertThat(pdbs.get(0).get("apiVersion")).isEqualTo("policy/v1");
  }

  @Test
  void tlsApiKeyCodecAndMetricsComeFromSecretsAndValues() {
    List<Map<String, Object>> objects =
        render(
            t ->
                t.set("rbac.namespaces[0]", "shop")
                    .set("temporal.tls.secretName", "temporal-mtls")
                    .set("temporal.tls.serverName", "temporal.internal")
                    .set("temporal.apiKey.secretName", "temporal-cloud")
                    .set("codec.keySecret", "lockstep-codec")
                    .set("codec.keyId", "2026-11")
                    .set("metrics.enabled", true)
                    .set("notify.secretName", "lockstep-notify")
                    .set("notify.remindEvery", "1h"));
    Deployment d = deployment(objects);
    Container c = worker(objects);
    EnvVar webhooks =
        c.getEnv().stream()
            .filter(e -> e.getName().equals("LOCKSTEP_NOTIFY_WEBHOOKS"))
            .findFirst()
            .get();
    assertThat(webhooks.getValue()).as("URLs carry tokens: never in the pod spec").isNull();
    assertThat(webhooks.getValueFrom().getSecretKeyRef().getName()).isEqualTo("lockstep-notify");
    assertThat(webhooks.getValueFrom().getSecretKeyRef().getKey()).isEqualTo("webhooks");
    assertThat(env(c)).containsEntry("LOCKSTEP_NOTIFY_REMIND_EVERY", "1h");
    assertThat(env(c))
        .containsEntry("TEMPORAL_TLS", "true")
        .containsEntry("TEMPORAL_TLS_CERT", "/etc/temporal/tls.crt")
        .containsEntry("TEMPORAL_TLS_KEY", "/etc/temporal/tls.key")
        .containsEntry("TEMPORAL_TLS_CA", "/etc/temporal/ca.crt")
        .containsEntry("TEMPORAL_TLS_SERVER_NAME", "temporal.internal")
        .containsEntry("LOCKSTEP_CODEC_KEYS", "/etc/lockstep/codec-keys")
        .containsEntry("LOCKSTEP_CODEC_KEY_ID", "2026-11")
        .containsEntry("LOCKSTEP_WORKER_METRICS_PORT", "9464");
    EnvVar apiKey =
        c.getEnv().stream().filter(e -> e.getName().equals("TEMPORAL_API_KEY")).findFirst().get();
    assertThat(apiKey.getValue()).as("never in the pod spec").isNull();
    assertThat(apiKey.getValueFrom().getSecretKeyRef().getName()).isEqualTo("temporal-cloud");
    var volumes = d.getSpec().getTemplate().getSpec().getVolumes();
    assertThat(volumes.stream().filter(v -> v.getSecret() != null))
        .extracting(v -> v.getSecret().getSecretName())
        .containsExactlyInAnyOrder("temporal-mtls", "lockstep-codec");
    assertThat(c.getVolumeMounts())
        .anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/etc/temporal"))
        .anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/etc/lockstep/codec-keys"));
    assertThat(c.getPorts()).anySatisfy(p -> assertThat(p.getContainerPort()).isEqualTo(9464));
    assertThat(d.getSpec().getTemplate().getMetadata().getAnnotations())
        .containsEntry("prometheus.io/scrape", "true")
        .containsEntry("prometheus.io/port", "9464");
  }

  @Test
  @SuppressWarnings("unchecked")
  void metricsMakeAServiceOnTheMetricsPortAndTheServiceMonitorIsAnOption() {
    List<Map<String, Object>> off = render(t -> t.set("rbac.namespaces[0]", "shop"));
    assertThat(ofKind(off, "Service")).isEmpty();
    assertThat(ofKind(off, "ServiceMonitor")).isEmpty();
    assertThat(worker(off).getPorts()).extracting(p -> p.getName()).containsExactly("health");
    assertThat(env(worker(off))).doesNotContainKey("LOCKSTEP_WORKER_METRICS_PORT");

    List<Map<String, Object>> on =
        render(t -> t.set("rbac.namespaces[0]", "shop").set("metrics.enabled", true));
    List<Map<String, Object>> services = ofKind(on, "Service");
    assertThat(services).hasSize(1);
    assertThat(metadata(services.get(0)).get("name")).isEqualTo("lockstep-worker-metrics");
    Map<String, Object> spec = (Map<String, Object>) services.get(0).get("spec");
    assertThat(spec.get("selector"))
        .isEqualTo(
            Map.of(
                "app.kubernetes.io/name", "lockstep-worker",
                "app.kubernetes.io/instance", "lockstep-worker"));
    assertThat((List<Map<String, Object>>) spec.get("ports"))
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p).containsEntry("name", "metrics").containsEntry("port", 9464);
              assertThat(p).containsEntry("targetPort", "metrics");
            });
    assertThat(worker(on).getPorts())
        .anySatisfy(
            p -> {
              assertThat(p.getName()).isEqualTo("metrics");
              assertThat(p.getContainerPort()).isEqualTo(9464);
            });
    assertThat(ofKind(on, "ServiceMonitor")).as("off by default").isEmpty();

    List<Map<String, Object>> monitored =
        render(
            t ->
                t.set("rbac.namespaces[0]", "shop")
                    .set("metrics.enabled", true)
                    .set("metrics.port", 9100)
                    .set("metrics.serviceMonitor.enabled", true)
                    .set("metrics.serviceMonitor.labels.release", "prometheus"));
    assertThat(env(worker(monitored))).containsEntry("LOCKSTEP_WORKER_METRICS_PORT", "9100");
    List<Map<String, Object>> monitors = ofKind(monitored, "ServiceMonitor");
    assertThat(monitors).hasSize(1);
    assertThat(monitors.get(0).get("apiVersion")).isEqualTo("monitoring.coreos.com/v1");
    assertThat((Map<String, Object>) metadata(monitors.get(0)).get("labels"))
        .containsEntry("release", "prometheus");
    Map<String, Object> monitor = (Map<String, Object>) monitors.get(0).get("spec");
    Map<String, Object> serviceLabels =
        (Map<String, Object>) metadata(ofKind(monitored, "Service").get(0)).get("labels");
    Map<String, Object> selects =
        (Map<String, Object>) ((Map<String, Object>) monitor.get("selector")).get("matchLabels");
    assertThat(serviceLabels).containsAllEntriesOf(selects);
    assertThat(selects).containsEntry("app.kubernetes.io/component", "metrics");
    assertThat((List<Map<String, Object>>) monitor.get("endpoints"))
        .singleElement()
        .satisfies(
            e -> assertThat(e).containsEntry("port", "metrics").containsEntry("path", "/metrics"));
    assertThat(
            (List<Map<String, Object>>)
                ((Map<String, Object>) ofKind(monitored, "Service").get(0).get("spec"))
                    .get("ports"))
        .singleElement()
        .satisfies(p -> assertThat(p).containsEntry("port", 9100));

    assertThatThrownBy(
            () ->
                render(
                    t ->
                        t.set("rbac.namespaces[0]", "shop")
                            .set("metrics.serviceMonitor.enabled", true)))
        .hasMessageContaining("metrics.serviceMonitor.enabled needs metrics.enabled");
  }

  @Test
  void aV120ClusterGetsThePodDisruptionBudgetItServes() {
    List<Map<String, Object>> objects =
        render(t -> t.set("rbac.namespaces[0]", "shop").withKubeVersion("1.20.2"));
    assertThat(ofKind(objects, "PodDisruptionBudget").get(0).get("apiVersion"))
        .isEqualTo("policy/v1beta1");
  }
}
