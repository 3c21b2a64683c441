package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Label and field selectors with the syntax, matching rules and error messages of the Kubernetes
 * API server (k8s.io/apimachinery labels and fields packages).
 */
public final class Selectors {

  private Selectors() {}

  /**
   * Parses a label selector query string such as {@code a=b,c!=d,e in (x,y),f notin (z),g,!h}
   * ({@code ==}, and the integer comparisons {@code >} and {@code <}, are accepted too). An empty
   * or null selector matches everything.
   *
   * @param expr the value of the {@code labelSelector} query parameter
   * @return a predicate over an object's labels; it accepts null for an object without labels
   * @throws IllegalArgumentException on bad syntax, with the API server's message (e.g. {@code
   *     unable to parse requirement: ...})
   */
  public static Predicate<Map<String, String>> parseLabelSelector(String expr) {
    if (expr == null) {
      return labels -> true;
    }
    List<Requirement> requirements = new LabelSelectorParser(expr).parse();
    return labels -> matchesAll(requirements, labels);
  }

  /**
   * Evaluates a structured LabelSelector ({@code {matchLabels: {}, matchExpressions: [{key,
   * operator: In|NotIn|Exists|DoesNotExist, values}]}}) against labels; all terms must match.
   *
   * <p>A null (or JSON null) selector and an empty selector both match everything. Upstream, a
   * missing selector means "nothing" for some consumers (e.g. PodDisruptionBudget in policy/v1), so
   * callers with such semantics must check for an absent selector themselves.
   *
   * @param labelSelector the selector object, or null
   * @param labels the object's labels; null means none
   * @throws IllegalArgumentException if the selector is invalid (unknown operator, bad key/value)
   */
  public static boolean matches(JsonNode labelSelector, Map<String, String> labels) {
    if (labelSelector == null || labelSelector.isNull() || labelSelector.isMissingNode()) {
      return true;
    }
    return matchesAll(structuredRequirements(labelSelector), labels);
  }

  /**
   * Parses a field selector ({@code a=b}, {@code a==b}, {@code a!=b}, comma-separated; {@code \,},
   * {@code \=} and {@code \\} escape values) for a resource. Every resource supports {@code
   * metadata.name} and {@code metadata.namespace}; pods, events, nodes, secrets, jobs, namespaces,
   * replicasets and replicationcontrollers support the same extra fields as upstream. A missing
   * value compares as "" except where upstream always stores a default (booleans compare as
   * "false", counts as "0", a secret's type as "Opaque", ...). An empty or null selector matches
   * everything.
   *
   * @param resourcePlural the resource, e.g. "pods" or "events"
   * @param expr the value of the {@code fieldSelector} query parameter
   * @return a predicate over the whole object
   * @throws IllegalArgumentException on bad syntax or an unsupported field, e.g. {@code "foo.bar"
   *     is not a known field selector: only "metadata.name", "metadata.namespace"}
   */
  public static Predicate<JsonNode> parseFieldSelector(String resourcePlural, String expr) {
    if (expr == null || expr.isEmpty()) {
      return object -> true;
    }
    List<FieldTerm> parsed = parseFieldTerms(expr);
    Map<String, Function<JsonNode, String>> fields = FieldSelectors.forResource(resourcePlural);
    List<Predicate<JsonNode>> terms = new ArrayList<>();
    for (FieldTerm term : parsed) {
      Function<JsonNode, String> field = fields.get(term.field());
      if (field == null) {
        throw new IllegalArgumentException(
            quote(term.field())
                + " is not a known field selector: only "
                + FieldSelectors.documented(resourcePlural).stream()
                    .map(Selectors::quote)
                    .collect(Collectors.joining(", ")));
      }
      terms.add(object -> term.equal() == field.apply(object).equals(term.value()));
    }
    return object -> terms.stream().allMatch(term -> term.test(object));
  }

