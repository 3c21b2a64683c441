package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ResourceType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The endpoints and EndpointSlice controllers, after upstream's: for every Service with a selector,
 * the pods it selects that have an IP and are not being deleted become its endpoints, ready when
 * the pod is Ready. They are written as the Service's {@code Endpoints} ({@code addresses} and
 * {@code notReadyAddresses}) and as EndpointSlices ({@code <service>-<random>}, labels {@code
 * kubernetes.io/service-name} and {@code endpointslice.kubernetes.io/managed-by}, owned by the
 * Service, one slice per distinct set of resolved ports), so a test sees where traffic would go. A
 * named {@code targetPort} is resolved against each pod's container ports.
 */
public final class EndpointsController implements Controller {
  static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
  static final String MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
  static final String MANAGED_BY = "endpointslice-controller.k8s.io";

  private final Cluster cluster;
  private final ResourceType services = Cluster.type("", "services");
  private final ResourceType endpoints = Cluster.type("", "endpoints");
  private final ResourceType slices = Cluster.type("discovery.k8s.io", "endpointslices");
  private final ResourceType pods = Cluster.type("", "pods");

  public EndpointsController(Cluster cluster) {
    this.cluster = cluster;
  }

  @Override
  public String name() {
    return "endpoints";
  }

  @Override
  public List<Key> keysFor(ResourceType type, ObjectNode object, boolean deleted) {
    if (type.equals(services)) {
      return List.of(Key.of(object));
    }
    if (type.equals(pods)) {
      String namespace = object.path("metadata").path("namespace").asText();
      Map<String, String> labels = Cluster.labels(object);
      List<Key> keys = new ArrayList<>();
      cluster.forEach(
          services,
          namespace,
          svc -> {
            if (selects(svc, labels)) {
              keys.add(Key.of(svc));
            }
          });
      return keys;
    }
    return List.of();
  }

  @Override
  public List<Key> resyncKeys() {
    List<Key> keys = new ArrayList<>();
    cluster.forEach(services, null, svc -> keys.add(Key.of(svc)));
    return keys;
  }

