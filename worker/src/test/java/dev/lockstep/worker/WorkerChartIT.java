package dev.lockstep.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import dev.lockstep.kubesim.ClientRequestLog;
import dev.lockstep.kubesim.RequestRecord;
import dev.lockstep.kubesim.lane.TestCluster;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeResult;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The chart charts/lockstep-worker as an operator installs it, on a real API server: rendered by
 * Helm (helm-java) for a values set, every rendered object applied (the API server validates them),
 * and the worker run in this JVM with a kubeconfig holding a token of the chart's ServiceAccount,
 * so it has exactly the chart's rights. It upgrades a StatefulSet and a Deployment to completion in
 * the namespaces the values list, and is refused (403) in one they do not; then the same with the
 * cluster-wide ClusterRole. Every request the worker sends is recorded (verb, resource): what the
 * upgrades used, against what the chart grants (docs/worker.md#rbac).
 *
 * <p>Real lane only: kubesim has no RBAC.
 */
@Timeout(180)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WorkerChartIT {
  private static final String NAMESPACED = "lockstep-worker-it";
  private static final String CLUSTER_WIDE = "lockstep-worker-cw";

  private static UpgradeHarness h;
  private static String releaseNamespace;
  private static final List<HasMetadata> clusterScoped = new ArrayList<>();
  private static final List<KubernetesClient> workers = new ArrayList<>();
  private static final Set<String> used = new TreeSet<>();

  @BeforeAll
  static void start() {
    if (!TestCluster.realLane()) {
      String why = "WorkerChartIT skipped in the kubesim lane: kubesim has no RBAC to prove";
      System.err.println(why);
      Assumptions.abort(why);
    }
    h = new UpgradeHarness(Duration.ofMillis(300), null, false);
    releaseNamespace = h.namespace();
  }

  @AfterAll
  static void stop() {
    if (h == null) {
      return;
    }
    System.err.println("WorkerChartIT: the worker used " + used);
    for (HasMetadata o : clusterScoped) {
      h.kube.resource(o).delete();
    }
    h.deleteNamespaces();
    h.close();
    workers.forEach(KubernetesClient::close);
  }

  /** {@code helm template} of the chart as release {@code name} in the release namespace. */
  static String render(String name, UnaryOperator<TemplateCommand> values) {
    String version = h.kube.getKubernetesVersion().getGitVersion().replaceFirst("^v", "");
    TemplateCommand command =
        new Helm(WorkerChartTest.CHART)
            .template()
            .withName(name)
            .withNamespace(releaseNamespace)
            .withKubeVersion(version);
    return values.apply(command).call();
  }

  /**
   * Applies every object of {@code yaml} as the admin (server-side apply), or only its
   * ServiceAccount and RBAC objects; returns what the API server stored.
   */
  static List<HasMetadata> apply(String yaml, boolean rbacOnly) {
    List<HasMetadata> stored = new ArrayList<>();
    for (HasMetadata o :
        h.kube.load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))).items()) {
      boolean rbac =
          o.getKind().equals("ServiceAccount")
              || o.getApiVersion().startsWith("rbac.authorization.k8s.io/");
      if (rbacOnly && !rbac) {
        continue;
      }
      if (o.getMetadata().getNamespace() == null
          && !o.getKind().equals("ClusterRole")
          && !o.getKind().equals("ClusterRoleBinding")) {
        o.getMetadata().setNamespace(releaseNamespace);
      }
      HasMetadata applied = h.kube.resource(o).forceConflicts().serverSideApply();
      if (o.getMetadata().getNamespace() == null) {
        clusterScoped.add(applied);
      }
      stored.add(applied);
    }
    return stored;
  }

  /**
   * A kubeconfig that authenticates with a token of {@code account} (TokenRequest), trusting the
   * API server's CA: what a pod of the chart's Deployment would have.
   */
  static String kubeconfig(String account) throws Exception {
    String token =
        h.kube
            .serviceAccounts()
            .inNamespace(releaseNamespace)
            .withName(account)
            .tokenRequest(
                new TokenRequestBuilder()
                    .withNewSpec()
                    .withExpirationSeconds(3600L)
                    .endSpec()
                    .build())
            .getStatus()
            .getToken();
    Config admin = h.kube.getConfiguration();
    String ca =
        admin.getCaCertData() != null
            ? admin.getCaCertData()
            : Base64.getEncoder()
                .encodeToString(Files.readAllBytes(Path.of(admin.getCaCertFile())));
    return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: it
          cluster:
            server: %s
            certificate-authority-data: %s
        contexts:
        - name: chart
          context: {cluster: it, user: chart}
        current-context: chart
        users:
        - name: chart
          user:
            token: %s
        """
        .formatted(admin.getMasterUrl(), ca, token);
  }

  /** The worker's client from that kubeconfig, as the worker makes it, its requests recorded. */
  static KubernetesClient workerClient(String kubeconfig, ClientRequestLog log) {
    Config config =
        new ConfigBuilder(Config.fromKubeconfig(kubeconfig))
            .withRequestRetryBackoffLimit(0)
            .withConnectionTimeout(10_000)
            .withRequestTimeout(30_000)
            .build();
    KubernetesClient client =
        new KubernetesClientBuilder()
            .withConfig(config)
            .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("request-log", log))
            .build();
    workers.add(client);
    return client;
  }

  /** {@code group/resource verb} of a request, the group empty for the core API. */
  static String rbacName(RequestRecord r) {
    String path = r.path();
    String group = path.startsWith("/apis/") ? path.split("/")[2] : "";
    return (group.isEmpty() ? "" : group + "/") + r.resource() + " " + r.verb();
  }

  /** {@code group/resource verb} of every verb the rules grant. */
  static Set<String> granted(List<PolicyRule> rules) {
    Set<String> granted = new TreeSet<>();
    for (PolicyRule rule : rules) {
      for (String group : rule.getApiGroups()) {
        for (String resource : rule.getResources()) {
          for (String verb : rule.getVerbs()) {
            granted.add((group.isEmpty() ? "" : group + "/") + resource + " " + verb);
          }
        }
      }
    }
    return granted;
  }

  static List<String> images(String ns, String app) {
    return h.kube.pods().inNamespace(ns).withLabel("app", app).list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .map((Pod p) -> p.getSpec().getContainers().get(0).getImage())
        .toList();
  }

  /** A StatefulSet and a Deployment of {@code ns} upgraded at once, both to completion. */
  static void upgradeBoth(String ns) {
    h.statefulSet(ns, "db", 2, "example/db:1.0");
    h.deployment(ns, "web", 2, "example/web:1.0");
    String sts = ns + "/statefulset/db";
    String deployment = ns + "/deployment/web";
    // With requests, so that the capacity check reads nodes and pods cluster-wide.
    h.start(
        UpgradeHarness.plan(sts, "db", "example/db:2.0", UpgradePlan.Gate.NONE).toBuilder()
            .change(
                new UpgradePlan.Change(
                    java.util.Map.of("db", "example/db:2.0"),
                    null,
                    java.util.Map.of(
                        "db", java.util.Map.of("requests", java.util.Map.of("cpu", "10m"))),
                    null))
            .build());
    h.start(UpgradeHarness.plan(deployment, "web", "example/web:2.0", UpgradePlan.Gate.NONE));
    UpgradeResult s = h.result(sts);
    UpgradeResult d = h.result(deployment);
    assertEquals(Phase.COMPLETED, s.phase(), s.message());
    assertEquals(Phase.COMPLETED, d.phase(), d.message());
    assertThat(images(ns, "db")).hasSize(2).containsOnly("example/db:2.0");
    assertThat(images(ns, "web")).hasSize(2).containsOnly("example/web:2.0");
  }

  @Test
  @Order(1)
  void aRolePerListedNamespaceLetsTheWorkerUpgradeThereAndNowhereElse() throws Exception {
    String shop = h.namespace();
    String db = h.namespace();
    String other = h.namespace();
    String yaml =
        render(
            NAMESPACED,
            t ->
                t.set("rbac.namespaces[0]", shop)
                    .set("rbac.namespaces[1]", db)
                    .set("metrics.enabled", true)
                    .set("replicas", 1));

    // Every object the chart renders is accepted by the API server, as helm install would send it.
    List<HasMetadata> stored = apply(yaml, false);
    assertThat(stored.stream().map(HasMetadata::getKind).collect(Collectors.toSet()))
        .containsExactlyInAnyOrder(
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "PodDisruptionBudget",
            "Service");
    assertThat(stored)
        .filteredOn(o -> o.getKind().equals("Role"))
        .extracting(o -> o.getMetadata().getNamespace())
        .containsExactlyInAnyOrder(shop, db);
    for (HasMetadata o : stored) {
      assertThat(h.kube.resource(o).get()).as("%s stored", o.getFullResourceName()).isNotNull();
    }

    ClientRequestLog log = new ClientRequestLog(100_000);
    KubernetesClient worker = workerClient(kubeconfig(NAMESPACED), log);
    h.startWorker(worker);

    upgradeBoth(shop);
    h.deployment(db, "api", 1, "example/api:1.0");
    String api = db + "/deployment/api";
    h.start(UpgradeHarness.plan(api, "api", "example/api:2.0", UpgradePlan.Gate.NONE));
    UpgradeResult apiResult = h.result(api);
    assertEquals(Phase.COMPLETED, apiResult.phase(), apiResult.message());

    // A missing permission is a failed test: no request of the worker was forbidden.
    List<RequestRecord> requests = log.log().all();
    assertThat(requests)
        .filteredOn(r -> r.status() == 401 || r.status() == 403)
        .as("requests the chart's rights refused")
        .isEmpty();
    requests.stream()
        .filter(r -> !r.resource().isEmpty())
        .map(WorkerChartIT::rbacName)
        .forEach(used::add);
    Set<String> granted = new TreeSet<>();
    for (HasMetadata o : stored) {
      if (o instanceof io.fabric8.kubernetes.api.model.rbac.Role role) {
        granted.addAll(granted(role.getRules()));
      } else if (o instanceof io.fabric8.kubernetes.api.model.rbac.ClusterRole role) {
        granted.addAll(granted(role.getRules()));
      }
    }
    assertThat(granted).containsAll(used);
    assertThat(used).as("the capacity check, with the capacity ClusterRole").contains("nodes list");
    Set<String> unused = new TreeSet<>(granted);
    unused.removeAll(used);
    System.err.println("WorkerChartIT: granted, not used by these upgrades: " + unused);

    // Outside the values' namespaces the worker is refused, and its run fails saying so.
    h.statefulSet(other, "cache", 1, "example/cache:1.0");
    assertThatThrownBy(() -> worker.apps().statefulSets().inNamespace(other).list())
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
    String refused = other + "/statefulset/cache";
    h.start(UpgradeHarness.plan(refused, "cache", "example/cache:2.0", UpgradePlan.Gate.NONE));
    UpgradeResult result = h.result(refused);
    assertEquals(Phase.FAILED, result.phase(), result.message());
    assertThat(result.message()).contains("forbidden");
    assertThat(images(other, "cache")).containsOnly("example/cache:1.0");
  }

  @Test
  @Order(2)
  void theClusterWideRoleLetsTheWorkerUpgradeInAnyNamespace() throws Exception {
    String anywhere = h.namespace();
    String yaml = render(CLUSTER_WIDE, t -> t.set("rbac.clusterWide", true));
    List<HasMetadata> stored = apply(yaml, true);
    assertThat(stored)
        .filteredOn(o -> o.getKind().equals("ClusterRole"))
        .extracting(o -> o.getMetadata().getName())
        .containsExactlyInAnyOrder(CLUSTER_WIDE, CLUSTER_WIDE + "-capacity");
    assertThat(stored).noneMatch(o -> o.getKind().equals("Role"));

    ClientRequestLog log = new ClientRequestLog(100_000);
    h.replaceWorkers(workerClient(kubeconfig(CLUSTER_WIDE), log));
    upgradeBoth(anywhere);
    assertThat(log.log().all())
        .filteredOn(r -> r.status() == 401 || r.status() == 403)
        .as("requests the chart's rights refused")
        .isEmpty();
  }
}
