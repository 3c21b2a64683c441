package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ResourceType;
import java.util.Optional;
import java.util.function.Consumer;

/** The {@link KubeletApi} of kubesim's own nodes: every node is theirs, calls stay in process. */
public final class ClusterKubeletApi implements KubeletApi {
  private final Cluster cluster;
  private final ResourceType pods = Cluster.type("", "pods");

  public ClusterKubeletApi(Cluster cluster) {
    this.cluster = cluster;
  }

  @Override
  public boolean runsNode(String nodeName) {
    return true;
  }

  @Override
  public Optional<ObjectNode> pod(String namespace, String name) {
    return cluster.get(pods, namespace, name);
  }

  @Override
  public void forEachPod(Consumer<JsonNode> reader) {
    cluster.forEach(pods, null, reader);
  }

  @Override
  public void writeStatus(ObjectNode pod, ObjectNode status) {
    // The pod carries its resourceVersion: a newer pod (or a newer write) is a 409, and the
    // controller manager retries with what is stored then.
    ObjectNode updated = pod.deepCopy();
    updated.set("status", status);
    cluster.updateStatus(pods, updated);
  }

  @Override
  public void finishDeletion(ObjectNode pod) {
    String namespace = pod.path("metadata").path("namespace").asText();
    String name = pod.path("metadata").path("name").asText();
    String uid = pod.path("metadata").path("uid").asText();
    // The uid precondition, checked here: reconciles run one at a time, so nothing races it.
    boolean same =
        cluster
            .get(pods, namespace, name)
            .map(p -> uid.equals(p.path("metadata").path("uid").asText()))
            .orElse(false);
    if (same) {
      cluster.delete(pods, namespace, name);
    }
  }

  @Override
  public void event(ObjectNode pod, String type, String reason, String message) {
    cluster.event(pods, pod, type, reason, message, "kubelet");
  }
}