  private static boolean matchesAll(List<Requirement> requirements, Map<String, String> labels) {
    Map<String, String> present = labels == null ? Collections.emptyMap() : labels;
    return requirements.stream().allMatch(requirement -> requirement.matches(present));
  }

  // ---- label requirements -------------------------------------------------------------------

  private enum Operator {
    IN,
    NOT_IN,
    EQUALS,
    NOT_EQUALS,
    EXISTS,
    DOES_NOT_EXIST,
    GREATER_THAN,
    LESS_THAN
  }

  private record Requirement(String key, Operator operator, Set<String> values) {

    /** Validates like apimachinery's labels.NewRequirement and reports all problems at once. */
    static Requirement create(String key, Operator operator, List<String> values) {
      List<String> errors = new ArrayList<>();
      String keyError = LabelValidation.keyError(key, "key");
      if (keyError != null) {
        errors.add(keyError);
      }
      switch (operator) {
        case IN, NOT_IN -> {
          if (values.isEmpty()) {
            errors.add(
                invalid(
                    "values",
                    goSlice(values),
                    "for 'in', 'notin' operators, values set can't be empty"));
          }
        }
        case EQUALS, NOT_EQUALS -> {
          if (values.size() != 1) {
            errors.add(
                invalid(
                    "values",
                    goSlice(values),
                    "exact-match compatibility requires one single value"));
          }
        }
        case EXISTS, DOES_NOT_EXIST -> {
          if (!values.isEmpty()) {
            errors.add(
                invalid(
                    "values",
                    goSlice(values),
                    "values set must be empty for exists and does not exist"));
          }
        }
        case GREATER_THAN, LESS_THAN -> {
          if (values.size() != 1) {
            errors.add(
                invalid(
                    "values",
                    goSlice(values),
                    "for 'Gt', 'Lt' operators, exactly one value is required"));
          }
          for (int i = 0; i < values.size(); i++) {
            if (parseLong(values.get(i)) == null) {
              errors.add(
                  invalid(
                      "values[" + i + "]",
                      quote(values.get(i)),
                      "for 'Gt', 'Lt' operators, the value must be an integer"));
            }
          }
        }
      }
      for (int i = 0; i < values.size(); i++) {
        String valueError =
            LabelValidation.valueError(values.get(i), "values[" + i + "][" + key + "]");
        if (valueError != null) {
          errors.add(valueError);
        }
      }
      if (!errors.isEmpty()) {
        // Go's aggregate error: one message alone, several as "[a, b]".
        throw new IllegalArgumentException(
            errors.size() == 1 ? errors.get(0) : "[" + String.join(", ", errors) + "]");
      }
      return new Requirement(key, operator, new TreeSet<>(values));
    }

    boolean matches(Map<String, String> labels) {
      String value = labels.get(key);
      switch (operator) {
        case IN:
        case EQUALS:
          return value != null && values.contains(value);
        case NOT_IN:
        case NOT_EQUALS:
          return value == null || !values.contains(value);
        case EXISTS:
          return value != null;
        case DOES_NOT_EXIST:
          return value == null;
        default:
          // Gt/Lt: a label that is missing or not an integer never matches.
          Long actual = value == null ? null : parseLong(value);
          Long bound = parseLong(values.iterator().next());
          if (actual == null || bound == null) {
            return false;
          }
          return operator == Operator.GREATER_THAN ? actual > bound : actual < bound;
      }
    }
  }

  private static List<Requirement> structuredRequirements(JsonNode selector) {
    List<Requirement> requirements = new ArrayList<>();
    JsonNode matchLabels = selector.path("matchLabels");
    for (Map.Entry<String, JsonNode> label : matchLabels.properties()) {
      requirements.add(
          Requirement.create(label.getKey(), Operator.EQUALS, List.of(label.getValue().asText())));
    }
    for (JsonNode expression : selector.path("matchExpressions")) {
      String operator = expression.path("operator").asText();
      Operator op =
          switch (operator) {
            case "In" -> Operator.IN;
            case "NotIn" -> Operator.NOT_IN;
            case "Exists" -> Operator.EXISTS;
            case "DoesNotExist" -> Operator.DOES_NOT_EXIST;
            default ->
                throw new IllegalArgumentException(
                    quote(operator) + " is not a valid label selector operator");
          };
      List<String> values = new ArrayList<>();
      expression.path("values").forEach(value -> values.add(value.asText()));
      requirements.add(Requirement.create(expression.path("key").asText(), op, values));
    }
    return requirements;
  }

