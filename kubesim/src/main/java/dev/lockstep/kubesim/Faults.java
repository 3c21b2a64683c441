package dev.lockstep.kubesim;

import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Fault injection, switchable while the server runs. Faults apply to requests that come over HTTP,
 * never to kubesim's own controllers (a real control plane's controllers are not what Lockstep is
 * tested against). Seeded, so a test run is repeatable.
 */
public final class Faults {
  private final List<FaultRule> rules = new CopyOnWriteArrayList<>();
  private Random random = new Random(42);

  /** Adds a rule; every rule applies on its own. */
  public Faults add(FaultRule rule) {
    rules.add(rule);
    return this;
  }

  /** Replaces every rule. */
  public Faults set(List<FaultRule> newRules) {
    rules.clear();
    rules.addAll(newRules);
    return this;
  }

  /** Removes every rule. */
  public Faults clear() {
    rules.clear();
    return this;
  }

  public List<FaultRule> rules() {
    return List.copyOf(rules);
  }

  /** Reseeds the random choice of which requests fail. */
  public synchronized Faults seed(long seed) {
    random = new Random(seed);
    return this;
  }

  /** What to do with one request: how long to wait, and which error to answer (0 for none). */
  record Decision(long latencyMillis, int errorCode) {}

  synchronized Decision decide(String verb, String resource) {
    long latency = 0;
    int error = 0;
    for (FaultRule rule : rules) {
      if (!rule.matches(verb, resource)) {
        continue;
      }
      latency += rule.latencyMillis();
      if (error == 0 && rule.rate() > 0 && random.nextDouble() < rule.rate()) {
        error = rule.codes().get(random.nextInt(rule.codes().size()));
      }
    }
    return new Decision(latency, error);
  }
}
