package dev.lockstep.kubesim;

import java.util.List;

/**
 * A fault to inject into client requests: a share of the matching requests is answered with an
 * error instead of being served, and every matching request can be delayed.
 *
 * @param verb Kubernetes verb to match (get, list, watch, create, update, patch, delete), or {@code
 *     *}
 * @param resource resource plural to match (e.g. {@code pods}, {@code statefulsets/status}), or
 *     {@code *}
 * @param rate share of matching requests answered with an error, 0 to 1
 * @param codes the error codes to answer with, picked at random (500, 429, 409, ...)
 * @param latencyMillis delay added to every matching request before it is served
 */
public record FaultRule(
    String verb, String resource, double rate, List<Integer> codes, long latencyMillis) {

  public FaultRule {
    if (rate < 0 || rate > 1) {
      throw new IllegalArgumentException("rate must be between 0 and 1, was " + rate);
    }
    if (latencyMillis < 0) {
      throw new IllegalArgumentException("latencyMillis must not be negative");
    }
    verb = verb == null || verb.isBlank() ? "*" : verb;
    resource = resource == null || resource.isBlank() ? "*" : resource;
    codes = codes == null || codes.isEmpty() ? List.of(500) : List.copyOf(codes);
    for (int code : codes) {
      if (code < 400 || code > 599) {
        throw new IllegalArgumentException("fault codes must be 4xx or 5xx, was " + code);
      }
    }
  }

  /** Errors at the given rate, for every verb and resource. */
  public static FaultRule errors(double rate, Integer... codes) {
    return new FaultRule("*", "*", rate, List.of(codes), 0);
  }

  /** A delay for every request. */
  public static FaultRule latency(long millis) {
    return new FaultRule("*", "*", 0, List.of(), millis);
  }

  boolean matches(String requestVerb, String requestResource) {
    return (verb.equals("*") || verb.equals(requestVerb))
        && (resource.equals("*") || resource.equals(requestResource));
  }
}
