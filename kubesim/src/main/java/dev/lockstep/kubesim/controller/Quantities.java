package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;

/** Kubernetes resource quantities ({@code 500m}, {@code 2}, {@code 1Gi}, {@code 128M}). */
public final class Quantities {
  private Quantities() {}

  /** CPU in millicores. */
  public static long cpuMillis(String quantity) {
    String q = quantity.trim();
    if (q.isEmpty()) {
      return 0;
    }
    if (q.endsWith("m")) {
      return new BigDecimal(q.substring(0, q.length() - 1)).longValue();
    }
    return new BigDecimal(q).multiply(BigDecimal.valueOf(1000)).longValue();
  }

  /** Memory (or any byte quantity) in bytes. */
  public static long bytes(String quantity) {
    String q = quantity.trim();
    if (q.isEmpty()) {
      return 0;
    }
    String[][] suffixes = {
      {"Ki", "1024"}, {"Mi", "1048576"}, {"Gi", "1073741824"}, {"Ti", "1099511627776"},
      {"k", "1000"}, {"M", "1000000"}, {"G", "1000000000"}, {"T", "1000000000000"}
    };
    for (String[] s : suffixes) {
      if (q.endsWith(s[0])) {
        return new BigDecimal(q.substring(0, q.length() - s[0].length()))
            .multiply(new BigDecimal(s[1]))
            .longValue();
      }
    }
    if (q.endsWith("m")) {
      return new BigDecimal(q.substring(0, q.length() - 1)).longValue() / 1000;
    }
    return new BigDecimal(q).longValue();
  }

  /** The CPU a pod requests (the sum over its containers), as the scheduler counts it. */
  public static long podCpuMillis(JsonNode pod) {
    long total = 0;
    for (JsonNode c : pod.path("spec").path("containers")) {
      total += cpuMillis(request(c, "cpu"));
    }
    return total;
  }

  /** The memory a pod requests, in bytes. */
  public static long podMemoryBytes(JsonNode pod) {
    long total = 0;
    for (JsonNode c : pod.path("spec").path("containers")) {
      total += bytes(request(c, "memory"));
    }
    return total;
  }

  private static String request(JsonNode container, String resource) {
    JsonNode resources = container.path("resources");
    // Limits without requests count as requests, as the API server defaults them.
    JsonNode value = resources.path("requests").path(resource);
    if (value.isMissingNode()) {
      value = resources.path("limits").path(resource);
    }
    return value.asText("");
  }
}
