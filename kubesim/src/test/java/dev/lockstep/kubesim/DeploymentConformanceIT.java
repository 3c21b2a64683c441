package dev.lockstep.kubesim;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentCondition;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatus;
import io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * The same Deployment rollout and undo, on kubesim and on a real v1.20.2 control plane (its own
 * Deployment and ReplicaSet controllers, with kubesim's hollow nodes running the pods), must leave
 * the same facts Lockstep reads: the ReplicaSets' revision annotations (and the history of the one
 * an undo brought back), their sizes, the Deployment's revision, status counts and conditions. The
 * real lane is skipped where the kit is absent.
 */
class DeploymentConformanceIT {

  /** What the scenario leaves, as Lockstep reads it; ReplicaSets by image. */
  record Facts(
      String deploymentRevision,
      List<Integer> counts,
      List<String> conditions,
      Map<String, String> replicaSets) {}

  /**
   * web:1 (3 replicas, maxSurge 1, maxUnavailable 0), rolled to web:2, then {@code kubectl rollout
   * undo --to-revision=1}.
   */
  static Facts scenario(KubernetesClient client, String ns) {
    Deployment d = Workloads.deployment("conform", 3, "conform:1");
    d.getSpec()
        .setStrategy(
            new DeploymentStrategyBuilder()
                .withType("RollingUpdate")
                .withNewRollingUpdate()
                .withMaxSurge(new IntOrString(1))
                .withMaxUnavailable(new IntOrString(0))
                .endRollingUpdate()
                .build());
    client.apps().deployments().inNamespace(ns).resource(d).create();
    awaitRevision(client, ns, "1");
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .withName("conform")
        .edit(
            x -> {
              x.getSpec().getTemplate().getSpec().getContainers().get(0).setImage("conform:2");
              return x;
            });
    awaitRevision(client, ns, "2");
    Workloads.kubectlRolloutUndo(client, ns, "conform", 1);
    awaitRevision(client, ns, "3");
    // Old ReplicaSets reach 0 and the pods of the new one all exist before the facts are read.
    await().atMost(60, SECONDS).until(() -> Workloads.pods(client, ns, "conform").size() == 3);
    return facts(client, ns);
  }

  private static void awaitRevision(KubernetesClient client, String ns, String revision) {
    await()
        .atMost(60, SECONDS)
        .until(
            () -> {
              Deployment x = client.apps().deployments().inNamespace(ns).withName("conform").get();
              DeploymentStatus s = x.getStatus();
              return s != null
                  && revision.equals(
                      x.getMetadata().getAnnotations().get("deployment.kubernetes.io/revision"))
                  && s.getObservedGeneration() != null
                  && s.getObservedGeneration() >= x.getMetadata().getGeneration()
                  && n(s.getUpdatedReplicas()) == 3
                  && n(s.getReplicas()) == 3
                  && n(s.getAvailableReplicas()) == 3
                  && s.getConditions().stream()
                      .anyMatch(c -> "NewReplicaSetAvailable".equals(c.getReason()));
            });
  }

  private static int n(Integer value) {
    return value == null ? 0 : value;
  }

  private static Facts facts(KubernetesClient client, String ns) {
    Deployment d = client.apps().deployments().inNamespace(ns).withName("conform").get();
    DeploymentStatus s = d.getStatus();
    List<Integer> counts =
        List.of(
            n(s.getReplicas()),
            n(s.getUpdatedReplicas()),
            n(s.getReadyReplicas()),
            n(s.getAvailableReplicas()),
            n(s.getUnavailableReplicas()),
            s.getObservedGeneration().equals(d.getMetadata().getGeneration()) ? 1 : 0);
    Map<String, String> names = new TreeMap<>();
    Map<String, String> sets = new TreeMap<>();
    for (ReplicaSet rs : client.apps().replicaSets().inNamespace(ns).list().getItems()) {
      if (!rs.getMetadata().getName().startsWith("conform-")) {
        continue;
      }
      String image = rs.getSpec().getTemplate().getSpec().getContainers().get(0).getImage();
      Map<String, String> a = rs.getMetadata().getAnnotations();
      String hash = rs.getMetadata().getLabels().get("pod-template-hash");
      boolean hashed =
          rs.getMetadata().getName().equals("conform-" + hash)
              && hash.equals(rs.getSpec().getSelector().getMatchLabels().get("pod-template-hash"))
              && hash.equals(
                  rs.getSpec().getTemplate().getMetadata().getLabels().get("pod-template-hash"));
      names.put(image, rs.getMetadata().getName());
      sets.put(
          image,
          "revision="
              + a.get("deployment.kubernetes.io/revision")
              + " history="
              + a.get("deployment.kubernetes.io/revision-history")
              + " desired="
              + a.get("deployment.kubernetes.io/desired-replicas")
              + " max="
              + a.get("deployment.kubernetes.io/max-replicas")
              + " replicas="
              + rs.getSpec().getReplicas()
              + " named-by-hash="
              + hashed);
    }
    List<String> conditions = new ArrayList<>();
    s.getConditions().stream()
        .sorted(Comparator.comparing(DeploymentCondition::getType))
        .forEach(
            c ->
                conditions.add(
                    c.getType()
                        + " "
                        + c.getStatus()
                        + " "
                        + c.getReason()
                        + " "
                        + c.getMessage().replace(names.getOrDefault("conform:1", "?"), "RS1")));
    return new Facts(
        d.getMetadata().getAnnotations().get("deployment.kubernetes.io/revision"),
        counts,
        conditions,
        sets);
  }

  /** What upstream's controllers leave, read off a real v1.20 control plane. */
  static final Facts EXPECTED =
      new Facts(
          "3",
          List.of(3, 3, 3, 3, 0, 1),
          List.of(
              "Available True MinimumReplicasAvailable Deployment has minimum availability.",
              "Progressing True NewReplicaSetAvailable ReplicaSet \"RS1\" has successfully"
                  + " progressed."),
          Map.of(
              "conform:1",
              "revision=3 history=1 desired=3 max=4 replicas=3 named-by-hash=true",
              "conform:2",
              "revision=2 history=null desired=3 max=4 replicas=0 named-by-hash=true"));

  @Test
  void onKubesim() {
    try (Kubesim sim = Kubesim.builder().podStartup(Duration.ofMillis(150)).start()) {
      assertEquals(EXPECTED, scenario(sim.client(), "default"));
    }
  }

  @Test
  @EnabledIf(
      value = "dev.lockstep.kubesim.lane.ControlPlaneKit#available",
      disabledReason = "no real control plane here (../shared/tools/k8s/control-plane not found)")
  void onARealV120ControlPlane() throws Exception {
    try (RealServer real = RealServer.start()) {
      assertEquals(EXPECTED, scenario(real.client, "default"));
    }
  }
}
