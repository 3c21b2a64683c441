package dev.lockstep.devstack;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeRequest;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.Upgrades;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.temporal.client.WorkflowClient;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chaos: many upgrades at once while the worker process is SIGKILLed again and again at random
 * moments and replaced. Every upgrade must end COMPLETED with every unit replaced exactly once,
 * proven from the pods the cluster created (their uids per ordinal and revision). Both lanes: on
 * kubesim, and on the real control plane with the worker under docs/worker.md's rights.
 *
 * <p>CI runs a reduced round (6 upgrades, 4 kills); {@code -Dlockstep.chaos.full=true} runs the
 * full one (20 upgrades of 3-5 units, 10 kills). The seed is {@code -Dlockstep.chaos.seed}.
 */
class ChaosIT {
  @TempDir static Path dir;
  private static Processes.Stack stack;
  private static Map<String, String> env;
  private static KubernetesClient kube;
  private static WorkflowServiceStubs service;
  private static WorkflowClient client;

  @BeforeAll
  static void start() throws Exception {
    stack = Processes.devStack(dir, "--no-seed");
    env = stack.env();
    kube =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(stack.adminKubeconfig())))
            .build();
    service =
        WorkflowServiceStubs.newServiceStubs(
            WorkflowServiceStubsOptions.newBuilder()
                .setTarget(env.get("TEMPORAL_ADDRESS"))
                .build());
    client = WorkflowClient.newInstance(service);
  }

  @AfterAll
  static void stop() throws Exception {
    if (service != null) {
      service.shutdownNow();
    }
    if (kube != null) {
      kube.close();
    }
    if (stack != null) {
      stack.close();
    }
  }

  private static Processes.Running startWorker() throws Exception {
    return stack.worker(Processes.WORKER);
  }

  /** Pods as kubesim created them: which uids each pod name had on which revision. */
  private static final class Pods implements Watcher<Pod> {
    final Map<String, Set<String>> uids = Collections.synchronizedMap(new HashMap<>());
    final Set<String> readyOnNew = Collections.synchronizedSet(new HashSet<>());

    @Override
    public void eventReceived(Action action, Pod pod) {
      String revision = pod.getMetadata().getLabels().get("controller-revision-hash");
      String key = pod.getMetadata().getName() + "@" + revision;
      uids.computeIfAbsent(key, k -> Collections.synchronizedSet(new HashSet<>()))
          .add(pod.getMetadata().getUid());
      boolean ready =
          pod.getStatus() != null
              && pod.getStatus().getConditions() != null
              && pod.getStatus().getConditions().stream()
                  .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
      String image = pod.getSpec().getContainers().get(0).getImage();
      if (ready && image.endsWith(":2.0")) {
        readyOnNew.add(pod.getMetadata().getUid());
      }
    }

    @Override
    public void onClose(WatcherException cause) {}
  }

  @Test
  void upgradesSurviveRepeatedWorkerKillsAndReplaceEveryUnitExactlyOnce() throws Exception {
    boolean full = Boolean.getBoolean("lockstep.chaos.full");
    int upgrades = full ? 20 : 6;
    int kills = full ? 10 : 4;
    Random random = new Random(Long.getLong("lockstep.chaos.seed", 20261122L));
    // Its own name on a real cluster, which may keep an earlier run's.
    String ns = stack.real() ? "chaos-" + Long.toString(System.currentTimeMillis(), 36) : "chaos";
    kube.namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
        .create();
    if (stack.real()) {
      // The worker runs as docs/worker.md's ServiceAccount: its Role, bound here.
      dev.lockstep.kubesim.lane.RealCluster.prepareNamespace(kube, ns);
    }
    Map<String, Integer> replicas = new HashMap<>();
    for (int i = 0; i < upgrades; i++) {
      String name = "svc" + i;
      int units = 3 + random.nextInt(3);
      replicas.put(name, units);
      kube.apps()
          .statefulSets()
          .inNamespace(ns)
          .resource(
              new StatefulSetBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .endMetadata()
                  .withNewSpec()
                  .withReplicas(units)
                  .withServiceName(name)
                  .withNewSelector()
                  .addToMatchLabels("app", name)
                  .endSelector()
                  .withNewTemplate()
                  .withNewMetadata()
                  .addToLabels("app", name)
                  .endMetadata()
                  .withNewSpec()
                  .addNewContainer()
                  .withName(name)
                  .withImage("example/" + name + ":1.0")
                  .endContainer()
                  .endSpec()
                  .endTemplate()
                  .endSpec()
                  .build())
          .create();
    }
    int total = replicas.values().stream().mapToInt(Integer::intValue).sum();
    await()
        .atMost(120, SECONDS)
        .until(
            () ->
                kube.pods().inNamespace(ns).list().getItems().stream()
                        .filter(
                            p ->
                                p.getStatus().getConditions() != null
                                    && p.getStatus().getConditions().stream()
                                        .anyMatch(
                                            c ->
                                                c.getType().equals("Ready")
                                                    && c.getStatus().equals("True")))
                        .count()
                    == total);
    Pods pods = new Pods();
    Watch watch = kube.pods().inNamespace(ns).watch(pods);
    Processes.Running worker = startWorker();
    try {
      for (int i = 0; i < upgrades; i++) {
        String name = "svc" + i;
        UpgradePlan plan =
            UpgradePlan.builder()
                .target(ns + "/statefulset/" + name)
                .cluster(Names.DEFAULT_CLUSTER)
                .images(Map.of(name, "example/" + name + ":2.0"))
                .gate(UpgradePlan.Gate.NONE)
                .unitTimeout("5m")
                .build();
        Upgrades.start(client, new UpgradeRequest(plan, "chaos@test", "chaos round", 2));
      }
      // Kill at random moments: when the units Ready on the new version reach random marks, all
      // of them below the total, so every kill lands while upgrades are in flight.
      List<Integer> marks = new ArrayList<>();
      for (int k = 0; k < kills; k++) {
        marks.add(random.nextInt(Math.max(1, total - 1)));
      }
      Collections.sort(marks);
      int killed = 0;
      for (int mark : marks) {
        await().atMost(300, SECONDS).until(() -> pods.readyOnNew.size() >= mark);
        worker.kill();
        killed++;
        worker = startWorker();
      }
      assertThat(killed).isEqualTo(kills);
      for (int i = 0; i < upgrades; i++) {
        String name = "svc" + i;
        UpgradeResult result =
            Upgrades.untyped(
                    client, Names.DEFAULT_CLUSTER, Target.parse(ns + "/statefulset/" + name, ns))
                .getResult(300, SECONDS, UpgradeResult.class);
        assertEquals(Phase.COMPLETED, result.phase(), name + ": " + result.message());
        String to = result.status().toRevision();
        for (int ordinal = 0; ordinal < replicas.get(name); ordinal++) {
          String pod = name + "-" + ordinal;
          assertThat(pods.uids.getOrDefault(pod + "@" + to, Set.of()))
              .as(pod + " on " + to + " (killed " + killed + " times)")
              .hasSize(1);
        }
      }
    } finally {
      watch.close();
      worker.close();
    }
  }
}