  private static boolean selects(JsonNode service, Map<String, String> labels) {
    JsonNode selector = service.path("spec").path("selector");
    if (!selector.isObject() || selector.isEmpty()) {
      return false;
    }
    for (Map.Entry<String, JsonNode> e : selector.properties()) {
      if (!e.getValue().asText().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /** One endpoint: a pod with its resolved ports. */
  private record Endpoint(ObjectNode pod, boolean ready, List<ObjectNode> ports) {}

  @Override
  public void reconcile(Key key, Requeue requeue) {
    ObjectNode svc = cluster.get(services, key.namespace(), key.name()).orElse(null);
    if (svc == null) {
      // The Service is gone: so is its Endpoints (its slices go with their owner).
      cluster.delete(endpoints, key.namespace(), key.name());
      return;
    }
    JsonNode selector = svc.path("spec").path("selector");
    if (!selector.isObject() || selector.isEmpty()) {
      return; // Endpoints of a Service without a selector are the user's to write.
    }
    List<Endpoint> found = new ArrayList<>();
    List<ObjectNode> selected = new ArrayList<>();
    for (ObjectNode pod : cluster.list(pods, key.namespace())) {
      if (selects(svc, Cluster.labels(pod))) {
        selected.add(pod);
      }
    }
    selected.sort(Comparator.comparing(p -> p.path("metadata").path("name").asText()));
    boolean publishNotReady = svc.path("spec").path("publishNotReadyAddresses").asBoolean(false);
    for (ObjectNode pod : selected) {
      String phase = pod.path("status").path("phase").asText("");
      if (pod.path("status").path("podIP").asText("").isEmpty()
          || pod.path("metadata").has("deletionTimestamp")
          || phase.equals("Succeeded")
          || phase.equals("Failed")) {
        continue;
      }
      boolean ready = publishNotReady || ReplicaSetController.isReady(pod);
      found.add(new Endpoint(pod, ready, ports(svc, pod)));
    }
    writeEndpoints(svc, found);
    writeSlices(svc, found);
  }

  /** The Service's ports as this pod serves them (upstream's {@code FindPort}). */
  private static List<ObjectNode> ports(JsonNode svc, JsonNode pod) {
    List<ObjectNode> result = new ArrayList<>();
    for (JsonNode servicePort : svc.path("spec").path("ports")) {
      JsonNode target = servicePort.path("targetPort");
      int number = -1;
      if (target.isNumber()) {
        number = target.asInt();
      } else if (target.isTextual()) {
        String wanted = target.asText();
        if (wanted.matches("[0-9]+")) {
          number = Integer.parseInt(wanted);
        } else {
          for (JsonNode c : pod.path("spec").path("containers")) {
            for (JsonNode p : c.path("ports")) {
              if (wanted.equals(p.path("name").asText())) {
                number = p.path("containerPort").asInt();
              }
            }
          }
        }
      } else {
        number = servicePort.path("port").asInt();
      }
      if (number < 0) {
        continue; // the pod does not serve this named port
      }
      ObjectNode port = Cluster.JSON.createObjectNode();
      port.put("name", servicePort.path("name").asText(""));
      port.put("port", number);
      port.put("protocol", servicePort.path("protocol").asText("TCP"));
      result.add(port);
    }
    return result;
  }

  private static ObjectNode targetRef(JsonNode pod) {
    ObjectNode ref = Cluster.JSON.createObjectNode();
    ref.put("kind", "Pod");
    ref.put("namespace", pod.path("metadata").path("namespace").asText());
    ref.put("name", pod.path("metadata").path("name").asText());
    ref.put("uid", pod.path("metadata").path("uid").asText());
    return ref;
  }

  private static Map<List<ObjectNode>, List<Endpoint>> byPorts(List<Endpoint> found) {
    Map<List<ObjectNode>, List<Endpoint>> groups = new LinkedHashMap<>();
    for (Endpoint e : found) {
      groups.computeIfAbsent(e.ports(), k -> new ArrayList<>()).add(e);
    }
    return groups;
  }

  private void writeEndpoints(ObjectNode svc, List<Endpoint> found) {
    String namespace = svc.path("metadata").path("namespace").asText();
    String name = svc.path("metadata").path("name").asText();
    ArrayNode subsets = Cluster.JSON.createArrayNode();
    for (Map.Entry<List<ObjectNode>, List<Endpoint>> group : byPorts(found).entrySet()) {
      ObjectNode subset = Cluster.JSON.createObjectNode();
      for (Endpoint e : group.getValue()) {
        ObjectNode address =
            subset.withArray(e.ready() ? "addresses" : "notReadyAddresses").addObject();
        address.put("ip", e.pod().path("status").path("podIP").asText());
        String node = e.pod().path("spec").path("nodeName").asText("");
        if (!node.isEmpty()) {
          address.put("nodeName", node);
        }
        address.set("targetRef", targetRef(e.pod()));
      }
      ArrayNode ports = subset.putArray("ports");
      group.getKey().forEach(p -> ports.add(p.deepCopy()));
      subsets.add(subset);
    }
    ObjectNode existing = cluster.get(endpoints, namespace, name).orElse(null);
    ObjectNode desired = existing != null ? existing.deepCopy() : Cluster.JSON.createObjectNode();
    ObjectNode metadata = desired.with("metadata");
    metadata.put("name", name);
    metadata.put("namespace", namespace);
    JsonNode labels = svc.path("metadata").path("labels");
    if (labels.isObject() && !labels.isEmpty()) {
      metadata.set("labels", labels.deepCopy());
    } else {
      metadata.remove("labels");
    }
    if (subsets.isEmpty()) {
      desired.remove("subsets");
    } else {
      desired.set("subsets", subsets);
    }
    if (existing == null) {
      cluster.create(endpoints, namespace, desired);
    } else if (!desired.equals(existing)) {
      cluster.update(endpoints, desired);
    }
  }

  private void writeSlices(ObjectNode svc, List<Endpoint> found) {
    String namespace = svc.path("metadata").path("namespace").asText();
    String name = svc.path("metadata").path("name").asText();
    List<ObjectNode> existing = new ArrayList<>();
    for (ObjectNode slice :
        cluster.owned(slices, namespace, svc.path("metadata").path("uid").asText())) {
      if (MANAGED_BY.equals(Cluster.labels(slice).get(MANAGED_BY_LABEL))) {
        existing.add(slice);
      }
    }
    existing.sort(Comparator.comparing(s -> s.path("metadata").path("name").asText()));
    List<ObjectNode> desired = new ArrayList<>();
    Map<List<ObjectNode>, List<Endpoint>> groups = byPorts(found);
    if (groups.isEmpty()) {
      // A Service with no endpoints still has one (empty) slice, with its ports.
      groups.put(ports(svc, Cluster.JSON.createObjectNode()), List.of());
    }
    for (Map.Entry<List<ObjectNode>, List<Endpoint>> group : groups.entrySet()) {
      ObjectNode slice = Cluster.JSON.createObjectNode();
      slice.put("addressType", "IPv4");
      ArrayNode list = slice.putArray("endpoints");
      for (Endpoint e : group.getValue()) {
        ObjectNode endpoint = list.addObject();
        endpoint.putArray("addresses").add(e.pod().path("status").path("podIP").asText());
        ObjectNode conditions = endpoint.putObject("conditions");
        conditions.put("ready", e.ready());
        conditions.put("serving", e.ready());
        conditions.put("terminating", false);
        endpoint.set("targetRef", targetRef(e.pod()));
        String node = e.pod().path("spec").path("nodeName").asText("");
        if (!node.isEmpty()) {
          endpoint.put("nodeName", node);
        }
      }
      ArrayNode ports = slice.putArray("ports");
      for (ObjectNode p : group.getKey()) {
        // In the order the API serialises an EndpointSlice's ports.
        ports
            .addObject()
            .put("name", p.path("name").asText())
            .put("protocol", p.path("protocol").asText())
            .put("port", p.path("port").asInt());
      }
      desired.add(slice);
    }
    for (int i = 0; i < desired.size(); i++) {
      ObjectNode want = desired.get(i);
      if (i < existing.size()) {
        ObjectNode have = existing.get(i);
        ObjectNode updated = have.deepCopy();
        updated.set("addressType", want.get("addressType"));
        updated.set("endpoints", want.get("endpoints"));
        updated.set("ports", want.get("ports"));
        if (!updated.equals(have)) {
          cluster.update(slices, updated);
        }
        continue;
      }
      ObjectNode metadata = want.putObject("metadata");
      metadata.put("generateName", name + "-");
      metadata.put("namespace", namespace);
      ObjectNode labels = metadata.putObject("labels");
      svc.path("metadata")
          .path("labels")
          .properties()
          .forEach(e -> labels.set(e.getKey(), e.getValue()));
      labels.put(SERVICE_NAME_LABEL, name);
      labels.put(MANAGED_BY_LABEL, MANAGED_BY);
      Cluster.setOwner(want, services, svc);
      cluster.create(slices, namespace, want);
    }
    for (int i = desired.size(); i < existing.size(); i++) {
      cluster.delete(slices, namespace, existing.get(i).path("metadata").path("name").asText());
    }
  }
}
