package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Conversion between a type's stored version and the older versions it is also served in. Only
 * EndpointSlices have one: {@code discovery.k8s.io/v1beta1} (all a v1.20 server serves) names an
 * endpoint's node and zone in {@code topology} where v1 has {@code nodeName} and {@code zone}, and
 * knows only the {@code ready} condition.
 */
final class Conversions {
  private static final String HOSTNAME = "kubernetes.io/hostname";
  private static final String ZONE = "topology.kubernetes.io/zone";

  private Conversions() {}

  /** A request body in the path's version, as the stored version. */
  static String in(ApiPath p, String body) {
    if (!p.converted() || body == null || body.isBlank()) {
      return body;
    }
    JsonNode node;
    try {
      node = Store.JSON.readTree(body);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      return body; // the API server's own parsing reports it
    }
    if (!node.isObject()) {
      return body;
    }
    ObjectNode object = (ObjectNode) node;
    if (object.has("apiVersion")) {
      object.put("apiVersion", p.type().apiVersion());
    }
    for (JsonNode endpoint : object.path("endpoints")) {
      if (endpoint.isObject()) {
        ObjectNode e = (ObjectNode) endpoint;
        JsonNode topology = e.path("topology");
        if (topology.has(HOSTNAME)) {
          e.set("nodeName", topology.get(HOSTNAME));
        }
        if (topology.has(ZONE)) {
          e.set("zone", topology.get(ZONE));
        }
        e.remove("topology");
      }
    }
    return object.toString();
  }

  /** An answer (an object, a list or a watch event's object) in the path's version. */
  static JsonNode out(ApiPath p, JsonNode node) {
    if (!p.converted() || !node.isObject()) {
      return node;
    }
    ObjectNode object = (ObjectNode) node;
    String kind = object.path("kind").asText();
    if (kind.equals(p.type().kind() + "List")) {
      object.put("apiVersion", apiVersion(p));
      object.path("items").forEach(item -> out(p, item));
      return object;
    }
    if (!kind.equals(p.type().kind())) {
      return object; // a Status
    }
    object.put("apiVersion", apiVersion(p));
    for (JsonNode endpoint : object.path("endpoints")) {
      if (!endpoint.isObject()) {
        continue;
      }
      ObjectNode e = (ObjectNode) endpoint;
      ObjectNode topology = e.objectNode();
      if (e.has("nodeName")) {
        topology.set(HOSTNAME, e.remove("nodeName"));
      }
      if (e.has("zone")) {
        topology.set(ZONE, e.remove("zone"));
      }
      if (!topology.isEmpty()) {
        e.set("topology", topology);
      }
      e.remove("hints");
      e.remove("deprecatedTopology");
      JsonNode conditions = e.path("conditions");
      if (conditions.isObject()) {
        ((ObjectNode) conditions).retain("ready");
      }
    }
    return object;
  }

  private static String apiVersion(ApiPath p) {
    return p.type().group() + "/" + p.version();
  }
}
