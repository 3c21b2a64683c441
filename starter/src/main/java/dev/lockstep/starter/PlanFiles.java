package dev.lockstep.starter;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.lockstep.workflows.UpgradePlan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/** Plan files: YAML, unknown fields an error naming the field and its line. */
final class PlanFiles {
  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory())
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

  private PlanFiles() {}

  static UpgradePlan load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new CliFailure(
          CliFailure.BAD_INPUT, "cannot read plan " + file + ": " + e.getMessage());
    }
    return parse(file.toString(), text);
  }

  static UpgradePlan parse(String name, String text) {
    try {
      UpgradePlan plan = YAML.readValue(text, UpgradePlan.class);
      if (plan == null) {
        throw new CliFailure(CliFailure.BAD_INPUT, name + " is empty");
      }
      return plan;
    } catch (UnrecognizedPropertyException e) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          name
              + " line "
              + lineOf(text, e.getPropertyName(), e)
              + ": unknown field '"
              + e.getPropertyName()
              + "'"
              + known(e));
    } catch (JsonMappingException e) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          name
              + " line "
              + line(e)
              + ": "
              + path(e)
              + e.getOriginalMessage().lines().findFirst().orElse(""));
    } catch (JsonProcessingException e) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          name
              + " line "
              + line(e)
              + ": not valid YAML: "
              + e.getOriginalMessage().lines().findFirst().orElse(""));
    }
  }

  private static String known(UnrecognizedPropertyException e) {
    if (e.getKnownPropertyIds() == null || e.getKnownPropertyIds().isEmpty()) {
      return "";
    }
    return " (known: "
        + String.join(", ", e.getKnownPropertyIds().stream().map(String::valueOf).sorted().toList())
        + ")";
  }

  private static String path(JsonMappingException e) {
    List<JsonMappingException.Reference> refs = e.getPath();
    if (refs.isEmpty()) {
      return "";
    }
    StringBuilder p = new StringBuilder();
    for (JsonMappingException.Reference r : refs) {
      if (r.getFieldName() != null) {
        p.append(p.length() == 0 ? "" : ".").append(r.getFieldName());
      } else {
        p.append('[').append(r.getIndex()).append(']');
      }
    }
    return p + ": ";
  }

  private static int line(JsonProcessingException e) {
    return e.getLocation() == null ? 0 : e.getLocation().getLineNr();
  }

  /** The line of the unknown key: the parser's location is past it, so look for the key. */
  private static int lineOf(String text, String key, JsonProcessingException e) {
    Pattern keyLine = Pattern.compile("^\\s*(-\\s*)?\"?" + Pattern.quote(key) + "\"?\\s*:.*");
    String[] lines = text.split("\n", -1);
    int limit = Math.min(lines.length, Math.max(line(e), 1));
    for (int i = limit - 1; i >= 0; i--) {
      if (keyLine.matcher(lines[i]).matches()) {
        return i + 1;
      }
    }
    return line(e);
  }
}