  private static Long parseLong(String text) {
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** A field.Invalid error as apimachinery prints it. */
  private static String invalid(String field, String goValue, String detail) {
    return field + ": Invalid value: " + goValue + ": " + detail;
  }

  /** Go's %q for the strings that can reach an error message. */
  private static String quote(String text) {
    StringBuilder quoted = new StringBuilder("\"");
    for (char c : text.toCharArray()) {
      switch (c) {
        case '"' -> quoted.append("\\\"");
        case '\\' -> quoted.append("\\\\");
        case '\n' -> quoted.append("\\n");
        case '\t' -> quoted.append("\\t");
        case '\r' -> quoted.append("\\r");
        default -> {
          if (c < 0x20) {
            quoted.append(String.format("\\x%02x", (int) c));
          } else {
            quoted.append(c);
          }
        }
      }
    }
    return quoted.append('"').toString();
  }

  /** Go's %#v of a []string. */
  private static String goSlice(List<String> values) {
    return values.stream()
        .map(Selectors::quote)
        .collect(Collectors.joining(", ", "[]string{", "}"));
  }

  /** Label key and value rules from apimachinery's util/validation, with their messages. */
  private static final class LabelValidation {
    private static final String NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
    private static final String NAME_MSG =
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an"
            + " alphanumeric character";
    private static final String DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
    private static final String DNS1123_SUBDOMAIN_FMT =
        DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*";
    private static final String DNS1123_SUBDOMAIN_MSG =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-'"
            + " or '.', and must start and end with an alphanumeric character";
    private static final String VALUE_FMT = "(" + NAME_FMT + ")?";
    private static final String VALUE_MSG =
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or"
            + " '.', and must start and end with an alphanumeric character";
    private static final Pattern NAME = Pattern.compile(NAME_FMT);
    private static final Pattern DNS1123_SUBDOMAIN = Pattern.compile(DNS1123_SUBDOMAIN_FMT);
    private static final Pattern VALUE = Pattern.compile(VALUE_FMT);

    private LabelValidation() {}

    /** The field.Invalid message for a bad qualified-name label key, or null if it is valid. */
    static String keyError(String key, String field) {
      List<String> errors = new ArrayList<>();
      String[] parts = key.split("/", -1);
      String name = parts[parts.length - 1];
      if (parts.length > 2) {
        errors.add(
            "a qualified name "
                + regexError(NAME_MSG, NAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
      } else {
        if (parts.length == 2) {
          String prefix = parts[0];
          if (prefix.isEmpty()) {
            errors.add("prefix part must be non-empty");
          } else {
            if (prefix.length() > 253) {
              errors.add("prefix part must be no more than 253 characters");
            }
            if (!DNS1123_SUBDOMAIN.matcher(prefix).matches()) {
              errors.add(
                  "prefix part "
                      + regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"));
            }
          }
        }
        if (name.isEmpty()) {
          errors.add("name part must be non-empty");
        } else if (name.length() > 63) {
          errors.add("name part must be no more than 63 characters");
        }
        if (!NAME.matcher(name).matches()) {
          errors.add("name part " + regexError(NAME_MSG, NAME_FMT, "MyName", "my.name", "123-abc"));
        }
      }
      return errors.isEmpty() ? null : invalid(field, quote(key), String.join("; ", errors));
    }

    /** The field.Invalid message for a bad label value, or null if it is valid. */
    static String valueError(String value, String field) {
      List<String> errors = new ArrayList<>();
      if (value.length() > 63) {
        errors.add("must be no more than 63 characters");
      }
      if (!VALUE.matcher(value).matches()) {
        errors.add(regexError(VALUE_MSG, VALUE_FMT, "MyValue", "my_value", "12345"));
      }
      return errors.isEmpty() ? null : invalid(field, quote(value), String.join("; ", errors));
    }

    /** validation.RegexError, including its double spaces before "or". */
    private static String regexError(String message, String format, String... examples) {
      StringBuilder text = new StringBuilder(message).append(" (e.g. ");
      for (int i = 0; i < examples.length; i++) {
        if (i > 0) {
          text.append(" or ");
        }
        text.append('\'').append(examples[i]).append("', ");
      }
      return text.append("regex used for validation is '").append(format).append("')").toString();
    }
  }

  // ---- label selector syntax ----------------------------------------------------------------

  private enum Token {
    IDENTIFIER,
    IN,
    NOT_IN,
    EQUALS,
    DOUBLE_EQUALS,
    NOT_EQUALS,
    DOES_NOT_EXIST,
    GREATER_THAN,
    LESS_THAN,
    OPEN_PAR,
    CLOSED_PAR,
    COMMA,
    END
  }

  private record Item(Token token, String literal) {}

  /**
   * A port of apimachinery's labels.Parser, so that both accepted syntax and error messages match.
   * Tokens are scanned up front; "in" and "notin" are identifiers wherever a value is expected.
   */
  private static final class LabelSelectorParser {
    private static final Map<String, Token> SYMBOLS =
        Map.of(
            ")", Token.CLOSED_PAR,
            ",", Token.COMMA,
            "!", Token.DOES_NOT_EXIST,
            "==", Token.DOUBLE_EQUALS,
            "=", Token.EQUALS,
            ">", Token.GREATER_THAN,
            "<", Token.LESS_THAN,
            "!=", Token.NOT_EQUALS,
            "(", Token.OPEN_PAR);

    private static final String BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt";

    private final List<Item> items = new ArrayList<>();
    private int position;

    LabelSelectorParser(String selector) {
      scan(selector);
    }

    List<Requirement> parse() {
      List<Requirement> requirements = new ArrayList<>();
      while (true) {
        Item next = lookahead();
        switch (next.token()) {
          case IDENTIFIER, DOES_NOT_EXIST -> {
            try {
              requirements.add(parseRequirement());
            } catch (IllegalArgumentException e) {
              throw new IllegalArgumentException("unable to parse requirement: " + e.getMessage());
            }
            Item separator = consume();
            if (separator.token() == Token.END) {
              return requirements;
            }
            if (separator.token() != Token.COMMA) {
              throw error("found '%s', expected: ',' or 'end of string'", separator.literal());
            }
            Item after = lookahead();
            if (after.token() != Token.IDENTIFIER && after.token() != Token.DOES_NOT_EXIST) {
              throw error("found '%s', expected: identifier after ','", after.literal());
            }
          }
          case END -> {
            return requirements;
          }
          default ->
              throw error(
                  "found '%s', expected: !, identifier, or 'end of string'", next.literal());
        }
      }
    }

    private Requirement parseRequirement() {
      Operator operator = null;
      Item item = consume();
      if (item.token() == Token.DOES_NOT_EXIST) {
        operator = Operator.DOES_NOT_EXIST;
        item = consume();
      }
      if (item.token() != Token.IDENTIFIER) {
        throw error("found '%s', expected: identifier", item.literal());
      }
      String key = item.literal();
      // The parser validates the key before it has a field path, hence Go's "<nil>".
      String keyError = LabelValidation.keyError(key, "<nil>");
      if (keyError != null) {
        throw new IllegalArgumentException(keyError);
      }
      Token next = lookahead().token();
      if (operator == null && (next == Token.END || next == Token.COMMA)) {
        operator = Operator.EXISTS;
      }
      if (operator != null) {
        return Requirement.create(key, operator, List.of());
      }
      operator = parseOperator();
      List<String> values =
          operator == Operator.IN || operator == Operator.NOT_IN
              ? parseValues()
              : parseExactValue();
      return Requirement.create(key, operator, values);
    }

    private Operator parseOperator() {
      // Operators are read without the value context, so "in" and "notin" are keywords here.
      Item item = items.get(position++);
      return switch (item.token()) {
        case IN -> Operator.IN;
        case NOT_IN -> Operator.NOT_IN;
        case EQUALS, DOUBLE_EQUALS -> Operator.EQUALS;
        case NOT_EQUALS -> Operator.NOT_EQUALS;
        case GREATER_THAN -> Operator.GREATER_THAN;
        case LESS_THAN -> Operator.LESS_THAN;
        default -> throw error("found '%s', expected: %s", item.literal(), BINARY_OPERATORS);
      };
    }

    private List<String> parseValues() {
      Item open = consume();
      if (open.token() != Token.OPEN_PAR) {
        throw error("found '%s' expected: '('", open.literal());
      }
      Item next = lookahead();
      switch (next.token()) {
        case IDENTIFIER, COMMA -> {
          Set<String> values = parseIdentifierList();
          Item close = consume();
          if (close.token() != Token.CLOSED_PAR) {
            throw error("found '%s', expected: ')'", next.literal());
          }
          return new ArrayList<>(values);
        }
        case CLOSED_PAR -> {
          consume();
          return List.of("");
        }
        default -> throw error("found '%s', expected: ',', ')' or identifier", next.literal());
      }
    }

    /** Comma-separated values up to ')'; empty entries ("(,a)", "(a,)") stand for "". */
    private Set<String> parseIdentifierList() {
      Set<String> values = new TreeSet<>();
      while (true) {
        Item item = consume();
        switch (item.token()) {
          case IDENTIFIER -> {
            values.add(item.literal());
            Item next = lookahead();
            if (next.token() == Token.CLOSED_PAR) {
              return values;
            }
            if (next.token() != Token.COMMA) {
              throw error("found '%s', expected: ',' or ')'", next.literal());
            }
          }
          case COMMA -> {
            if (values.isEmpty()) {
              values.add("");
            }
            Token next = lookahead().token();
            if (next == Token.CLOSED_PAR) {
              values.add("");
              return values;
            }
            if (next == Token.COMMA) {
              consume();
              values.add("");
            }
          }
          default -> throw error("found '%s', expected: ',', or identifier", item.literal());
        }
      }
    }

    private List<String> parseExactValue() {
      Token next = lookahead().token();
      if (next == Token.END || next == Token.COMMA) {
        return List.of("");
      }
      Item item = consume();
      if (item.token() == Token.IDENTIFIER) {
        return List.of(item.literal());
      }
      throw error("found '%s', expected: identifier", item.literal());
    }

    /** The next token in the value context, where "in" and "notin" are plain identifiers. */
    private Item lookahead() {
      Item item = items.get(position);
      return item.token() == Token.IN || item.token() == Token.NOT_IN
          ? new Item(Token.IDENTIFIER, item.literal())
          : item;
    }

    private Item consume() {
      Item item = lookahead();
      position++;
      return item;
    }

    private static IllegalArgumentException error(String format, Object... args) {
      return new IllegalArgumentException(String.format(format, args));
    }

    private void scan(String selector) {
      int i = 0;
      int length = selector.length();
      while (true) {
        while (i < length && isWhitespace(selector.charAt(i))) {
          i++;
        }
        if (i >= length) {
          items.add(new Item(Token.END, ""));
          return;
        }
        if (isSpecial(selector.charAt(i))) {
          // Every special character is a symbol by itself; "!=" and "==" take two.
          String pair = selector.substring(i, Math.min(i + 2, length));
          String symbol = SYMBOLS.containsKey(pair) ? pair : selector.substring(i, i + 1);
          items.add(new Item(SYMBOLS.get(symbol), symbol));
          i += symbol.length();
        } else {
          int start = i;
          while (i < length
              && !isSpecial(selector.charAt(i))
              && !isWhitespace(selector.charAt(i))) {
            i++;
          }
          String word = selector.substring(start, i);
          Token token =
              switch (word) {
                case "in" -> Token.IN;
                case "notin" -> Token.NOT_IN;
                default -> Token.IDENTIFIER;
              };
          items.add(new Item(token, word));
        }
      }
    }

    private static boolean isWhitespace(char c) {
      return c == ' ' || c == '\t' || c == '\r' || c == '\n';
    }

    private static boolean isSpecial(char c) {
      return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
    }
  }

  // ---- field selectors ----------------------------------------------------------------------

  private record FieldTerm(String field, boolean equal, String value) {}

  /** Splits and unescapes like apimachinery's fields.ParseSelector. */
  private static List<FieldTerm> parseFieldTerms(String selector) {
    List<FieldTerm> terms = new ArrayList<>();
    for (String part : splitFieldTerms(selector)) {
      if (part.isEmpty()) {
        continue;
      }
      FieldTerm term = splitFieldTerm(part);
      if (term == null) {
        throw new IllegalArgumentException(
            "invalid selector: '" + selector + "'; can't understand '" + part + "'");
      }
      terms.add(term);
    }
    return terms;
  }

  /** Splits on commas that are not escaped with a backslash; escapes stay in the terms. */
  private static List<String> splitFieldTerms(String selector) {
    List<String> terms = new ArrayList<>();
    int start = 0;
    boolean escaped = false;
    for (int i = 0; i < selector.length(); i++) {
      char c = selector.charAt(i);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == ',') {
        terms.add(selector.substring(start, i));
        start = i + 1;
      }
    }
    terms.add(selector.substring(start));
    return terms;
  }

  /** Splits at the first operator; "!=" and "==" are tried before "=" at each position. */
  private static FieldTerm splitFieldTerm(String term) {
    for (int i = 0; i < term.length(); i++) {
      String rest = term.substring(i);
      String field = term.substring(0, i);
      if (rest.startsWith("!=")) {
        return new FieldTerm(field, false, unescapeFieldValue(rest.substring(2)));
      }
      if (rest.startsWith("==")) {
        return new FieldTerm(field, true, unescapeFieldValue(rest.substring(2)));
      }
      if (rest.startsWith("=")) {
        return new FieldTerm(field, true, unescapeFieldValue(rest.substring(1)));
      }
    }
    return null;
  }

  private static String unescapeFieldValue(String value) {
    StringBuilder unescaped = new StringBuilder();
    boolean escaped = false;
    for (char c : value.toCharArray()) {
      if (escaped) {
        if (c != '\\' && c != ',' && c != '=') {
          throw new IllegalArgumentException(
              "invalid field selector: invalid escape sequence: \\" + c);
        }
        unescaped.append(c);
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == ',' || c == '=') {
        throw new IllegalArgumentException(
            "invalid field selector: unescaped character in value: " + c);
      } else {
        unescaped.append(c);
      }
    }
    if (escaped) {
      throw new IllegalArgumentException("invalid field selector: invalid escape sequence: \\");
    }
    return unescaped.toString();
  }

  /** The selectable fields of each resource, as upstream's GetAttrs/ToSelectableFields. */
  private static final class FieldSelectors {
    private FieldSelectors() {}

    /** Every field a selector may use, including upstream's aliases. */
    static Map<String, Function<JsonNode, String>> forResource(String resourcePlural) {
      Map<String, Function<JsonNode, String>> fields = documentedFields(resourcePlural);
      if ("pods".equals(resourcePlural)) {
        // Old v1 clients send spec.host.
        fields.put("spec.host", fields.get("spec.nodeName"));
      } else if ("events".equals(resourcePlural)) {
        // The names events.k8s.io/v1 clients use for the same fields.
        for (String part :
            List.of(
                "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")) {
          fields.put("regarding." + part, fields.get("involvedObject." + part));
        }
        fields.put("reportingController", fields.get("reportingComponent"));
      }
      return fields;
    }

    /** The field names an error message lists. */
    static List<String> documented(String resourcePlural) {
      return new ArrayList<>(documentedFields(resourcePlural).keySet());
    }

    private static Map<String, Function<JsonNode, String>> documentedFields(String resourcePlural) {
      Map<String, Function<JsonNode, String>> fields = new LinkedHashMap<>();
      fields.put("metadata.name", object -> text(object, "", "metadata", "name"));
      fields.put("metadata.namespace", object -> text(object, "", "metadata", "namespace"));
      switch (resourcePlural == null ? "" : resourcePlural) {
        case "pods" -> {
          fields.put("spec.nodeName", object -> text(object, "", "spec", "nodeName"));
          fields.put(
              "spec.restartPolicy", object -> text(object, "Always", "spec", "restartPolicy"));
          fields.put(
              "spec.schedulerName",
              object -> text(object, "default-scheduler", "spec", "schedulerName"));
          fields.put(
              "spec.serviceAccountName", object -> text(object, "", "spec", "serviceAccountName"));
          fields.put("spec.hostNetwork", object -> text(object, "false", "spec", "hostNetwork"));
          fields.put("status.phase", object -> text(object, "", "status", "phase"));
          fields.put("status.podIP", Selectors.FieldSelectors::podIp);
          // Upstream accepts status.podIPs but has no value for it; the primary IP is more useful.
          fields.put("status.podIPs", Selectors.FieldSelectors::podIp);
          fields.put(
              "status.nominatedNodeName",
              object -> text(object, "", "status", "nominatedNodeName"));
        }
        case "events" -> {
          for (String part :
              List.of(
                  "kind",
                  "namespace",
                  "name",
                  "uid",
                  "apiVersion",
                  "resourceVersion",
                  "fieldPath")) {
            // events.k8s.io/v1 objects call involvedObject "regarding".
            fields.put(
                "involvedObject." + part,
                object ->
                    text(object, null, "involvedObject", part) != null
                        ? text(object, "", "involvedObject", part)
                        : text(object, "", "regarding", part));
          }
          fields.put("reason", object -> text(object, "", "reason"));
          fields.put(
              "reportingComponent",
              object ->
                  text(object, null, "reportingComponent") != null
                      ? text(object, "", "reportingComponent")
                      : text(object, "", "reportingController"));
          fields.put(
              "source",
              object ->
                  text(object, null, "source", "component") != null
                      ? text(object, "", "source", "component")
                      : text(object, "", "deprecatedSource", "component"));
          fields.put("type", object -> text(object, "", "type"));
        }
        case "nodes" ->
            fields.put(
                "spec.unschedulable", object -> text(object, "false", "spec", "unschedulable"));
        case "secrets" -> fields.put("type", object -> text(object, "Opaque", "type"));
        // The field is called status.successful but reads status.succeeded.
        case "jobs" ->
            fields.put("status.successful", object -> text(object, "0", "status", "succeeded"));
        case "namespaces" ->
            fields.put("status.phase", object -> text(object, "Active", "status", "phase"));
        case "replicasets", "replicationcontrollers" ->
            fields.put("status.replicas", object -> text(object, "0", "status", "replicas"));
        default -> {}
      }
      return fields;
    }

    private static String podIp(JsonNode pod) {
      String podIp = text(pod, "", "status", "podIP");
      return podIp.isEmpty() ? text(pod.path("status").path("podIPs").path(0), "", "ip") : podIp;
    }

    /**
     * The scalar at {@code path} as the API server would print it ("true", "3", ...), or {@code
     * absent} when it is missing or null.
     */
    private static String text(JsonNode object, String absent, String... path) {
      JsonNode node = object;
      for (String name : path) {
        node = node == null ? null : node.get(name);
      }
      if (node == null || node.isNull() || node.isContainerNode()) {
        return absent;
      }
      return node.asText();
    }
  }
}
