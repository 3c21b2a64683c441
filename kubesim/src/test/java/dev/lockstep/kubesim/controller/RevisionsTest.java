package dev.lockstep.kubesim.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.kubesim.controller.StatefulSetController.Revisions;
import org.junit.jupiter.api.Test;

class RevisionsTest {
  private static JsonNode template(String image) throws Exception {
    return Cluster.JSON.readTree(
        "{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"app\","
            + "\"image\":\""
            + image
            + "\"}]}}");
  }

  @Test
  void theHashIsStableAndInUpstreamsAlphabet() throws Exception {
    String hash = Revisions.hash(Revisions.data(template("nginx:1.25")), 0);
    assertThat(hash).matches("[4-9bcdf]{1,10}");
    assertEquals(hash, Revisions.hash(Revisions.data(template("nginx:1.25")), 0));
    assertNotEquals(hash, Revisions.hash(Revisions.data(template("nginx:1.26")), 0));
    assertNotEquals(hash, Revisions.hash(Revisions.data(template("nginx:1.25")), 1));
  }

  @Test
  void keyOrderDoesNotChangeTheRevision() throws Exception {
    JsonNode reordered =
        Cluster.JSON.readTree(
            "{\"spec\":{\"containers\":[{\"image\":\"nginx:1.25\",\"name\":\"app\"}]},"
                + "\"metadata\":{\"labels\":{\"app\":\"web\"}}}");
    assertEquals(
        Revisions.hash(Revisions.data(template("nginx:1.25")), 0),
        Revisions.hash(Revisions.data(reordered), 0));
    assertEquals(
        "{\"spec\":{\"template\":{\"$patch\":\"replace\",\"metadata\":{\"labels\":{\"app\":\"web\"}},"
            + "\"spec\":{\"containers\":[{\"image\":\"nginx:1.25\",\"name\":\"app\"}]}}}}",
        Revisions.data(reordered).toString());
  }

  @Test
  void namesKeepWithinTheLimit() {
    assertEquals("web-5d8f", Revisions.name("web", "5d8f"));
    assertEquals(224 + 4, Revisions.name("x".repeat(300), "5d8f").length());
  }
}
