package dev.lockstep.starter;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.deser.DeserializationProblemHandler;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.lockstep.workflows.UpgradePlan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Plan files: YAML read into an {@link UpgradePlan}. Every problem is reported at once, each with
 * its line, in words a plan's author uses (fields, values, "a whole number"), never a Java type.
 */
final class PlanFiles {
  private PlanFiles() {}

  /** One problem, at a line of the file (0 when it has none). */
  record Problem(int line, String pointer, String message) {}

  /**
   * A plan file as read: the plan (what could be read of it), the problems found reading it, and
   * the line of every field, to place the problems found later (by validation) in the file.
   */
  record Loaded(String name, UpgradePlan plan, List<Problem> problems, Map<String, Integer> lines) {
    boolean hasProblems() {
      return !problems.isEmpty();
    }

    /**
     * Exit 2 with every problem: those found reading the file, then those validation found, each
     * with the line of the field it names. When the file could not be read whole, a validation
     * problem that names no field of the file is left out (it may only follow from the first).
     */
    CliFailure failure(List<String> validation) {
      List<Problem> all = new ArrayList<>(problems);
      for (String message : validation) {
        String pointer = fieldNamedIn(message);
        if (hasProblems() && (pointer == null || related(pointer))) {
          continue;
        }
        all.add(new Problem(pointer == null ? 0 : lines.get(pointer), pointer, message));
      }
      all.sort(Comparator.comparingInt(Problem::line));
      List<String> parts = new ArrayList<>();
      for (Problem p : all) {
        parts.add(p.line() > 0 ? "line " + p.line() + ": " + p.message() : p.message());
      }
      return new CliFailure(CliFailure.BAD_INPUT, name + ": " + String.join("; ", parts));
    }

    /** Whether a reading problem is about this field, or one inside it or around it. */
    private boolean related(String pointer) {
      return problems.stream()
          .map(Problem::pointer)
          .anyMatch(
              p ->
                  p != null
                      && (p.equals(pointer)
                          || p.startsWith(pointer + "/")
                          || pointer.startsWith(p + "/")));
    }

    /** The longest field path of the file that the message names as a word, or null. */
    private String fieldNamedIn(String message) {
      String best = null;
      for (String pointer : lines.keySet()) {
        String dotted = pointer.substring(1).replace('/', '.');
        if (dotted.isEmpty() || dotted.matches(".*\\.\\d+$")) {
          continue;
        }
        Pattern word = Pattern.compile("(^|[^\\w.])" + Pattern.quote(dotted) + "($|[^\\w])");
        if (word.matcher(message).find() && (best == null || pointer.length() > best.length())) {
          best = pointer;
        }
      }
      return best;
    }
  }

