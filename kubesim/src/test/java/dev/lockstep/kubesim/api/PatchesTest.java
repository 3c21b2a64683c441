package dev.lockstep.kubesim.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.Patches.PatchException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PatchesTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String JSON = "application/json-patch+json";
  private static final String MERGE = "application/merge-patch+json";
  private static final String STRATEGIC = "application/strategic-merge-patch+json";

  /** A StatefulSet whose pod template has two containers; "app" has env, ports and mounts. */
  private static final String STATEFUL_SET =
      """
      {"apiVersion": "apps/v1", "kind": "StatefulSet",
       "metadata": {"name": "db", "namespace": "ns", "finalizers": ["a"],
                    "labels": {"app": "db", "tier": "data"}},
       "spec": {"replicas": 3, "template": {"spec": {
         "containers": [
           {"name": "app", "image": "db:1",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "ports": [{"containerPort": 5432, "name": "pg"}],
            "volumeMounts": [{"mountPath": "/data", "name": "data"}]},
           {"name": "sidecar", "image": "proxy:1"}],
         "tolerations": [{"key": "x", "operator": "Exists"}],
         "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]
       }}},
       "status": {"conditions": [{"type": "Ready", "status": "False"},
                                 {"type": "Synced", "status": "True"}]}}
      """;

  private static ObjectNode object(String json) {
    try {
      return (ObjectNode) MAPPER.readTree(json);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static ObjectNode apply(String contentType, String patch) {
    return Patches.apply(contentType, object(STATEFUL_SET), patch);
  }

  private static JsonNode podSpec(JsonNode statefulSet) {
    return statefulSet.path("spec").path("template").path("spec");
  }

  /** The {@code key} of each element of {@code list}, or the elements themselves if key is null. */
  private static List<String> names(JsonNode list, String key) {
    List<String> names = new ArrayList<>();
    list.forEach(element -> names.add(key == null ? element.asText() : element.path(key).asText()));
    return names;
  }

  // ---- strategic merge patch ------------------------------------------------------------------

  @Test
  void strategicPatchChangingOneImageKeepsTheOtherContainerAndTheEnv() {
    ObjectNode patched =
        apply(
            STRATEGIC,
            """
            {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "db:2"}]}}}}
            """);

    JsonNode containers = podSpec(patched).path("containers");
    assertEquals(List.of("app", "sidecar"), names(containers, "name"));
    assertEquals("db:2", containers.get(0).path("image").asText());
    assertEquals(List.of("A", "B"), names(containers.get(0).path("env"), "name"));
    assertEquals("proxy:1", containers.get(1).path("image").asText());
    assertEquals(3, patched.path("spec").path("replicas").asInt());
  }

  @Test
  void strategicPatchNeverMutatesTheCurrentObject() {
    ObjectNode current = object(STATEFUL_SET);
    Patches.apply(
        STRATEGIC, current, "{\"spec\": {\"replicas\": null, \"template\": {\"spec\": null}}}");
    assertEquals(object(STATEFUL_SET), current);
  }

  @Test
  void strategicPatchMergesEnvByNameAndAppendsNewEntries() {
    ObjectNode patched =
        apply(
            STRATEGIC,
            """
            {"spec": {"template": {"spec": {"containers": [{"name": "app",
              "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}]}]}}}}
            """);

    JsonNode env = podSpec(patched).path("containers").get(0).path("env");
    assertEquals(List.of("A", "B", "C"), names(env, "name"));
    assertEquals("two", env.get(1).path("value").asText());
  }

  @Test
  void strategicPatchDeleteDirectiveRemovesAContainer() {
    ObjectNode patched =
        apply(
            STRATEGIC,
            """
            {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
            """);

    assertEquals(List.of("app"), names(podSpec(patched).path("containers"), "name"));
  }

  @Test
  void strategicPatchReplaceDirectiveInAListReplacesTheWholeList() {
    ObjectNode patched =
        apply(
            STRATEGIC,
            """
            {"spec": {"template": {"spec": {"containers": [
              {"name": "only", "image": "x:1"}, {"$patch": "replace"}]}}}}
            """);

    JsonNode containers = podSpec(patched).path("containers");
    assertEquals(List.of("only"), names(containers, "name"));
    assertFalse(containers.get(0).has("$patch"));
  }

  @Test
  void strategicPatchReplaceDirectiveInAMapReplacesTheMap() {
    ObjectNode patched =
        apply(STRATEGIC, "{\"metadata\": {\"labels\": {\"$patch\": \"replace\", \"new\": \"1\"}}}");

    assertEquals(object("{\"new\": \"1\"}"), patched.path("metadata").path("labels"));
  }

  @Test
  void strategicPatchDeleteDirectiveInAMapDeletesIt() {
    ObjectNode patched = apply(STRATEGIC, "{\"metadata\": {\"labels\": {\"$patch\": \"delete\"}}}");

    assertFalse(patched.path("metadata").has("labels"));
    assertEquals("db", patched.path("metadata").path("name").asText());
  }

  @Test
  void strategicPatchNullDeletesAKey() {
    ObjectNode patched = apply(STRATEGIC, "{\"metadata\": {\"labels\": {\"tier\": null}}}");

    assertEquals(object("{\"app\": \"db\"}"), patched.path("metadata").path("labels"));
  }

  @Test
  void strategicPatchReplacesListsWithoutAMergeStrategy() {
    ObjectNode patched =
        apply(
            STRATEGIC,
            """
            {"spec": {"template": {"spec": {"tolerations": [{"key": "y", "operator": "Exists"}]}}}}
            """);

    assertEquals(List.of("y"), names(podSpec(patched).path("tolerations"), "key"));
  }

  @Test
  void strategicPatchMergesVolumesPortsMountsAndConditionsByTheirKeys() {
    ObjectNode patched =
        apply(
            STRATEGIC,
            """
            {"spec": {"template": {"spec": {
               "volumes": [{"name": "cfg", "configMap": {"name": "c2"}}, {"name": "tmp", "emptyDir": {}}],
               "containers": [{"name": "app",
                 "ports": [{"containerPort": 5432, "protocol": "TCP"}, {"containerPort": 9187}],
                 "volumeMounts": [{"mountPath": "/tmp", "name": "tmp"}]}]}}},
             "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
            """);

    JsonNode spec = podSpec(patched);
    assertEquals(List.of("data", "cfg", "tmp"), names(spec.path("volumes"), "name"));
    assertEquals("c2", spec.path("volumes").get(1).path("configMap").path("name").asText());
    JsonNode app = spec.path("containers").get(0);
    assertEquals(List.of("5432", "9187"), names(app.path("ports"), "containerPort"));
    assertEquals("pg", app.path("ports").get(0).path("name").asText());
    assertEquals("TCP", app.path("ports").get(0).path("protocol").asText());
    assertEquals(List.of("/data", "/tmp"), names(app.path("volumeMounts"), "mountPath"));
    JsonNode conditions = patched.path("status").path("conditions");
    assertEquals(List.of("Ready", "Synced"), names(conditions, "type"));
    assertEquals("True", conditions.get(0).path("status").asText());
  }

  @Test
  void strategicPatchMergesServicePortsByPort() {
    ObjectNode service =
        object(
            """
            {"kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"},
                                                   {"port": 443, "name": "https"}]}}
            """);

    ObjectNode patched =
        Patches.apply(
            STRATEGIC, service, "{\"spec\": {\"ports\": [{\"port\": 80, \"targetPort\": 9090}]}}");

    JsonNode ports = patched.path("spec").path("ports");
    assertEquals(List.of("80", "443"), names(ports, "port"));
    assertEquals(9090, ports.get(0).path("targetPort").asInt());
    assertEquals("http", ports.get(0).path("name").asText());
  }

  @Test
  void strategicPatchDirectivesForPrimitiveListsRetainKeysAndElementOrder() {
    ObjectNode patched =
        apply(
            STRATEGIC,
            """
            {"metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]},
             "spec": {"template": {"spec": {
               "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
               "containers": [{"name": "sidecar", "image": "proxy:2"}]}}}}
            """);

    assertEquals(List.of("b"), names(patched.path("metadata").path("finalizers"), null));
    JsonNode spec = podSpec(patched);
    assertTrue(spec.properties().stream().noneMatch(field -> field.getKey().startsWith("$")));
    assertEquals(List.of("app", "sidecar"), names(spec.path("containers"), "name"));

    ObjectNode deployment =
        object(
            "{\"spec\": {\"strategy\": {\"type\": \"RollingUpdate\", \"rollingUpdate\":"
                + " {\"maxSurge\": 1}}}}");
    ObjectNode recreate =
        Patches.apply(
            STRATEGIC,
            deployment,
            "{\"spec\": {\"strategy\": {\"$retainKeys\": [\"type\"], \"type\": \"Recreate\"}}}");
    assertEquals(object("{\"type\": \"Recreate\"}"), recreate.path("spec").path("strategy"));
  }

  @Test
  void strategicPatchElementWithoutMergeKeyIsABadRequest() {
    PatchException e =
        assertThrows(
            PatchException.class,
            () ->
                apply(
                    STRATEGIC,
                    "{\"spec\": {\"template\": {\"spec\": {\"containers\": [{\"image\": \"x\"}]}}}}"));
    assertEquals(400, e.code());
    assertTrue(
        e.getMessage().contains("does not contain declared merge key: name"), e.getMessage());
  }

  // ---- JSON merge patch -----------------------------------------------------------------------

  @Test
  void mergePatchReplacesTheContainersList() {
    ObjectNode patched =
        apply(
            MERGE,
            """
            {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "db:2"}]}}}}
            """);

    JsonNode containers = podSpec(patched).path("containers");
    assertEquals(1, containers.size());
    assertEquals(object("{\"name\": \"app\", \"image\": \"db:2\"}"), containers.get(0));
  }

  @Test
  void mergePatchMergesObjectsAndNullDeletes() {
    ObjectNode patched =
        apply(
            MERGE,
            "{\"metadata\": {\"labels\": {\"tier\": null, \"v\": \"2\"}}, \"status\": null}");

    assertEquals(
        object("{\"app\": \"db\", \"v\": \"2\"}"), patched.path("metadata").path("labels"));
    assertFalse(patched.has("status"));
    assertEquals(3, patched.path("spec").path("replicas").asInt());
  }

  @Test
  void mergePatchThatIsNotAnObjectIsABadRequest() {
    assertEquals(400, assertThrows(PatchException.class, () -> apply(MERGE, "[1]")).code());
  }

  // ---- JSON patch -----------------------------------------------------------------------------

  @Test
  void jsonPatchAppliesEveryOperation() {
    ObjectNode patched =
        apply(
            JSON,
            """
            [{"op": "test", "path": "/spec/replicas", "value": 3},
             {"op": "replace", "path": "/spec/replicas", "value": 5},
             {"op": "add", "path": "/metadata/labels/new", "value": "x"},
             {"op": "remove", "path": "/metadata/labels/tier"},
             {"op": "copy", "from": "/metadata/name", "path": "/metadata/annotations"},
             {"op": "move", "from": "/metadata/annotations", "path": "/metadata/labels/copied"},
             {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "third"}},
             {"op": "add", "path": "/metadata/finalizers/0", "value": "first"}]
            """);

    assertEquals(5, patched.path("spec").path("replicas").asInt());
    assertEquals(
        object("{\"app\": \"db\", \"new\": \"x\", \"copied\": \"db\"}"),
        patched.path("metadata").path("labels"));
    assertFalse(patched.path("metadata").has("annotations"));
    assertEquals(
        List.of("app", "sidecar", "third"), names(podSpec(patched).path("containers"), "name"));
    assertEquals(List.of("first", "a"), names(patched.path("metadata").path("finalizers"), null));
  }

  @Test
  void jsonPatchFailingTestIsUnprocessableAndLeavesCurrentAlone() {
    ObjectNode current = object(STATEFUL_SET);
    PatchException e =
        assertThrows(
            PatchException.class,
            () ->
                Patches.apply(
                    JSON,
                    current,
                    """
                    [{"op": "replace", "path": "/spec/replicas", "value": 9},
                     {"op": "test", "path": "/spec/replicas", "value": 3}]
                    """));

    assertEquals(422, e.code());
    assertTrue(e.getMessage().contains("test") && e.getMessage().contains("/spec/replicas"));
    assertEquals(object(STATEFUL_SET), current);
  }

  @Test
  void jsonPatchTestComparesNumbersByValue() {
    ObjectNode patched =
        apply(JSON, "[{\"op\": \"test\", \"path\": \"/spec/replicas\", \"value\": 3.0}]");
    assertEquals(object(STATEFUL_SET), patched);
  }

  @Test
  void jsonPatchOnAMissingPathIsUnprocessable() {
    for (String op :
        List.of(
            "{\"op\": \"remove\", \"path\": \"/spec/nope\"}",
            "{\"op\": \"replace\", \"path\": \"/spec/nope\", \"value\": 1}",
            "{\"op\": \"add\", \"path\": \"/spec/nope/deeper\", \"value\": 1}",
            "{\"op\": \"remove\", \"path\": \"/metadata/finalizers/-\"}",
            "{\"op\": \"add\", \"path\": \"/metadata/finalizers/7\", \"value\": \"x\"}",
            "{\"op\": \"move\", \"from\": \"/spec\", \"path\": \"/spec/inner\"}",
            "{\"op\": \"copy\", \"from\": \"/nope\", \"path\": \"/x\"}",
            "{\"op\": \"add\", \"path\": \"no-slash\", \"value\": 1}",
            "{\"op\": \"add\", \"path\": \"/x\"}",
            "{\"op\": \"frobnicate\", \"path\": \"/x\"}",
            "{\"op\": \"replace\", \"path\": \"\", \"value\": 1}")) {
      PatchException e = assertThrows(PatchException.class, () -> apply(JSON, "[" + op + "]"), op);
      assertEquals(422, e.code(), op);
    }
  }

  @Test
  void jsonPatchThatIsNotAnArrayIsABadRequest() {
    assertEquals(
        400, assertThrows(PatchException.class, () -> apply(JSON, "{\"op\": \"add\"}")).code());
  }

  // ---- content types and bodies ---------------------------------------------------------------

  @Test
  void serverSideApplyIsUnsupportedMediaType() {
    for (String type : List.of("application/apply-patch+yaml", "application/apply-patch+cbor")) {
      PatchException e = assertThrows(PatchException.class, () -> apply(type, "{}"));
      assertEquals(415, e.code());
      assertTrue(e.getMessage().startsWith("server-side apply is not supported by kubesim"));
    }
  }

  @Test
  void unknownOrMissingContentTypeIsUnsupportedMediaType() {
    for (String type : new String[] {null, "application/json", "text/plain"}) {
      PatchException e = assertThrows(PatchException.class, () -> apply(type, "{}"));
      assertEquals(415, e.code());
      assertEquals(
          "the body of the request was in an unknown format - accepted media types include:"
              + " application/json-patch+json, application/merge-patch+json,"
              + " application/strategic-merge-patch+json",
          e.getMessage());
    }
  }

  @Test
  void contentTypeParametersAndCaseAreIgnored() {
    ObjectNode patched =
        apply("Application/Merge-Patch+JSON; charset=utf-8", "{\"spec\": {\"replicas\": 1}}");
    assertEquals(1, patched.path("spec").path("replicas").asInt());
  }

  @Test
  void malformedJsonIsABadRequestWithJacksonsFirstLine() {
    for (String type : List.of(JSON, MERGE, STRATEGIC)) {
      PatchException e = assertThrows(PatchException.class, () -> apply(type, "{\"spec\": "));
      assertEquals(400, e.code());
      assertFalse(e.getMessage().contains("\n"));
      assertEquals(400, assertThrows(PatchException.class, () -> apply(type, "{} x")).code());
      assertEquals(400, assertThrows(PatchException.class, () -> apply(type, "")).code());
    }
  }
}
