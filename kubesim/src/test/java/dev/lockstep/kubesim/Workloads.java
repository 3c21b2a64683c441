package dev.lockstep.kubesim;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Test workloads and the questions tests ask about them. */
final class Workloads {
  private Workloads() {}

  static StatefulSet statefulSet(String name, int replicas, String image) {
    return new StatefulSetBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withReplicas(replicas)
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
        .withName("app")
        .withImage(image)
        .addNewPort()
        .withContainerPort(8080)
        .endPort()
        .endContainer()
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }

  static Deployment deployment(String name, int replicas, String image) {
    return new DeploymentBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withReplicas(replicas)
        .withNewSelector()
        .addToMatchLabels("app", name)
        .endSelector()
        .withNewTemplate()
        .withNewMetadata()
        .addToLabels("app", name)
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage(image)
        .addNewPort()
        .withContainerPort(8080)
        .endPort()
        .endContainer()
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }

  static List<Pod> pods(KubernetesClient client, String namespace, String app) {
    return client.pods().inNamespace(namespace).withLabel("app", app).list().getItems().stream()
        .sorted(Comparator.comparing(p -> p.getMetadata().getName()))
        .toList();
  }

  static boolean ready(Pod pod) {
    return pod.getStatus() != null
        && "Running".equals(pod.getStatus().getPhase())
        && pod.getStatus().getConditions().stream()
            .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
  }

  static String revision(Pod pod) {
    return pod.getMetadata().getLabels().get("controller-revision-hash");
  }

  /** Pod name to controller-revision-hash. */
  static Map<String, String> revisions(KubernetesClient client, String namespace, String app) {
    return pods(client, namespace, app).stream()
        .collect(Collectors.toMap(p -> p.getMetadata().getName(), Workloads::revision));
  }

  /** Pod name to uid. */
  static Map<String, String> uids(KubernetesClient client, String namespace, String app) {
    return pods(client, namespace, app).stream()
        .collect(Collectors.toMap(p -> p.getMetadata().getName(), p -> p.getMetadata().getUid()));
  }

  /**
   * What {@code kubectl rollout undo --to-revision=N} sends: a JSON patch replacing the template
   * with that ReplicaSet's (minus its pod-template-hash label) and the annotations with the
   * ReplicaSet's, the Deployment's own values kept for the deployment.kubernetes.io/ keys.
   */
  static void kubectlRolloutUndo(KubernetesClient client, String ns, String name, long toRevision) {
    String revision = "deployment.kubernetes.io/revision";
    Deployment current = client.apps().deployments().inNamespace(ns).withName(name).get();
    String uid = current.getMetadata().getUid();
    ReplicaSet target =
        client.apps().replicaSets().inNamespace(ns).list().getItems().stream()
            .filter(
                rs ->
                    rs.getMetadata().getOwnerReferences().stream()
                        .anyMatch(o -> o.getUid().equals(uid)))
            .filter(
                rs ->
                    Long.toString(toRevision)
                        .equals(rs.getMetadata().getAnnotations().get(revision)))
            .findFirst()
            .orElseThrow();
    PodTemplateSpec template = target.getSpec().getTemplate();
    template.getMetadata().getLabels().remove("pod-template-hash");
    Map<String, String> annotations = new HashMap<>(target.getMetadata().getAnnotations());
    for (String key :
        List.of(
            revision,
            "deployment.kubernetes.io/revision-history",
            "deployment.kubernetes.io/desired-replicas",
            "deployment.kubernetes.io/max-replicas",
            "kubectl.kubernetes.io/last-applied-configuration")) {
      annotations.remove(key);
      String own = current.getMetadata().getAnnotations().get(key);
      if (own != null) {
        annotations.put(key, own);
      }
    }
    String patch =
        "[{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":"
            + Serialization.asJson(template)
            + "},{\"op\":\"replace\",\"path\":\"/metadata/annotations\",\"value\":"
            + Serialization.asJson(annotations)
            + "}]";
    client
        .apps()
        .deployments()
        .inNamespace(ns)
        .withName(name)
        .patch(PatchContext.of(PatchType.JSON), patch);
  }
}
