package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * What the {@link Kubelet} reads from and writes to its API server. Two implementations: kubesim's
 * own in-process server ({@link ClusterKubeletApi}) and any real one through fabric8 (hollow
 * nodes), so the same kubelet logic runs pods in both.
 */
public interface KubeletApi {

  /** Whether a node is one this kubelet runs pods for. */
  boolean runsNode(String nodeName);

  /** The pod as the API server (or a cache of it) last showed it. */
  Optional<ObjectNode> pod(String namespace, String name);

  /** Walks the pods this kubelet may have to run; {@code reader} must not change or keep them. */
  void forEachPod(Consumer<JsonNode> reader);

  /**
   * Writes a pod's status through the {@code pods/status} subresource, guarded by the pod's uid so
   * that a newer pod of the same name is never written by mistake.
   */
  void writeStatus(ObjectNode pod, ObjectNode status);

  /**
   * Finishes a graceful deletion as a kubelet does once the containers stopped: deletes the pod
   * with grace period 0 and a uid precondition. A pod already gone is fine.
   */
  void finishDeletion(ObjectNode pod);

  /** Records an Event about a pod; best effort. */
  void event(ObjectNode pod, String type, String reason, String message);
}