  static Loaded load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new CliFailure(
          CliFailure.BAD_INPUT, "cannot read plan " + file + ": " + e.getMessage());
    }
    return parse(file.toString(), text);
  }

  /** Reads a plan; a file that is not YAML at all, or is empty, is exit 2 at once. */
  static Loaded parse(String name, String text) {
    Map<String, Integer> lines;
    try {
      lines = fieldLines(text);
    } catch (JsonProcessingException e) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          name
              + ": line "
              + line(e)
              + ": not valid YAML: "
              + e.getOriginalMessage().lines().findFirst().orElse(""));
    } catch (IOException e) {
      throw new CliFailure(CliFailure.BAD_INPUT, name + ": " + e.getMessage());
    }
    List<Problem> problems = new ArrayList<>();
    ObjectMapper yaml =
        new ObjectMapper(new YAMLFactory())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .addHandler(new Collector(problems, lines));
    UpgradePlan plan;
    try {
      plan = yaml.readValue(text, UpgradePlan.class);
    } catch (JsonMappingException e) {
      // What the collector could not step over: one last problem, in its own words.
      String pointer = pointer(e);
      problems.add(
          new Problem(
              lineOf(lines, pointer, line(e)),
              pointer,
              field(pointer)
                  + "cannot be read here ("
                  + withoutTypes(e.getOriginalMessage())
                  + ")"));
      plan = null;
    } catch (JsonProcessingException e) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          name
              + ": line "
              + line(e)
              + ": not valid YAML: "
              + e.getOriginalMessage().lines().findFirst().orElse(""));
    } catch (IOException e) {
      throw new CliFailure(CliFailure.BAD_INPUT, name + ": " + e.getMessage());
    }
    if (plan == null && problems.isEmpty()) {
      throw new CliFailure(CliFailure.BAD_INPUT, name + " is empty");
    }
    if (plan == null) {
      plan = UpgradePlan.builder().build();
    }
    problems.sort(Comparator.comparingInt(Problem::line));
    return new Loaded(name, plan, List.copyOf(problems), lines);
  }

  /** The line of every field (by JSON pointer, e.g. {@code /health/port}) and list item. */
  private static Map<String, Integer> fieldLines(String text) throws IOException {
    Map<String, Integer> lines = new HashMap<>();
    try (JsonParser p = new YAMLFactory().createParser(text)) {
      JsonToken t;
      while ((t = p.nextToken()) != null) {
        if (t == JsonToken.FIELD_NAME || p.getParsingContext().inArray()) {
          if (t == JsonToken.END_ARRAY || t == JsonToken.END_OBJECT) {
            continue;
          }
          lines.putIfAbsent(
              p.getParsingContext().pathAsPointer().toString(),
              p.currentTokenLocation().getLineNr());
        }
      }
    }
    return lines;
  }

  /** Records each problem and steps over it, so that the rest of the file is read too. */
  private static final class Collector extends DeserializationProblemHandler {
    private final List<Problem> problems;
    private final Map<String, Integer> lines;

    Collector(List<Problem> problems, Map<String, Integer> lines) {
      this.problems = problems;
      this.lines = lines;
    }

    private void add(JsonParser p, String message) {
      String pointer = p.getParsingContext().pathAsPointer().toString();
      problems.add(
          new Problem(
              lineOf(lines, pointer, p.currentTokenLocation().getLineNr()), pointer, message));
    }

    @Override
    public boolean handleUnknownProperty(
        DeserializationContext ctxt,
        JsonParser p,
        JsonDeserializer<?> deserializer,
        Object beanOrClass,
        String propertyName)
        throws IOException {
      Collection<Object> known = deserializer.getKnownPropertyNames();
      String pointer = p.getParsingContext().pathAsPointer().toString();
      problems.add(
          new Problem(
              lineOf(lines, pointer, p.currentTokenLocation().getLineNr()),
              pointer,
              "unknown field '"
                  + propertyName
                  + "'"
                  + (known == null || known.isEmpty()
                      ? ""
                      : " (known: "
                          + String.join(", ", known.stream().map(String::valueOf).sorted().toList())
                          + ")")));
      p.skipChildren();
      return true;
    }

    @Override
    public Object handleWeirdStringValue(
        DeserializationContext ctxt, Class<?> targetType, String value, String failureMsg) {
      JsonParser p = ctxt.getParser();
      add(p, field(p) + "'" + value + "' is not " + expected(targetType));
      return null;
    }

    @Override
    public Object handleWeirdNumberValue(
        DeserializationContext ctxt, Class<?> targetType, Number value, String failureMsg) {
      JsonParser p = ctxt.getParser();
      add(p, field(p) + value + " is not " + expected(targetType));
      return null;
    }

    @Override
    public Object handleUnexpectedToken(
        DeserializationContext ctxt, JavaType targetType, JsonToken t, JsonParser p, String msg)
        throws IOException {
      add(p, field(p) + "expected " + expected(targetType.getRawClass()) + ", not " + what(t));
      p.skipChildren();
      return null;
    }

    @Override
    public Object handleInstantiationProblem(
        DeserializationContext ctxt, Class<?> instClass, Object argument, Throwable t) {
      JsonParser p = ctxt.getParser();
      add(p, field(p) + withoutTypes(t.getMessage()));
      return null;
    }
  }

  /** {@code "gate: "} for the field the parser is at, or "" at the top. */
  private static String field(JsonParser p) {
    return field(p.getParsingContext().pathAsPointer().toString());
  }

  private static String field(String pointer) {
    return pointer == null || pointer.isEmpty()
        ? ""
        : pointer.substring(1).replace('/', '.') + ": ";
  }

  /** What a value of this type looks like, in a plan author's words. */
  static String expected(Class<?> type) {
    if (type.isEnum()) {
      List<String> values = new ArrayList<>();
      for (Object constant : type.getEnumConstants()) {
        String name = ((Enum<?>) constant).name();
        try {
          JsonProperty property = type.getField(name).getAnnotation(JsonProperty.class);
          values.add(property != null ? property.value() : name.toLowerCase(Locale.ROOT));
        } catch (NoSuchFieldException e) {
          values.add(name.toLowerCase(Locale.ROOT));
        }
      }
      return values.size() == 1
          ? values.get(0)
          : "one of "
              + String.join(", ", values.subList(0, values.size() - 1))
              + " or "
              + values.get(values.size() - 1);
    }
    if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
      return "a whole number";
    }
    if (type == Boolean.class || type == boolean.class) {
      return "true or false";
    }
    if (type == String.class) {
      return "a single value";
    }
    if (Collection.class.isAssignableFrom(type) || type.isArray()) {
      return "a list";
    }
    return "a mapping (field: value)";
  }

  private static String what(JsonToken t) {
    return switch (t) {
      case START_ARRAY -> "a list";
      case START_OBJECT -> "a mapping";
      case VALUE_STRING -> "a single value";
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
      case VALUE_TRUE, VALUE_FALSE -> "true/false";
      case VALUE_NULL -> "nothing";
      default -> "this";
    };
  }

  /** Jackson's words without Java type names such as {@code `java.lang.Integer`}. */
  private static String withoutTypes(String message) {
    if (message == null) {
      return "invalid value";
    }
    String first = message.lines().findFirst().orElse(message);
    return Arrays.stream(first.split(" "))
        .filter(w -> !w.matches("`?\\(?\\[?[a-z]+(\\.[A-Za-z0-9_$]+)+`?\\)?\\]?[,:;]?"))
        .reduce((a, b) -> a + " " + b)
        .orElse("invalid value")
        .replaceAll("Cannot deserialize value of type\\s*(from)?", "cannot read a value")
        .strip();
  }

  private static String pointer(JsonMappingException e) {
    StringBuilder p = new StringBuilder();
    for (JsonMappingException.Reference r : e.getPath()) {
      p.append('/').append(r.getFieldName() != null ? r.getFieldName() : r.getIndex());
    }
    return p.toString();
  }

  private static int lineOf(Map<String, Integer> lines, String pointer, int otherwise) {
    for (String p = pointer; p != null && !p.isEmpty(); ) {
      Integer line = lines.get(p);
      if (line != null) {
        return line;
      }
      int slash = p.lastIndexOf('/');
      p = slash <= 0 ? null : p.substring(0, slash);
    }
    return otherwise;
  }

  private static int line(JsonProcessingException e) {
    return e.getLocation() == null ? 0 : e.getLocation().getLineNr();
  }
}
