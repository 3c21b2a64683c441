package dev.lockstep.kubesim.api;

/** What only a node knows about a pod: its containers' logs and the HTTP answers it serves. */
public interface PodRuntime {

  /** An HTTP answer from a pod, as the API server's pod proxy relays it. */
  record ProxyAnswer(int code, String contentType, String body) {}

  /**
   * The log of one container of a pod.
   *
   * @param pod the stored pod
   * @param container the container name (already resolved)
   * @param tailLines the number of last lines, or -1 for all
   */
  String log(com.fasterxml.jackson.databind.node.ObjectNode pod, String container, int tailLines);

  /** The answer of a pod to an HTTP request on a port, through the API server's proxy. */
  ProxyAnswer proxy(
      com.fasterxml.jackson.databind.node.ObjectNode pod, int port, String method, String path);
}
