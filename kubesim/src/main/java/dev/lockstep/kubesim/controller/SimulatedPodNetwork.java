package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The network of kubesim's own nodes: addresses only. Nothing listens, because kubesim's API server
 * answers the pod proxy by asking the kubelet itself.
 */
public final class SimulatedPodNetwork implements PodNetwork {
  private final AtomicInteger nextIp = new AtomicInteger();

  @Override
  public String assignPodIp(ObjectNode pod) {
    int n = nextIp.incrementAndGet();
    return "10.244." + ((n / 250) % 250) + "." + (n % 250 + 1);
  }

  @Override
  public String hostIp(String nodeName) {
    int n = Math.abs(nodeName.hashCode() % 250) + 1;
    return "10.0.0." + n;
  }

  @Override
  public void serve(ObjectNode pod, Handler handler) {}

  @Override
  public void stopServing(String podUid) {}

  @Override
  public void release(String podUid) {}
}
