package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.PodRuntime;

/**
 * The nodes' network as the {@link Kubelet} sees it: which addresses pods and nodes have, and
 * whether a Ready pod's ports are really served somewhere. In kubesim's own cluster nothing listens
 * (its API server asks the kubelet directly); hollow nodes listen on loopback addresses.
 */
public interface PodNetwork {

  /** How a pod answers an HTTP request on one of its ports. */
  @FunctionalInterface
  interface Handler {
    PodRuntime.ProxyAnswer answer(int port, String method, String path);
  }

  /** Gives a new pod its IP address. */
  String assignPodIp(ObjectNode pod);

  /** The address of a node, reported as the pod's {@code hostIP}. */
  String hostIp(String nodeName);

  /** The pod became Ready: serve its declared ports with {@code handler}; idempotent. */
  void serve(ObjectNode pod, Handler handler);

  /** The pod stopped serving (crashed, finished or terminating); idempotent. */
  void stopServing(String podUid);

  /** The pod is gone: stop serving and free its address; idempotent. */
  void release(String podUid);
}
