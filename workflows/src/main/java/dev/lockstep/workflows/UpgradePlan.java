package dev.lockstep.workflows;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What to change and how: a YAML plan file ({@code -f PLAN.yaml}) or the CLI flags that build one.
 * Fields left out take their defaults; the {@code effective...} methods give them.
 *
 * @param target {@code [NAMESPACE/]KIND/NAME}
 * @param cluster the cluster the target lives in
 * @param change the new image(s), resources and template patch
 * @param gate where to wait for a human: after the first unit (default), after each, or never
 * @param gateTimeout optional: how long a gate waits before {@code onGateTimeout} applies
 * @param onGateTimeout hold, resume or rollback
 * @param unitTimeout how long one unit may take to become Ready on the new revision
 * @param crashLoopRestarts a unit restarting this often has failed
 * @param soak how long a unit must stay Ready before it counts as done (default 0)
 * @param scaleUp add one unit first, upgrade it first, remove it at the end
 * @param onFailure rollback or hold
 * @param retries roll back and try again this many times before {@code onFailure}
 * @param force names of pre-checks to skip (recorded)
 * @param health optional per-unit HTTP check through the API server's pod proxy
 * @param migration whether the migration can be reversed
 * @param hooks Kubernetes Jobs run at named points
 * @param repair instead of a change: take over the target from a run that ended outside Lockstep
 *     and either continue that run's change or restore the revision it started from
 * @param strategy how a Deployment is upgraded: {@code rolling} (the default), {@code canary} or
 *     {@code blueGreen}; a StatefulSet takes none
 * @param approvals how many distinct people must resume a gate before it opens (default 1)
 * @param excludeStarter whether the one who started the run is refused as an approver of its gates
 * @param notifications ({@code notify:} in a plan file) webhooks told when a gate waits (and
 *     reminded while it waits), and on HELD, FAILED, ROLLED_BACK and COMPLETED
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record UpgradePlan(
    String target,
    String cluster,
    Change change,
    Gate gate,
    String gateTimeout,
    GateTimeoutPolicy onGateTimeout,
    String unitTimeout,
    Integer crashLoopRestarts,
    String soak,
    Boolean scaleUp,
    FailurePolicy onFailure,
    Integer retries,
    List<String> force,
    Health health,
    Migration migration,
    Hooks hooks,
    Repair repair,
    Strategy strategy,
    Integer approvals,
    Boolean excludeStarter,
    @JsonProperty("notify") Notify notifications) {

  public static final String DEFAULT_UNIT_TIMEOUT = "10m";
  public static final int DEFAULT_CRASH_LOOP_RESTARTS = 3;

  /** Where the upgrade waits for {@code resume}. */
  public enum Gate {
    @JsonProperty("first")
    FIRST,
    @JsonProperty("each")
    EACH,
    @JsonProperty("none")
    NONE
  }

  /** What a gate does when its timeout passes. */
  public enum GateTimeoutPolicy {
    @JsonProperty("hold")
    HOLD,
    @JsonProperty("resume")
    RESUME,
    @JsonProperty("rollback")
    ROLLBACK
  }

  /** What a repair does with the change of a run that ended outside Lockstep. */
  public enum Repair {
    /** Move the remaining units to the revision the dead run applied, then finish. */
    @JsonProperty("continue")
    CONTINUE,
    /** Return every unit to the revision the dead run started from. */
    @JsonProperty("restore")
    RESTORE
  }

  /** What a failed upgrade does. */
  public enum FailurePolicy {
    @JsonProperty("rollback")
    ROLLBACK,
    @JsonProperty("hold")
    HOLD
  }

  /**
   * The change to the pod template.
   *
   * @param images container name to new image
   * @param template a JSON merge patch of {@code spec.template}
   * @param resources container name to resource requirements ({@code requests}, {@code limits})
   * @param restore a rollback: the ControllerRevision (name, or revision number) whose template to
   *     restore; exclusive with the other fields
   */
  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  public record Change(
      Map<String, String> images,
      Map<String, Object> template,
      Map<String, Map<String, Map<String, String>>> resources,
      String restore) {

    /** The key of {@link #images()} that means "the target's only container". */
    public static final String ONLY_CONTAINER = "";

    public Change {
      images =
          images == null
              ? Map.of()
              : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(images));
      template = template == null ? Map.of() : template;
      resources = resources == null ? Map.of() : resources;
    }

    /** A change of images, template and resources. */
    public Change(
        Map<String, String> images,
        Map<String, Object> template,
        Map<String, Map<String, Map<String, String>>> resources) {
      this(images, template, resources, null);
    }

    /** A rollback: restore the template of a ControllerRevision, by name or by number. */
    public static Change restoring(String revision) {
      return new Change(null, null, null, revision);
    }

    /** Whether it asks for nothing at all. */
    @JsonIgnore
    public boolean isEmpty() {
      return images.isEmpty() && template.isEmpty() && resources.isEmpty() && restore == null;
    }
  }

  /**
   * An HTTP check of each unit through the API server's pod proxy, once the unit is Ready on the
   * new revision: {@code GET /api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH} until it answers
   * {@code successes} times in a row with {@code expectStatus} (any 2xx when not given), within the
   * unit timeout.
   */
  public record Health(Integer port, String path, Integer successes, Integer expectStatus) {
    public Health(Integer port, String path, Integer successes) {
      this(port, path, successes, null);
    }

    public String effectivePath() {
      return path == null || path.isBlank() ? "/" : path.startsWith("/") ? path : "/" + path;
    }

    public int effectiveSuccesses() {
      return successes == null ? 1 : successes;
    }
  }

  /**
   * Whether the schema migration can be undone. With {@code reversible: false}, a rollback after
   * data moved runs the {@code restore} hook first, or HOLDs unless {@code acceptDataRisk}.
   */
  public record Migration(Boolean reversible, Boolean acceptDataRisk) {
    /** Whether rolling back after the migration would run the old version on migrated data. */
    @JsonIgnore
    public boolean forwardOnly() {
      return Boolean.FALSE.equals(reversible);
    }
  }

  /**
   * A Kubernetes Job: image and command (the shorthand), or a Job under {@code job} (its {@code
   * spec}, or a whole Job with {@code spec}); at most {@code timeout} (default 30m).
   */
  public record Hook(String image, List<String> command, Map<String, Object> job, String timeout) {
    public static final String DEFAULT_TIMEOUT = "30m";

    public Hook(String image, List<String> command) {
      this(image, command, null, null);
    }

    public Duration effectiveTimeout() {
      return Durations.positive("hook timeout", timeout == null ? DEFAULT_TIMEOUT : timeout);
    }

    /** One line for plans and logs: the image and command, or "a Job template". */
    public String describe() {
      return image != null
          ? image + (command == null || command.isEmpty() ? "" : " " + String.join(" ", command))
          : "a Job template";
    }
  }

  /**
   * Who is told what the run does.
   *
   * @param webhooks where to POST; none (an empty list): nobody, not even the worker's defaults
   * @param remindEvery while a gate waits, tell again this often (e.g. 1h); none when not given
   */
  public record Notify(List<Webhook> webhooks, String remindEvery) {
    @com.fasterxml.jackson.annotation.JsonCreator(
        mode = com.fasterxml.jackson.annotation.JsonCreator.Mode.PROPERTIES)
    public Notify(
        @JsonProperty("webhooks") List<Webhook> webhooks,
        @JsonProperty("remindEvery") String remindEvery) {
      this.webhooks = webhooks;
      this.remindEvery = remindEvery;
    }

    /** {@code notify: [...]} in a plan file: the webhooks alone ({@code []}: tell nobody). */
    @com.fasterxml.jackson.annotation.JsonCreator(
        mode = com.fasterxml.jackson.annotation.JsonCreator.Mode.DELEGATING)
    static Notify ofWebhooks(List<Webhook> webhooks) {
      return new Notify(webhooks, null);
    }

    public List<Webhook> effectiveWebhooks() {
      return webhooks == null ? List.of() : webhooks;
    }

    /** The reminder interval, or null for no reminders. */
    public Duration effectiveRemindEvery() {
      return remindEvery == null ? null : Durations.positive("notify.remindEvery", remindEvery);
    }
  }

  /** A webhook: an http(s) URL and its format ({@code json}, the default, or {@code slack}). */
  public record Webhook(String url, String format) {
    public String effectiveFormat() {
      return format == null ? "json" : format;
    }
  }

  /** The hooks of a plan. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Hooks(Hook backup, Hook migrate, Hook test, Hook restore) {
    @JsonIgnore
    public boolean isEmpty() {
      return backup == null && migrate == null && test == null && restore == null;
    }
  }

  /**
   * How a Deployment is upgraded: exactly one of {@code rolling}, {@code canary}, {@code blueGreen}
   * (DESIGN.md, "Deployments"); none means {@code rolling} with the plan's {@code gate}.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Strategy(Rolling rolling, Canary canary, BlueGreen blueGreen) {
    /** The rolling strategy, with the gates the plan's {@code gate} puts in it. */
    public static Strategy rolling(List<String> gates) {
      return new Strategy(new Rolling(gates), null, null);
    }

    /** The name the CLI and {@code status} use: rolling, canary or blue-green. */
    @JsonIgnore
    public String name() {
      return canary != null ? "canary" : blueGreen != null ? "blue-green" : "rolling";
    }
  }

  /**
   * The Deployment's own rolling update (its maxSurge and maxUnavailable), stopped at each gate: a
   * count of new Ready pods ({@code "1"}) or a share of the replicas ({@code "50%"}, rounded up).
   * Without gates, the plan's {@code gate} decides: {@code first} stops after the first new Ready
   * pod, {@code each} after every one, {@code none} never.
   */
  public record Rolling(List<String> gates) {}

  /**
   * Argo Rollouts' basic canary without a mesh: each step is exactly one of {@code setWeight}
   * (percent of the Ready pods behind the Service on the new version), {@code pause} (a gate, or a
   * durable timer with {@code duration}) and {@code analysis} (health checks and the test hook).
   */
  public record Canary(List<CanaryStep> steps) {}

  /** One canary step. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record CanaryStep(Integer setWeight, Pause pause, Map<String, Object> analysis) {}

  /** A canary pause: a gate when {@code duration} is not given. */
  public record Pause(String duration) {}

  /**
   * A preview Deployment and Service beside the user's, the active Service switched to it, and the
   * preview removed {@code scaleDownDelay} after the user's Deployment took the traffic back.
   *
   * @param scaleDownDelay how long the preview stays after the traffic went back to the user's
   *     Deployment (a durable timer); {@link #DEFAULT_SCALE_DOWN_DELAY} when not given
   * @param previewService the preview Service's name; {@code <service>-preview} when not given
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record BlueGreen(String scaleDownDelay, String previewService) {
    public static final String DEFAULT_SCALE_DOWN_DELAY = "30s";

    public BlueGreen(String scaleDownDelay) {
      this(scaleDownDelay, null);
    }

    /** The delay as given, or the default. */
    @JsonIgnore
    public String effectiveScaleDownDelay() {
      return scaleDownDelay == null ? DEFAULT_SCALE_DOWN_DELAY : scaleDownDelay;
    }
  }

  public String effectiveCluster() {
    return cluster == null || cluster.isBlank() ? Names.DEFAULT_CLUSTER : cluster;
  }

  public Gate effectiveGate() {
    return gate == null ? Gate.FIRST : gate;
  }

  /** How long a gate waits before {@link #effectiveOnGateTimeout()} applies; null: for ever. */
  public Duration effectiveGateTimeout() {
    return gateTimeout == null ? null : Durations.positive("gateTimeout", gateTimeout);
  }

  public GateTimeoutPolicy effectiveOnGateTimeout() {
    return onGateTimeout == null ? GateTimeoutPolicy.HOLD : onGateTimeout;
  }

  /** How many distinct identities must resume a gate before it opens. */
  public int effectiveApprovals() {
    return approvals == null ? 1 : approvals;
  }

  /**
   * Whether a gate counts who resumes it: more than one approval, or the starter excluded. Without
   * a policy any resume opens a gate, as before.
   */
  @JsonIgnore
  public boolean countsApprovals() {
    return effectiveApprovals() > 1 || Boolean.TRUE.equals(excludeStarter);
  }

  public Duration effectiveUnitTimeout() {
    return Durations.positive(
        "unitTimeout", unitTimeout == null ? DEFAULT_UNIT_TIMEOUT : unitTimeout);
  }

  /** How long a unit must stay Ready before it counts as done; zero when the plan says nothing. */
  public Duration effectiveSoak() {
    return soak == null ? Duration.ZERO : Durations.notNegative("soak", soak);
  }

  public int effectiveCrashLoopRestarts() {
    return crashLoopRestarts == null ? DEFAULT_CRASH_LOOP_RESTARTS : crashLoopRestarts;
  }

  public int effectiveRetries() {
    return retries == null ? 0 : retries;
  }

  public List<String> effectiveForce() {
    return force == null ? List.of() : force;
  }

  public Hooks effectiveHooks() {
    return hooks == null ? new Hooks(null, null, null, null) : hooks;
  }

  public Migration effectiveMigration() {
    return migration == null ? new Migration(null, null) : migration;
  }

  public Change effectiveChange() {
    return change == null ? new Change(null, null, null) : change;
  }

  /** A copy aimed at another target (and cluster, when given). */
  public UpgradePlan withTarget(String newTarget, String newCluster) {
    return toBuilder().target(newTarget).cluster(newCluster == null ? cluster : newCluster).build();
  }

  /** An empty plan to fill in. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this plan's fields. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.target = target;
    b.cluster = cluster;
    b.change = change;
    b.gate = gate;
    b.gateTimeout = gateTimeout;
    b.onGateTimeout = onGateTimeout;
    b.unitTimeout = unitTimeout;
    b.crashLoopRestarts = crashLoopRestarts;
    b.soak = soak;
    b.scaleUp = scaleUp;
    b.onFailure = onFailure;
    b.retries = retries;
    b.force = force;
    b.health = health;
    b.migration = migration;
    b.hooks = hooks;
    b.repair = repair;
    b.strategy = strategy;
    b.approvals = approvals;
    b.excludeStarter = excludeStarter;
    b.notifications = notifications;
    return b;
  }

  /** Builds a plan field by field; unset fields keep their defaults. */
  public static final class Builder {
    private String target;
    private String cluster;
    private Change change;
    private Gate gate;
    private String gateTimeout;
    private GateTimeoutPolicy onGateTimeout;
    private String unitTimeout;
    private Integer crashLoopRestarts;
    private String soak;
    private Boolean scaleUp;
    private FailurePolicy onFailure;
    private Integer retries;
    private List<String> force;
    private Health health;
    private Migration migration;
    private Hooks hooks;
    private Repair repair;
    private Strategy strategy;
    private Integer approvals;
    private Boolean excludeStarter;
    private Notify notifications;

    private Builder() {}

    public Builder target(String value) {
      target = value;
      return this;
    }

    public Builder cluster(String value) {
      cluster = value;
      return this;
    }

    public Builder change(Change value) {
      change = value;
      return this;
    }

    /** A change of images only: container name (or "" for the only one) to image. */
    public Builder images(Map<String, String> value) {
      change = new Change(value, null, null);
      return this;
    }

    public Builder gate(Gate value) {
      gate = value;
      return this;
    }

    public Builder gateTimeout(String value) {
      gateTimeout = value;
      return this;
    }

    public Builder onGateTimeout(GateTimeoutPolicy value) {
      onGateTimeout = value;
      return this;
    }

    public Builder unitTimeout(String value) {
      unitTimeout = value;
      return this;
    }

    public Builder soak(String value) {
      soak = value;
      return this;
    }

    public Builder crashLoopRestarts(Integer value) {
      crashLoopRestarts = value;
      return this;
    }

    public Builder scaleUp(Boolean value) {
      scaleUp = value;
      return this;
    }

    public Builder onFailure(FailurePolicy value) {
      onFailure = value;
      return this;
    }

    public Builder retries(Integer value) {
      retries = value;
      return this;
    }

    public Builder force(List<String> value) {
      force = value;
      return this;
    }

    public Builder health(Health value) {
      health = value;
      return this;
    }

    public Builder migration(Migration value) {
      migration = value;
      return this;
    }

    public Builder hooks(Hooks value) {
      hooks = value;
      return this;
    }

    public Builder repair(Repair value) {
      repair = value;
      return this;
    }

    public Builder strategy(Strategy value) {
      strategy = value;
      return this;
    }

    public Builder approvals(Integer value) {
      approvals = value;
      return this;
    }

    public Builder excludeStarter(Boolean value) {
      excludeStarter = value;
      return this;
    }

    public Builder notifications(Notify value) {
      notifications = value;
      return this;
    }

    public UpgradePlan build() {
      return new UpgradePlan(
          target,
          cluster,
          change,
          gate,
          gateTimeout,
          onGateTimeout,
          unitTimeout,
          crashLoopRestarts,
          soak,
          scaleUp,
          onFailure,
          retries,
          force,
          health,
          migration,
          hooks,
          repair,
          strategy,
          approvals,
          excludeStarter,
          notifications);
    }
  }
}
