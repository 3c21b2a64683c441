package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Defaulting and validation, as the API server's registry strategies do them, for what kubesim's
 * clients rely on: names, StatefulSet defaults and immutable fields, Pod and Job defaults.
 */
final class Admission {
  private static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final String SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Spec fields of a StatefulSet that an update may change; everything else is immutable. */
  private static final Set<String> STS_MUTABLE =
      Set.of(
          "replicas",
          "ordinals",
          "template",
          "updateStrategy",
          "persistentVolumeClaimRetentionPolicy",
          "minReadySeconds",
          "revisionHistoryLimit");

  static final String STS_FORBIDDEN =
      "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals',"
          + " 'template', 'updateStrategy', 'revisionHistoryLimit',"
          + " 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

  private Admission() {}

  /** A name from generateName, with the API server's five-character random suffix. */
  static String generateName(String prefix) {
    StringBuilder name = new StringBuilder(prefix);
    for (int i = 0; i < 5; i++) {
      name.append(SAFE_ALPHABET.charAt(RANDOM.nextInt(SAFE_ALPHABET.length())));
    }
    return name.toString();
  }

  /** Defaults and validates an object about to be created; returns its name. */
  static String admitCreate(ResourceType type, ObjectNode object) {
    ObjectNode metadata = object.with("metadata");
    String name = metadata.path("name").asText("");
    if (name.isEmpty()) {
      String prefix = metadata.path("generateName").asText("");
      if (prefix.isEmpty()) {
        throw ApiException.invalid(
            type, "", "metadata.name: Required value: name or generateName is required");
      }
      name = generateName(prefix);
      metadata.put("name", name);
    }
    validateName(type, name);
    object.put("apiVersion", type.apiVersion());
    object.put("kind", type.kind());
    switch (type.kind()) {
      case "StatefulSet" -> {
        defaultStatefulSet(object);
        validateStatefulSet(type, name, object);
      }
      case "Deployment" -> {
        defaultDeployment(object);
        validateDeployment(type, name, object);
      }
      case "ReplicaSet" -> {
        defaultReplicaSet(object);
        validatePodTemplate(type, name, object.path("spec"));
      }
      case "Service" -> defaultService(object, null);
      case "Pod" -> defaultPod(object);
      case "Job" -> defaultJob(type, name, object);
      default -> {}
    }
    return name;
  }

  /** Defaults and validates an update of the main resource against the stored object. */
  static void admitUpdate(ResourceType type, ObjectNode current, ObjectNode updated) {
    String name = current.path("metadata").path("name").asText();
    String newName = updated.path("metadata").path("name").asText(name);
    if (!newName.equals(name)) {
      throw ApiException.badRequest(
          "the name of the object ("
              + newName
              + ") does not match the name on the URL ("
              + name
              + ")");
    }
    updated.with("metadata").put("name", name);
    updated.put("apiVersion", type.apiVersion());
    updated.put("kind", type.kind());
    switch (type.kind()) {
      case "StatefulSet" -> {
        defaultStatefulSet(updated);
        validateStatefulSet(type, name, updated);
        JsonNode oldSpec = current.path("spec");
        JsonNode newSpec = updated.path("spec");
        if (!immutablePart(oldSpec).equals(immutablePart(newSpec))) {
          throw ApiException.invalid(type, name, STS_FORBIDDEN);
        }
      }
      case "Deployment", "ReplicaSet" -> {
        if (type.kind().equals("Deployment")) {
          defaultDeployment(updated);
          validateDeployment(type, name, updated);
        } else {
          defaultReplicaSet(updated);
          validatePodTemplate(type, name, updated.path("spec"));
        }
        JsonNode oldSelector = current.path("spec").path("selector");
        JsonNode newSelector = updated.path("spec").path("selector");
        if (!oldSelector.equals(newSelector)) {
          throw ApiException.invalid(
              type, name, "spec.selector: Invalid value: " + newSelector + ": field is immutable");
        }
      }
      case "Service" -> defaultService(updated, current);
      case "Pod" -> {
        defaultPod(updated);
        validatePodUpdate(type, name, current, updated);
      }
      case "Job" -> {
        for (String field : new String[] {"selector", "template", "completions"}) {
          if (!current.path("spec").path(field).equals(updated.path("spec").path(field))) {
            throw ApiException.invalid(
                type, name, "spec." + field + ": Invalid value: field is immutable");
          }
        }
      }
      default -> {}
    }
  }

