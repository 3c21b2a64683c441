package dev.lockstep.activities.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * One revision of a Helm release, as Helm 3 stores it (the JSON of Go's {@code release.Release}).
 * The JSON tree is kept whole, so fields this class does not know survive a read and a write.
 * Instances are immutable: the {@code with*} methods return a changed copy.
 */
public final class HelmRelease {
  /** Helm's release statuses ({@code release.Status}). */
  public static final String DEPLOYED = "deployed";

  public static final String SUPERSEDED = "superseded";
  public static final String FAILED = "failed";
  public static final String PENDING_UPGRADE = "pending-upgrade";
  public static final String PENDING_ROLLBACK = "pending-rollback";
  public static final String PENDING_INSTALL = "pending-install";

  private static final DateTimeFormatter SECONDS =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss").withZone(ZoneOffset.UTC);

  private final ObjectNode json;

  private HelmRelease(ObjectNode json) {
    this.json = json;
  }

  /** Wraps a release JSON (a copy is kept). */
  public static HelmRelease of(ObjectNode json) {
    return new HelmRelease(json.deepCopy());
  }

  /** The release JSON (a copy). */
  public ObjectNode json() {
    return json.deepCopy();
  }

  public String name() {
    return json.path("name").asText();
  }

  public String namespace() {
    return json.path("namespace").asText();
  }

  public int version() {
    return json.path("version").asInt();
  }

  public String status() {
    return json.path("info").path("status").asText();
  }

  public String description() {
    return json.path("info").path("description").asText();
  }

  public String lastDeployed() {
    return json.path("info").path("last_deployed").asText();
  }

  public String chartName() {
    return json.path("chart").path("metadata").path("name").asText();
  }

  public String chartVersion() {
    return json.path("chart").path("metadata").path("version").asText();
  }

  public String appVersion() {
    return json.path("chart").path("metadata").path("appVersion").asText();
  }

  /** The chart's JSON (metadata, templates, values, schema, files), a copy. */
  public ObjectNode chart() {
    JsonNode chart = json.get("chart");
    return chart instanceof ObjectNode o ? o.deepCopy() : JsonNodeFactory.instance.objectNode();
  }

  /** The user-supplied values ({@code helm get values}); empty when none. */
  public ObjectNode config() {
    JsonNode config = json.get("config");
    return config instanceof ObjectNode o ? o.deepCopy() : JsonNodeFactory.instance.objectNode();
  }

  /** The rendered manifest of the objects that are not hooks, as Helm joined them. */
  public String manifest() {
    return json.path("manifest").asText();
  }

  /** The chart's hooks as rendered for this revision. */
  public List<Hook> hooks() {
    List<Hook> hooks = new ArrayList<>();
    for (JsonNode hook : json.path("hooks")) {
      List<String> events = new ArrayList<>();
      hook.path("events").forEach(e -> events.add(e.asText()));
      List<String> policies = new ArrayList<>();
      hook.path("delete_policies").forEach(e -> policies.add(e.asText()));
      hooks.add(
          new Hook(
              hook.path("name").asText(),
              hook.path("kind").asText(),
              hook.path("path").asText(),
              hook.path("manifest").asText(),
              events,
              hook.path("weight").asInt(0),
              policies));
    }
    return hooks;
  }

  /** One hook of a release (Go's {@code release.Hook}). */
  public record Hook(
      String name,
      String kind,
      String path,
      String manifest,
      List<String> events,
      int weight,
      List<String> deletePolicies) {

    /** The hook's JSON, the fields in Helm's order; {@code weight} omitted when 0, as Go does. */
    ObjectNode toJson() {
      ObjectNode node = JsonNodeFactory.instance.objectNode();
      node.put("name", name);
      node.put("kind", kind);
      node.put("path", path);
      node.put("manifest", manifest);
      ArrayNode ev = node.putArray("events");
      events.forEach(ev::add);
      ObjectNode lastRun = node.putObject("last_run");
      lastRun.put("started_at", "");
      lastRun.put("completed_at", "");
      lastRun.put("phase", "");
      if (weight != 0) {
        node.put("weight", weight);
      }
      if (!deletePolicies.isEmpty()) {
        ArrayNode dp = node.putArray("delete_policies");
        deletePolicies.forEach(dp::add);
      }
      return node;
    }
  }

  /** This revision with another status and description, last deployed unchanged. */
  public HelmRelease withStatus(String status, String description) {
    ObjectNode copy = json.deepCopy();
    ObjectNode info = copy.with("info");
    info.put("status", status);
    if (description != null) {
      info.put("description", description);
    }
    return new HelmRelease(copy);
  }

  /**
   * The next revision, as {@code helm upgrade} (or {@code rollback}) builds it: the new chart,
   * user-supplied values, manifest and hooks, first deployed kept from this one.
   */
  public HelmRelease next(
      ObjectNode chart,
      ObjectNode config,
      String manifest,
      List<Hook> hooks,
      String status,
      String description,
      Instant now) {
    return build(
        name(),
        namespace(),
        version() + 1,
        json.path("info").path("first_deployed").asText(goTime(now)),
        chart,
        config,
        manifest,
        hooks,
        status,
        description,
        now);
  }

  /** A first revision, as {@code helm install} writes it. */
  public static HelmRelease first(
      String name,
      String namespace,
      ObjectNode chart,
      ObjectNode config,
      String manifest,
      List<Hook> hooks,
      String status,
      String description,
      Instant now) {
    return build(
        name, namespace, 1, goTime(now), chart, config, manifest, hooks, status, description, now);
  }

  private static HelmRelease build(
      String name,
      String namespace,
      int version,
      String firstDeployed,
      ObjectNode chart,
      ObjectNode config,
      String manifest,
      List<Hook> hooks,
      String status,
      String description,
      Instant now) {
    // Field order and omissions as Go's encoding/json writes release.Release.
    ObjectNode node = JsonNodeFactory.instance.objectNode();
    node.put("name", name);
    ObjectNode info = node.putObject("info");
    info.put("first_deployed", firstDeployed);
    info.put("last_deployed", goTime(now));
    info.put("deleted", "");
    info.put("description", description);
    info.put("status", status);
    node.set("chart", chart);
    if (config != null && !config.isEmpty()) {
      node.set("config", config);
    }
    node.put("manifest", manifest);
    if (!hooks.isEmpty()) {
      ArrayNode array = node.putArray("hooks");
      hooks.forEach(h -> array.add(h.toJson()));
    }
    node.put("version", version);
    node.put("namespace", namespace);
    return new HelmRelease(node);
  }

  /** A time as Go's {@code time.Time} marshals it (RFC 3339 with nanoseconds, zeros trimmed). */
  static String goTime(Instant instant) {
    String seconds = SECONDS.format(instant);
    int nanos = instant.getNano();
    if (nanos == 0) {
      return seconds + "Z";
    }
    String fraction = String.format("%09d", nanos).replaceAll("0+$", "");
    return seconds + "." + fraction + "Z";
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof HelmRelease r && r.json.equals(json);
  }

  @Override
  public int hashCode() {
    return json.hashCode();
  }

  @Override
  public String toString() {
    return name()
        + " v"
        + version()
        + " "
        + status()
        + " ("
        + chartName()
        + "-"
        + chartVersion()
        + ")";
  }
}
