package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What only the node knows of one pod (by uid): its containers' story so far. */
final class PodState {
  final Instant boundAt;
  final String podIp;
  final List<String> log = Collections.synchronizedList(new ArrayList<>());
  Instant nextAttempt;
  Instant readySince;
  Instant lastExit;
  int restarts;
  boolean finished;
  boolean failed;
  boolean deletionFinished;

  /** The status this node last wrote, so that it writes only what changed (as kubelets do). */
  ObjectNode lastWritten;

  PodState(Instant boundAt, Instant firstAttempt, String podIp) {
    this.boundAt = boundAt;
    this.nextAttempt = firstAttempt;
    this.podIp = podIp;
  }

  boolean ready() {
    return readySince != null;
  }
}
