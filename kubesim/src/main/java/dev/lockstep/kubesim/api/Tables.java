package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The server-side Table format ({@code Accept: application/json;as=Table;v=v1;g=meta.k8s.io}) that
 * {@code kubectl get} asks for, with the columns and cells the API server's printers give pods,
 * StatefulSets, Deployments, ReplicaSets and Jobs (upstream {@code
 * pkg/printers/internalversion/printers.go}). Other types are answered as plain objects, which
 * kubectl prints as NAME and AGE.
 */
public final class Tables {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final String NAME_DOC =
      "Name must be unique within a namespace. Is required when creating resources, although some"
          + " resources may allow a client to request the generation of an appropriate name"
          + " automatically. Name is primarily intended for creation idempotence and configuration"
          + " definition. Cannot be updated. More info:"
          + " http://kubernetes.io/docs/user-guide/identifiers#names";
  private static final String AGE_DOC =
      "CreationTimestamp is a timestamp representing the server time when this object was created."
          + " It is not guaranteed to be set in happens-before order across separate operations."
          + " Clients may not set this value. It is represented in RFC3339 form and is in UTC.";

  private Tables() {}

  /** A column: name, type, priority (1 = only with {@code -o wide}) and description. */
  private record Column(String name, String type, int priority, String description) {}

  /**
   * The Table meta version asked for in an Accept header ({@code v1} or {@code v1beta1}), if the
   * client asks for a Table at all.
   */
  public static Optional<String> requested(String accept) {
    if (accept == null) {
      return Optional.empty();
    }
    for (String mediaType : accept.split(",")) {
      String compact = mediaType.replace(" ", "");
      if (compact.contains("as=Table") && compact.contains("g=meta.k8s.io")) {
        return Optional.of(compact.contains("v=v1beta1") ? "v1beta1" : "v1");
      }
    }
    return Optional.empty();
  }

  /** Whether kubesim prints this type as the API server does. */
  public static boolean supports(ResourceType type) {
    return columns(type) != null;
  }

  /**
   * A list or a single object as a Table.
   *
   * @param includeObject {@code None}, {@code Metadata} (the default) or {@code Object}
   * @param headers whether to include the column definitions (a watch sends them once)
   */
  public static ObjectNode table(
      ResourceType type,
      JsonNode listOrObject,
      String version,
      String includeObject,
      boolean headers,
      Instant now) {
    ObjectNode table = NODES.objectNode();
    table.put("kind", "Table");
    table.put("apiVersion", "meta.k8s.io/" + version);
    ObjectNode metadata = table.putObject("metadata");
    boolean list = listOrObject.has("items");
    String rv =
        list
            ? listOrObject.path("metadata").path("resourceVersion").asText("")
            : listOrObject.path("metadata").path("resourceVersion").asText("");
    if (!rv.isEmpty()) {
      metadata.put("resourceVersion", rv);
    }
    if (headers) {
      ArrayNode definitions = table.putArray("columnDefinitions");
      for (Column c : columns(type)) {
        ObjectNode d = definitions.addObject();
        d.put("name", c.name());
        d.put("type", c.type());
        d.put("format", c.name().equals("Name") ? "name" : "");
        d.put("description", c.description());
        d.put("priority", c.priority());
      }
    } else {
      table.putNull("columnDefinitions");
    }
    ArrayNode rows = table.putArray("rows");
    List<JsonNode> objects = new ArrayList<>();
    if (list) {
      listOrObject.path("items").forEach(objects::add);
    } else {
      objects.add(listOrObject);
    }
    for (JsonNode object : objects) {
      ObjectNode row = rows.addObject();
      ArrayNode cells = row.putArray("cells");
      cells(type, object, now).forEach(cells::add);
      String phase = object.path("status").path("phase").asText("");
      if (type.kind().equals("Pod") && (phase.equals("Succeeded") || phase.equals("Failed"))) {
        row.putArray("conditions")
            .addObject()
            .put("type", "Completed")
            .put("status", "True")
            .put("reason", phase)
            .put(
                "message",
                phase.equals("Failed") ? "The pod failed." : "The pod has completed successfully.");
      }
      switch (includeObject == null ? "Metadata" : includeObject) {
        case "None" -> {}
        case "Object" -> row.set("object", object);
        default -> {
          ObjectNode partial = row.putObject("object");
          partial.put("kind", "PartialObjectMetadata");
          partial.put("apiVersion", "meta.k8s.io/" + version);
          partial.set("metadata", object.path("metadata"));
        }
      }
    }
    return table;
  }

