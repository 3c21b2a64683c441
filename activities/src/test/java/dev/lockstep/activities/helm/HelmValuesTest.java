package dev.lockstep.activities.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Values merged as {@code helm upgrade} merges them. */
class HelmValuesTest {
  private static ObjectNode json(String text) throws Exception {
    return (ObjectNode) HelmValues.JSON.readTree(text);
  }

  @Test
  void withoutNewValuesTheLastReleasesAreReused() throws Exception {
    ObjectNode previous = json("{\"logLevel\":\"debug\"}");
    assertThat(HelmValues.merge(previous, Map.of(), List.of(), HelmValues.Reuse.DEFAULT))
        .isEqualTo(previous);
    assertThat(HelmValues.merge(previous, Map.of(), List.of(), HelmValues.Reuse.RESET_VALUES))
        .isEmpty();
  }

  @Test
  void newValuesReplaceTheLastReleasesUnlessReused() throws Exception {
    ObjectNode previous = json("{\"logLevel\":\"debug\",\"image\":{\"tag\":\"1\"}}");
    assertThat(
            HelmValues.merge(previous, Map.of(), List.of("image.tag=2"), HelmValues.Reuse.DEFAULT))
        .isEqualTo(json("{\"image\":{\"tag\":2}}"));
    assertThat(
            HelmValues.merge(
                previous, Map.of(), List.of("image.tag=v2"), HelmValues.Reuse.REUSE_VALUES))
        .isEqualTo(json("{\"image\":{\"tag\":\"v2\"},\"logLevel\":\"debug\"}"));
  }

  @Test
  void filesInOrderThenSetsTyped() throws Exception {
    Map<String, String> files = new LinkedHashMap<>();
    files.put("a.yaml", "image:\n  repository: r\n  tag: \"1\"\nreplicaCount: 1\n");
    files.put("b.yaml", "image:\n  tag: \"2\"\n");
    ObjectNode merged =
        HelmValues.merge(
            json("{}"),
            files,
            List.of("enabled=true,nothing=null", "name=a\\,b", "dotted\\.key=007"),
            HelmValues.Reuse.DEFAULT);
    assertThat(merged.toString())
        .isEqualTo(
            "{\"dotted.key\":\"007\",\"enabled\":true,\"image\":{\"repository\":\"r\",\"tag\":\"2\"},"
                + "\"name\":\"a,b\",\"nothing\":null,\"replicaCount\":1}");
  }

  @Test
  void badInputIsOneLine() {
    assertThatThrownBy(
            () ->
                HelmValues.merge(
                    HelmValues.JSON.createObjectNode(),
                    Map.of("v.yaml", "- a list"),
                    List.of(),
                    HelmValues.Reuse.DEFAULT))
        .hasMessage("values file v.yaml must be a map of values, not a ARRAY");
    assertThatThrownBy(
            () ->
                HelmValues.merge(
                    HelmValues.JSON.createObjectNode(),
                    Map.of(),
                    List.of("novalue"),
                    HelmValues.Reuse.DEFAULT))
        .hasMessage("--set novalue: expected key=value (e.g. image.tag=1.19.0)");
  }
}
