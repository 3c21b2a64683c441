package dev.lockstep.kubesim.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class SelectorsTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private static final Map<String, String> WEB = Map.of("app", "web", "tier", "frontend");
  private static final Map<String, String> DB = Map.of("app", "db", "tier", "backend", "v", "3");

  private static JsonNode json(String text) {
    try {
      return MAPPER.readTree(text);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static boolean labels(String selector, Map<String, String> labels) {
    return Selectors.parseLabelSelector(selector).test(labels);
  }

  private static String labelError(String selector) {
    return assertThrows(
            IllegalArgumentException.class, () -> Selectors.parseLabelSelector(selector), selector)
        .getMessage();
  }

  // ---- label selector strings -----------------------------------------------------------------

  @Test
  void equalityOperators() {
    assertTrue(labels("app=web", WEB));
    assertTrue(labels("app==web", WEB));
    assertFalse(labels("app=web", DB));
    assertTrue(labels("app!=web", DB));
    assertTrue(labels("missing!=x", DB));
    assertTrue(labels("app = web , tier=frontend", WEB));
    assertFalse(labels("app=web,tier=backend", WEB));
  }

  @Test
  void setOperatorsAndExistence() {
    assertTrue(labels("app in (web,db)", DB));
    assertFalse(labels("app in (web)", DB));
    assertTrue(labels("app notin (web)", DB));
    assertTrue(labels("missing notin (web)", DB));
    assertTrue(labels("v", DB));
    assertFalse(labels("v", WEB));
    assertTrue(labels("!v", WEB));
    assertFalse(labels("!v", DB));
    assertTrue(labels("app=db,tier in (backend),v,!w", DB));
  }

  @Test
  void keywordsAreValuesInsideParentheses() {
    assertTrue(labels("x in (in,notin)", Map.of("x", "notin")));
  }

  @Test
  void integerComparisons() {
    assertTrue(labels("v>2", DB));
    assertFalse(labels("v<3", DB));
    assertFalse(labels("app>2", DB));
    assertFalse(labels("v>2", WEB));
  }

  @Test
  void emptyOrNullSelectorMatchesEverythingIncludingUnlabelled() {
    assertTrue(labels("", WEB));
    assertTrue(labels(null, WEB));
    assertTrue(labels("", null));
    assertTrue(labels("!app", null));
    assertFalse(labels("app", null));
  }

  @Test
  void syntaxErrorsUseTheApiServerMessages() {
    assertEquals(
        "unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt",
        labelError("app web"));
    assertEquals("found ',', expected: !, identifier, or 'end of string'", labelError(",app"));
    assertEquals("found '', expected: identifier after ','", labelError("app=web,"));
    assertEquals("found '=', expected: ',' or 'end of string'", labelError("!app=web"));
    assertEquals("unable to parse requirement: found 'x' expected: '('", labelError("app in x"));
    assertEquals(
        "unable to parse requirement: found '', expected: ',' or ')'", labelError("app in (a"));
  }

  @Test
  void invalidKeysAndValuesAreRejected() {
    assertEquals(
        "unable to parse requirement: <nil>: Invalid value: \"-app\": name part must consist of"
            + " alphanumeric characters, '-', '_' or '.', and must start and end with an"
            + " alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for"
            + " validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        labelError("-app=web"));
    assertTrue(
        labelError("app=we$b")
            .startsWith(
                "unable to parse requirement: values[0][app]: Invalid value: \"we$b\": a valid"
                    + " label must be an empty string"),
        labelError("app=we$b"));
    assertTrue(labelError("v>x").contains("the value must be an integer"));
    assertTrue(labels("example.com/app=web", Map.of("example.com/app", "web")));
    assertTrue(labelError("Example.com/app=web").contains("prefix part a lowercase RFC 1123"));
  }

  // ---- structured label selectors -------------------------------------------------------------

  @Test
  void structuredSelectorCombinesMatchLabelsAndExpressions() {
    JsonNode selector =
        json(
            """
            {"matchLabels": {"app": "db"},
             "matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend", "x"]},
                                  {"key": "v", "operator": "Exists"},
                                  {"key": "gone", "operator": "DoesNotExist"},
                                  {"key": "tier", "operator": "NotIn", "values": ["frontend"]}]}
            """);

    assertTrue(Selectors.matches(selector, DB));
    assertFalse(Selectors.matches(selector, WEB));
    assertFalse(Selectors.matches(selector, null));
  }

  @Test
  void nullOrEmptyStructuredSelectorMatchesEverything() {
    assertTrue(Selectors.matches(null, WEB));
    assertTrue(Selectors.matches(json("null"), WEB));
    assertTrue(Selectors.matches(json("{}"), WEB));
    assertTrue(Selectors.matches(json("{}"), null));
  }

  @Test
  void structuredSelectorWithBadOperatorOrValuesIsRejected() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Selectors.matches(
                    json("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"Equals\"}]}"),
                    WEB));
    assertEquals("\"Equals\" is not a valid label selector operator", e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () ->
            Selectors.matches(
                json("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"In\"}]}"), WEB));
  }

  // ---- field selectors ------------------------------------------------------------------------

  private static final JsonNode SCHEDULED_POD =
      json(
          """
          {"metadata": {"name": "web-0", "namespace": "prod"},
           "spec": {"nodeName": "node-1", "hostNetwork": true},
           "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}}
          """);

  private static final JsonNode PENDING_POD =
      json("{\"metadata\": {\"name\": \"web-1\", \"namespace\": \"prod\"}, \"spec\": {}}");

  private static boolean fields(String resource, String selector, JsonNode object) {
    return Selectors.parseFieldSelector(resource, selector).test(object);
  }

  @Test
  void podFieldSelectors() {
    assertTrue(fields("pods", "spec.nodeName=node-1", SCHEDULED_POD));
    assertTrue(fields("pods", "spec.nodeName==node-1,status.phase=Running", SCHEDULED_POD));
    assertFalse(fields("pods", "spec.nodeName!=node-1", SCHEDULED_POD));
    assertTrue(fields("pods", "status.podIP=10.0.0.5", SCHEDULED_POD));
    assertTrue(fields("pods", "metadata.name=web-0,metadata.namespace=prod", SCHEDULED_POD));
    assertTrue(fields("pods", "spec.host=node-1", SCHEDULED_POD));
  }

  @Test
  void missingValuesCompareAsEmptyAndBooleansAsText() {
    Predicate<JsonNode> unscheduled = Selectors.parseFieldSelector("pods", "spec.nodeName=");
    assertTrue(unscheduled.test(PENDING_POD));
    assertFalse(unscheduled.test(SCHEDULED_POD));
    assertTrue(fields("pods", "spec.nodeName!=", SCHEDULED_POD));
    assertTrue(fields("pods", "spec.hostNetwork=true", SCHEDULED_POD));
    assertTrue(fields("pods", "spec.hostNetwork=false", PENDING_POD));
    assertTrue(fields("nodes", "spec.unschedulable=false", json("{\"spec\": {}}")));
    assertTrue(
        fields("nodes", "spec.unschedulable=true", json("{\"spec\": {\"unschedulable\": true}}")));
    assertTrue(fields("jobs", "status.successful=2", json("{\"status\": {\"succeeded\": 2}}")));
    assertTrue(
        fields("secrets", "type=kubernetes.io/tls", json("{\"type\": \"kubernetes.io/tls\"}")));
  }

  @Test
  void eventFieldSelectors() {
    JsonNode event =
        json(
            """
            {"metadata": {"name": "web-0.17f", "namespace": "prod"},
             "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "prod", "uid": "u1"},
             "reason": "BackOff", "type": "Warning", "source": {"component": "kubelet"}}
            """);

    assertTrue(
        fields(
            "events",
            "involvedObject.kind=Pod,involvedObject.name=web-0,involvedObject.uid=u1,type=Warning",
            event));
    assertTrue(fields("events", "reason=BackOff,source=kubelet", event));
    assertFalse(fields("events", "involvedObject.name=web-1", event));
    assertTrue(fields("events", "involvedObject.fieldPath=", event));
  }

  @Test
  void unknownFieldsUseTheApiServerMessage() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> Selectors.parseFieldSelector("configmaps", "foo.bar=x"));
    assertEquals(
        "\"foo.bar\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        e.getMessage());
    String pods =
        assertThrows(
                IllegalArgumentException.class,
                () -> Selectors.parseFieldSelector("pods", "spec.foo=x"))
            .getMessage();
    assertTrue(pods.startsWith("\"spec.foo\" is not a known field selector: only"), pods);
    assertTrue(pods.contains("\"spec.nodeName\""), pods);
    assertThrows(
        IllegalArgumentException.class,
        () -> Selectors.parseFieldSelector("configmaps", "spec.nodeName=x"));
  }

  @Test
  void fieldSelectorSyntax() {
    assertEquals(
        "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
        assertThrows(
                IllegalArgumentException.class,
                () -> Selectors.parseFieldSelector("pods", "metadata.name"))
            .getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> Selectors.parseFieldSelector("pods", "metadata.name=a=b"));
    assertTrue(
        fields(
            "configmaps",
            "metadata.name=a\\=b\\,c",
            json("{\"metadata\": {\"name\": \"a=b,c\"}}")));
    for (String everything : List.of("", ",")) {
      assertTrue(fields("pods", everything, PENDING_POD), everything);
    }
    assertTrue(Selectors.parseFieldSelector("pods", null).test(PENDING_POD));
  }
}