  private static List<Column> columns(ResourceType type) {
    Column name = new Column("Name", "string", 0, NAME_DOC);
    Column age = new Column("Age", "string", 0, AGE_DOC);
    Column containers =
        new Column("Containers", "string", 1, "Names of each container in the template.");
    Column images =
        new Column("Images", "string", 1, "Images referenced by each container in the template.");
    Column selector =
        new Column(
            "Selector",
            "string",
            1,
            "Label selector for pods. Existing pods whose labels match the selector are affected.");
    return switch (type.kind()) {
      case "Pod" ->
          List.of(
              name,
              new Column(
                  "Ready",
                  "string",
                  0,
                  "The aggregate readiness state of this pod for accepting traffic."),
              new Column(
                  "Status", "string", 0, "The aggregate status of the containers in this pod."),
              new Column(
                  "Restarts",
                  "string",
                  0,
                  "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
              age,
              new Column(
                  "IP",
                  "string",
                  1,
                  "IP address allocated to the pod. Routable at least within the cluster."),
              new Column(
                  "Node",
                  "string",
                  1,
                  "NodeName is a request to schedule this pod onto a specific node."),
              new Column(
                  "Nominated Node",
                  "string",
                  1,
                  "nominatedNodeName is set only when this pod preempts other pods on the node."),
              new Column(
                  "Readiness Gates",
                  "string",
                  1,
                  "If specified, all readiness gates will be evaluated for pod readiness."));
      case "StatefulSet" ->
          List.of(
              name,
              new Column("Ready", "string", 0, "Number of the pod with ready state"),
              age,
              containers,
              images);
      case "Deployment" ->
          List.of(
              name,
              new Column("Ready", "string", 0, "Number of the pod with ready state"),
              new Column(
                  "Up-to-date",
                  "string",
                  0,
                  "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
              new Column(
                  "Available",
                  "string",
                  0,
                  "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
              age,
              containers,
              images,
              selector);
      case "ReplicaSet" ->
          List.of(
              name,
              new Column("Desired", "integer", 0, "Replicas is the number of desired replicas."),
              new Column(
                  "Current",
                  "integer",
                  0,
                  "Replicas is the most recently observed number of replicas."),
              new Column(
                  "Ready", "integer", 0, "The number of ready replicas for this replica set."),
              age,
              containers,
              images,
              selector);
      case "Job" ->
          List.of(
              name,
              new Column(
                  "Completions",
                  "string",
                  0,
                  "The desired number of successfully finished pods the job should be run with."),
              new Column("Duration", "string", 0, "Time required to complete the job."),
              age,
              containers,
              images,
              selector);
      default -> null;
    };
  }

  private static List<JsonNode> cells(ResourceType type, JsonNode o, Instant now) {
    List<JsonNode> cells = new ArrayList<>();
    cells.add(NODES.textNode(o.path("metadata").path("name").asText()));
    JsonNode spec = o.path("spec");
    JsonNode status = o.path("status");
    String age = since(o.path("metadata").path("creationTimestamp").asText(""), now);
    switch (type.kind()) {
      case "Pod" -> podCells(o, now, age, cells);
      case "StatefulSet" -> {
        cells.add(
            text(status.path("readyReplicas").asInt(0) + "/" + spec.path("replicas").asInt(1)));
        cells.add(text(age));
        addTemplate(spec, cells, false);
      }
      case "Deployment" -> {
        cells.add(
            text(status.path("readyReplicas").asInt(0) + "/" + spec.path("replicas").asInt(1)));
        cells.add(NODES.numberNode(status.path("updatedReplicas").asLong(0)));
        cells.add(NODES.numberNode(status.path("availableReplicas").asLong(0)));
        cells.add(text(age));
        addTemplate(spec, cells, true);
      }
      case "ReplicaSet" -> {
        cells.add(NODES.numberNode(spec.path("replicas").asLong(1)));
        cells.add(NODES.numberNode(status.path("replicas").asLong(0)));
        cells.add(NODES.numberNode(status.path("readyReplicas").asLong(0)));
        cells.add(text(age));
        addTemplate(spec, cells, true);
      }
      case "Job" -> {
        int succeeded = status.path("succeeded").asInt(0);
        String completions;
        if (spec.has("completions") && !spec.get("completions").isNull()) {
          completions = succeeded + "/" + spec.path("completions").asInt();
        } else {
          int parallelism = spec.path("parallelism").asInt(0);
          completions = parallelism > 1 ? succeeded + "/1 of " + parallelism : succeeded + "/1";
        }
        cells.add(text(completions));
        String start = status.path("startTime").asText("");
        String end = status.path("completionTime").asText("");
        String duration = "";
        if (!start.isEmpty()) {
          Instant to = end.isEmpty() ? now : Instant.parse(end);
          duration = human(Duration.between(Instant.parse(start), to));
        }
        cells.add(text(duration));
        cells.add(text(age));
        addTemplate(spec, cells, true);
      }
      default -> cells.add(text(age));
    }
    return cells;
  }

  /** Upstream's printPod: READY, STATUS (the first waiting or terminated reason), RESTARTS, AGE. */
  private static void podCells(JsonNode pod, Instant now, String age, List<JsonNode> cells) {
    JsonNode status = pod.path("status");
    int total = pod.path("spec").path("containers").size();
    int ready = 0;
    int restarts = 0;
    Instant lastRestart = null;
    String reason = status.path("phase").asText("");
    if (!status.path("reason").asText("").isEmpty()) {
      reason = status.path("reason").asText();
    }
    JsonNode statuses = status.path("containerStatuses");
    boolean hasRunning = false;
    for (int i = statuses.size() - 1; i >= 0; i--) {
      JsonNode c = statuses.get(i);
      restarts += c.path("restartCount").asInt(0);
      String finished = c.path("lastState").path("terminated").path("finishedAt").asText("");
      if (!finished.isEmpty()) {
        Instant at = Instant.parse(finished);
        if (lastRestart == null || at.isAfter(lastRestart)) {
          lastRestart = at;
        }
      }
      JsonNode state = c.path("state");
      if (!state.path("waiting").path("reason").asText("").isEmpty()) {
        reason = state.path("waiting").path("reason").asText();
      } else if (!state.path("terminated").path("reason").asText("").isEmpty()) {
        reason = state.path("terminated").path("reason").asText();
      } else if (state.has("terminated")) {
        int signal = state.path("terminated").path("signal").asInt(0);
        reason =
            signal != 0
                ? "Signal:" + signal
                : "ExitCode:" + state.path("terminated").path("exitCode").asInt(0);
      } else if (c.path("ready").asBoolean(false) && state.has("running")) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason.equals("Completed") && hasRunning) {
      reason = podReady(pod) ? "Running" : "NotReady";
    }
    if (pod.path("metadata").has("deletionTimestamp")) {
      reason = "Terminating";
    }
    cells.add(text(ready + "/" + total));
    cells.add(text(reason));
    String restartText = Integer.toString(restarts);
    if (restarts != 0 && lastRestart != null) {
      restartText = restarts + " (" + human(Duration.between(lastRestart, now)) + " ago)";
    }
    cells.add(text(restartText));
    cells.add(text(age));
    cells.add(text(orNone(status.path("podIP").asText(""))));
    cells.add(text(orNone(pod.path("spec").path("nodeName").asText(""))));
    cells.add(text(orNone(status.path("nominatedNodeName").asText(""))));
    JsonNode gates = pod.path("spec").path("readinessGates");
    if (gates.isArray() && !gates.isEmpty()) {
      int passed = 0;
      for (JsonNode gate : gates) {
        for (JsonNode condition : status.path("conditions")) {
          if (condition.path("type").asText().equals(gate.path("conditionType").asText())
              && condition.path("status").asText().equals("True")) {
            passed++;
          }
        }
      }
      cells.add(text(passed + "/" + gates.size()));
    } else {
      cells.add(text("<none>"));
    }
  }

  private static boolean podReady(JsonNode pod) {
    for (JsonNode condition : pod.path("status").path("conditions")) {
      if (condition.path("type").asText().equals("Ready")) {
        return condition.path("status").asText().equals("True");
      }
    }
    return false;
  }

  private static void addTemplate(JsonNode spec, List<JsonNode> cells, boolean withSelector) {
    List<String> names = new ArrayList<>();
    List<String> images = new ArrayList<>();
    for (JsonNode c : spec.path("template").path("spec").path("containers")) {
      names.add(c.path("name").asText());
      images.add(c.path("image").asText());
    }
    cells.add(text(String.join(",", names)));
    cells.add(text(String.join(",", images)));
    if (withSelector) {
      cells.add(text(selector(spec.path("selector"))));
    }
  }

  /** A label selector as {@code metav1.FormatLabelSelector} writes it. */
  private static String selector(JsonNode selector) {
    if (!selector.isObject() || selector.isEmpty()) {
      return "<none>";
    }
    Map<String, String> parts = new TreeMap<>();
    selector
        .path("matchLabels")
        .properties()
        .forEach(e -> parts.put(e.getKey(), e.getKey() + "=" + e.getValue().asText()));
    for (JsonNode expression : selector.path("matchExpressions")) {
      String key = expression.path("key").asText();
      List<String> values = new ArrayList<>();
      expression.path("values").forEach(v -> values.add(v.asText()));
      values.sort(null);
      String text =
          switch (expression.path("operator").asText()) {
            case "In" -> key + " in (" + String.join(",", values) + ")";
            case "NotIn" -> key + " notin (" + String.join(",", values) + ")";
            case "Exists" -> key;
            case "DoesNotExist" -> "!" + key;
            default -> key;
          };
      parts.merge(key, text, (a, b) -> a + "," + b);
    }
    String result = String.join(",", parts.values());
    return result.isEmpty() ? "<none>" : result;
  }

  private static String orNone(String value) {
    return value.isEmpty() ? "<none>" : value;
  }

  private static JsonNode text(String value) {
    return NODES.textNode(value);
  }

  private static String since(String timestamp, Instant now) {
    if (timestamp.isEmpty()) {
      return "<unknown>";
    }
    return human(Duration.between(Instant.parse(timestamp), now));
  }

  /** {@code duration.HumanDuration}: 45s, 3m20s, 25m, 5h10m, 30h, 3d4h, 20d, 2y10d. */
  static String human(Duration d) {
    long seconds = d.getSeconds();
    if (seconds < -1) {
      return "<invalid>";
    }
    if (seconds < 0) {
      return "0s";
    }
    if (seconds < 120) {
      return seconds + "s";
    }
    long minutes = seconds / 60;
    if (minutes < 10) {
      long s = seconds % 60;
      return s == 0 ? minutes + "m" : minutes + "m" + s + "s";
    }
    if (minutes < 180) {
      return minutes + "m";
    }
    long hours = seconds / 3600;
    if (hours < 8) {
      long m = minutes % 60;
      return m == 0 ? hours + "h" : hours + "h" + m + "m";
    }
    if (hours < 48) {
      return hours + "h";
    }
    if (hours < 24 * 8) {
      long h = hours % 24;
      return h == 0 ? (hours / 24) + "d" : (hours / 24) + "d" + h + "h";
    }
    if (hours < 24 * 365 * 2) {
      return (hours / 24) + "d";
    }
    if (hours < 24 * 365 * 8) {
      long dy = (hours / 24) % 365;
      return dy == 0 ? (hours / 24 / 365) + "y" : (hours / 24 / 365) + "y" + dy + "d";
    }
    return (hours / 24 / 365) + "y";
  }
}