  private static void validateName(ResourceType type, String name) {
    boolean label = type.kind().equals("Namespace") || type.kind().equals("Service");
    int max = label ? 63 : 253;
    Pattern pattern = label ? DNS_LABEL : DNS_SUBDOMAIN;
    if (name.length() > max || !pattern.matcher(name).matches()) {
      String what = label ? "RFC 1123 label" : "RFC 1123 subdomain";
      throw ApiException.invalid(
          type,
          name,
          "metadata.name: Invalid value: \""
              + name
              + "\": a lowercase "
              + what
              + " must consist of lower case alphanumeric characters, '-' or '.', and must start"
              + " and end with an alphanumeric character (at most "
              + max
              + " characters)");
    }
  }

  private static Map<String, JsonNode> immutablePart(JsonNode spec) {
    Map<String, JsonNode> fields = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = spec.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      if (field.getKey().equals("volumeClaimTemplates") && field.getValue().isArray()) {
        // The API server ignores the type of an embedded claim template (conversion carries only
        // its metadata, spec and status): a typed client that fills in apiVersion/kind does not
        // change it.
        com.fasterxml.jackson.databind.node.ArrayNode claims =
            ((com.fasterxml.jackson.databind.node.ArrayNode) field.getValue()).deepCopy();
        claims.forEach(
            claim -> {
              if (claim instanceof ObjectNode object) {
                object.remove("apiVersion");
                object.remove("kind");
              }
            });
        fields.put(field.getKey(), claims);
      } else if (!STS_MUTABLE.contains(field.getKey())) {
        fields.put(field.getKey(), field.getValue());
      }
    }
    return fields;
  }

  static void defaultStatefulSet(ObjectNode sts) {
    ObjectNode spec = sts.with("spec");
    if (!spec.has("replicas") || spec.get("replicas").isNull()) {
      spec.put("replicas", 1);
    }
    if (!spec.hasNonNull("podManagementPolicy")) {
      spec.put("podManagementPolicy", "OrderedReady");
    }
    ObjectNode strategy = spec.with("updateStrategy");
    if (!strategy.hasNonNull("type")) {
      strategy.put("type", "RollingUpdate");
    }
    if ("RollingUpdate".equals(strategy.path("type").asText())) {
      ObjectNode rolling = strategy.with("rollingUpdate");
      if (!rolling.hasNonNull("partition")) {
        rolling.put("partition", 0);
      }
    }
    if (!spec.hasNonNull("revisionHistoryLimit")) {
      spec.put("revisionHistoryLimit", 10);
    }
    ObjectNode retention = spec.with("persistentVolumeClaimRetentionPolicy");
    if (!retention.hasNonNull("whenDeleted")) {
      retention.put("whenDeleted", "Retain");
    }
    if (!retention.hasNonNull("whenScaled")) {
      retention.put("whenScaled", "Retain");
    }
    JsonNode template = spec.path("template");
    if (template.isObject()) {
      defaultPodSpec(((ObjectNode) template).with("spec"));
    }
  }

  private static final java.util.concurrent.atomic.AtomicInteger NEXT_CLUSTER_IP =
      new java.util.concurrent.atomic.AtomicInteger(10);

  /**
   * Service defaults: type ClusterIP with an address from 10.96.0.0/12 (kept on update), session
   * affinity None, single-stack IPv4, ports TCP with targetPort = port.
   */
  private static void defaultService(ObjectNode service, ObjectNode current) {
    ObjectNode spec = service.with("spec");
    if (!spec.hasNonNull("type")) {
      spec.put("type", "ClusterIP");
    }
    if (!spec.hasNonNull("sessionAffinity")) {
      spec.put("sessionAffinity", "None");
    }
    JsonNode kept = current == null ? null : current.path("spec").get("clusterIP");
    if (!spec.hasNonNull("clusterIP")) {
      if (kept != null) {
        spec.set("clusterIP", kept);
      } else if (!spec.path("type").asText().equals("ExternalName")) {
        int n = NEXT_CLUSTER_IP.getAndIncrement();
        spec.put("clusterIP", "10.96." + ((n >> 8) & 0xff) + "." + (n & 0xff));
      }
    }
    if (spec.hasNonNull("clusterIP") && !spec.has("clusterIPs")) {
      spec.putArray("clusterIPs").add(spec.get("clusterIP").asText());
    }
    if (!spec.has("ipFamilies") && !"None".equals(spec.path("clusterIP").asText())) {
      spec.putArray("ipFamilies").add("IPv4");
    }
    if (!spec.hasNonNull("ipFamilyPolicy")) {
      spec.put("ipFamilyPolicy", "SingleStack");
    }
    for (JsonNode port : spec.path("ports")) {
      if (port.isObject()) {
        ObjectNode p = (ObjectNode) port;
        if (!p.hasNonNull("protocol")) {
          p.put("protocol", "TCP");
        }
        if (!p.hasNonNull("targetPort") && p.has("port")) {
          p.set("targetPort", p.get("port"));
        }
      }
    }
  }

  /** Deployment defaults (apps/v1 {@code SetDefaults_Deployment}). */
  static void defaultDeployment(ObjectNode deployment) {
    ObjectNode spec = deployment.with("spec");
    if (!spec.hasNonNull("replicas")) {
      spec.put("replicas", 1);
    }
    ObjectNode strategy = spec.with("strategy");
    if (!strategy.hasNonNull("type")) {
      strategy.put("type", "RollingUpdate");
    }
    if ("RollingUpdate".equals(strategy.path("type").asText())) {
      ObjectNode rolling = strategy.with("rollingUpdate");
      if (!rolling.hasNonNull("maxUnavailable")) {
        rolling.put("maxUnavailable", "25%");
      }
      if (!rolling.hasNonNull("maxSurge")) {
        rolling.put("maxSurge", "25%");
      }
    }
    if (!spec.hasNonNull("revisionHistoryLimit")) {
      spec.put("revisionHistoryLimit", 10);
    }
    if (!spec.hasNonNull("progressDeadlineSeconds")) {
      spec.put("progressDeadlineSeconds", 600);
    }
    JsonNode template = spec.path("template");
    if (template.isObject()) {
      defaultPodSpec(((ObjectNode) template).with("spec"));
    }
  }

  private static void defaultReplicaSet(ObjectNode rs) {
    ObjectNode spec = rs.with("spec");
    if (!spec.hasNonNull("replicas")) {
      spec.put("replicas", 1);
    }
    JsonNode template = spec.path("template");
    if (template.isObject()) {
      defaultPodSpec(((ObjectNode) template).with("spec"));
    }
  }

  private static void validateDeployment(ResourceType type, String name, ObjectNode deployment) {
    JsonNode spec = deployment.path("spec");
    validatePodTemplate(type, name, spec);
    JsonNode strategy = spec.path("strategy");
    String strategyType = strategy.path("type").asText();
    if (!strategyType.equals("RollingUpdate") && !strategyType.equals("Recreate")) {
      throw ApiException.invalid(
          type,
          name,
          "spec.strategy.type: Unsupported value: \""
              + strategyType
              + "\": supported values: \"Recreate\", \"RollingUpdate\"");
    }
    if (strategyType.equals("Recreate")) {
      if (strategy.has("rollingUpdate") && !strategy.get("rollingUpdate").isNull()) {
        throw ApiException.invalid(
            type,
            name,
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is"
                + " 'Recreate'");
      }
    } else {
      JsonNode rolling = strategy.path("rollingUpdate");
      int unavailable = intOrPercent(type, name, rolling, "maxUnavailable");
      int surge = intOrPercent(type, name, rolling, "maxSurge");
      if (unavailable == 0 && surge == 0) {
        throw ApiException.invalid(
            type,
            name,
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "
                + rolling.path("maxUnavailable")
                + ": may not be 0 when `maxSurge` is 0");
      }
    }
    int minReady = spec.path("minReadySeconds").asInt(0);
    if (minReady < 0) {
      throw ApiException.invalid(
          type,
          name,
          "spec.minReadySeconds: Invalid value: "
              + minReady
              + ": must be greater than or equal to 0");
    }
    JsonNode deadline = spec.path("progressDeadlineSeconds");
    if (deadline.canConvertToInt() && deadline.asInt() <= minReady) {
      throw ApiException.invalid(
          type,
          name,
          "spec.progressDeadlineSeconds: Invalid value: "
              + deadline.asInt()
              + ": must be greater than minReadySeconds");
    }
    if (spec.path("revisionHistoryLimit").asInt(0) < 0) {
      throw ApiException.invalid(
          type,
          name,
          "spec.revisionHistoryLimit: Invalid value: "
              + spec.path("revisionHistoryLimit").asInt()
              + ": must be greater than or equal to 0");
    }
  }

  /** maxSurge or maxUnavailable: a non-negative int or a percentage (at most 100% unavailable). */
  private static int intOrPercent(ResourceType type, String name, JsonNode rolling, String field) {
    JsonNode value = rolling.path(field);
    String path = "spec.strategy.rollingUpdate." + field;
    if (value.isNumber()) {
      if (value.asInt() < 0) {
        throw ApiException.invalid(
            type,
            name,
            path + ": Invalid value: " + value.asInt() + ": must be greater than or equal to 0");
      }
      return value.asInt();
    }
    String text = value.asText("");
    if (!text.matches("[0-9]+%")) {
      throw ApiException.invalid(
          type,
          name,
          path
              + ": Invalid value: \""
              + text
              + "\": a valid percent string must be a numeric string followed by an ending '%'");
    }
    int percent = Integer.parseInt(text.substring(0, text.length() - 1));
    if (field.equals("maxUnavailable") && percent > 100) {
      throw ApiException.invalid(
          type, name, path + ": Invalid value: \"" + text + "\": must not be greater than 100%");
    }
    return percent;
  }

  /** replicas, a selector that selects the template's labels, containers with names and images. */
  private static void validatePodTemplate(ResourceType type, String name, JsonNode spec) {
    if (spec.path("replicas").asInt() < 0) {
      throw ApiException.invalid(
          type,
          name,
          "spec.replicas: Invalid value: "
              + spec.path("replicas").asInt()
              + ": must be greater than or equal to 0");
    }
    JsonNode selector = spec.path("selector");
    if (selector.isMissingNode() || selector.isNull() || selector.isEmpty()) {
      throw ApiException.invalid(type, name, "spec.selector: Required value");
    }
    Map<String, String> labels = new HashMap<>();
    spec.path("template")
        .path("metadata")
        .path("labels")
        .fields()
        .forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
    if (!Selectors.matches(selector, labels)) {
      throw ApiException.invalid(
          type,
          name,
          "spec.template.metadata.labels: Invalid value: "
              + labels
              + ": `selector` does not match template `labels`");
    }
    JsonNode containers = spec.path("template").path("spec").path("containers");
    if (!containers.isArray() || containers.isEmpty()) {
      throw ApiException.invalid(type, name, "spec.template.spec.containers: Required value");
    }
    for (int i = 0; i < containers.size(); i++) {
      JsonNode container = containers.get(i);
      if (container.path("name").asText("").isEmpty()) {
        throw ApiException.invalid(
            type, name, "spec.template.spec.containers[" + i + "].name: Required value");
      }
      if (container.path("image").asText("").isBlank()) {
        throw ApiException.invalid(
            type, name, "spec.template.spec.containers[" + i + "].image: Required value");
      }
    }
  }

  private static void validateStatefulSet(ResourceType type, String name, ObjectNode sts) {
    JsonNode spec = sts.path("spec");
    validatePodTemplate(type, name, spec);
    JsonNode strategy = spec.path("updateStrategy");
    String strategyType = strategy.path("type").asText();
    if (!strategyType.equals("RollingUpdate") && !strategyType.equals("OnDelete")) {
      throw ApiException.invalid(
          type,
          name,
          "spec.updateStrategy.type: Unsupported value: \""
              + strategyType
              + "\": supported values: \"OnDelete\", \"RollingUpdate\"");
    }
    if (strategyType.equals("OnDelete") && strategy.has("rollingUpdate")) {
      throw ApiException.invalid(
          type,
          name,
          "spec.updateStrategy.rollingUpdate: Invalid value: only allowed for updateStrategy"
              + " 'RollingUpdate'");
    }
    int partition = strategy.path("rollingUpdate").path("partition").asInt(0);
    if (partition < 0) {
      throw ApiException.invalid(
          type,
          name,
          "spec.updateStrategy.rollingUpdate.partition: Invalid value: "
              + partition
              + ": must be greater than or equal to 0");
    }
  }

  private static void defaultPod(ObjectNode pod) {
    defaultPodSpec(pod.with("spec"));
    ObjectNode status = pod.with("status");
    if (!status.hasNonNull("phase")) {
      status.put("phase", "Pending");
    }
  }

  private static void defaultPodSpec(ObjectNode spec) {
    if (!spec.hasNonNull("restartPolicy")) {
      spec.put("restartPolicy", "Always");
    }
    if (!spec.hasNonNull("schedulerName")) {
      spec.put("schedulerName", "default-scheduler");
    }
    if (!spec.hasNonNull("terminationGracePeriodSeconds")) {
      spec.put("terminationGracePeriodSeconds", 30);
    }
    if (!spec.hasNonNull("dnsPolicy")) {
      spec.put("dnsPolicy", "ClusterFirst");
    }
    if (!spec.hasNonNull("securityContext")) {
      spec.putObject("securityContext");
    }
    JsonNode containers = spec.path("containers");
    if (containers.isArray()) {
      for (JsonNode container : containers) {
        if (container.isObject() && !container.hasNonNull("imagePullPolicy")) {
          String image = container.path("image").asText("");
          ((ObjectNode) container)
              .put("imagePullPolicy", image.endsWith(":latest") ? "Always" : "IfNotPresent");
        }
        if (container.isObject()) {
          defaultContainer((ObjectNode) container);
        }
      }
    }
  }

  /** What a real API server (v1.20, as today's) fills in for a container that leaves it out. */
  private static void defaultContainer(ObjectNode container) {
    if (!container.hasNonNull("terminationMessagePath")) {
      container.put("terminationMessagePath", "/dev/termination-log");
    }
    if (!container.hasNonNull("terminationMessagePolicy")) {
      container.put("terminationMessagePolicy", "File");
    }
    if (!container.hasNonNull("resources")) {
      container.putObject("resources");
    }
    if (container.path("ports").isArray()) {
      for (JsonNode port : container.path("ports")) {
        if (port.isObject() && !port.hasNonNull("protocol")) {
          ((ObjectNode) port).put("protocol", "TCP");
        }
      }
    }
  }

  private static void validatePodUpdate(
      ResourceType type, String name, ObjectNode current, ObjectNode updated) {
    ObjectNode oldSpec = current.path("spec").deepCopy();
    ObjectNode newSpec = updated.path("spec").deepCopy();
    // An update may set the node once, and change images, the deadline and tolerations.
    if (oldSpec.path("nodeName").asText("").isEmpty()) {
      oldSpec.remove("nodeName");
      newSpec.remove("nodeName");
    }
    for (ObjectNode spec : new ObjectNode[] {oldSpec, newSpec}) {
      spec.remove("activeDeadlineSeconds");
      spec.remove("tolerations");
      for (String list : new String[] {"containers", "initContainers"}) {
        if (spec.path(list).isArray()) {
          spec.path(list).forEach(c -> ((ObjectNode) c).remove("image"));
        }
      }
    }
    if (!oldSpec.equals(newSpec)) {
      throw ApiException.invalid(
          type,
          name,
          "spec: Forbidden: pod updates may not change fields other than"
              + " `spec.containers[*].image`, `spec.initContainers[*].image`,"
              + " `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing"
              + " tolerations)");
    }
  }

  private static void defaultJob(ResourceType type, String name, ObjectNode job) {
    ObjectNode spec = job.with("spec");
    if (!spec.hasNonNull("completions")) {
      spec.put("completions", 1);
    }
    if (!spec.hasNonNull("parallelism")) {
      spec.put("parallelism", 1);
    }
    if (!spec.hasNonNull("backoffLimit")) {
      spec.put("backoffLimit", 6);
    }
    ObjectNode podSpec = spec.with("template").with("spec");
    String restart = podSpec.path("restartPolicy").asText("");
    if (!restart.equals("Never") && !restart.equals("OnFailure")) {
      throw ApiException.invalid(
          type,
          name,
          "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\","
              + " \"Never\"");
    }
    defaultPodSpec(podSpec);
    if (!podSpec.path("containers").isArray() || podSpec.path("containers").isEmpty()) {
      throw ApiException.invalid(type, name, "spec.template.spec.containers: Required value");
    }
  }

  /**
   * Completes a created Job with the selector and labels the API server generates from its uid;
   * done after the store has assigned the uid.
   */
  static boolean labelJob(ObjectNode job) {
    String uid = job.path("metadata").path("uid").asText();
    String name = job.path("metadata").path("name").asText();
    ObjectNode spec = job.with("spec");
    if (spec.has("selector")) {
      return false;
    }
    spec.with("selector").with("matchLabels").put("batch.kubernetes.io/controller-uid", uid);
    ObjectNode labels = spec.with("template").with("metadata").with("labels");
    labels.put("batch.kubernetes.io/controller-uid", uid);
    labels.put("batch.kubernetes.io/job-name", name);
    labels.put("controller-uid", uid);
    labels.put("job-name", name);
    return true;
  }
}
