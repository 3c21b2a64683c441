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
 * @param scaleUp add one unit first, upgrade it first, remove it at the end
 * @param onFailure rollback or hold
 * @param retries roll back and try again this many times before {@code onFailure}
 * @param force names of pre-checks to skip (recorded)
 * @param health optional per-unit HTTP check through the API server's pod proxy
 * @param migration whether the migration can be reversed
 * @param hooks Kubernetes Jobs run at named points
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
    Boolean scaleUp,
    FailurePolicy onFailure,
    Integer retries,
    List<String> force,
    Health health,
    Migration migration,
    Hooks hooks) {

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

  /** An HTTP check of each unit through the API server's pod proxy. */
  public record Health(Integer port, String path, Integer successes) {}

  /** Whether the schema migration can be undone. */
  public record Migration(Boolean reversible, Boolean acceptDataRisk) {}

  /** A Kubernetes Job: image and command, or a full Job template under {@code job}. */
  public record Hook(String image, List<String> command, Map<String, Object> job) {}

  /** The hooks of a plan. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Hooks(Hook backup, Hook migrate, Hook test, Hook restore) {
    @JsonIgnore
    boolean isEmpty() {
      return backup == null && migrate == null && test == null && restore == null;
    }
  }

  public String effectiveCluster() {
    return cluster == null || cluster.isBlank() ? Names.DEFAULT_CLUSTER : cluster;
  }

  public Gate effectiveGate() {
    return gate == null ? Gate.FIRST : gate;
  }

  public Duration effectiveUnitTimeout() {
    return Durations.positive(
        "unitTimeout", unitTimeout == null ? DEFAULT_UNIT_TIMEOUT : unitTimeout);
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

  public Change effectiveChange() {
    return change == null ? new Change(null, null, null) : change;
  }

  /** A copy aimed at another target (and cluster, when given). */
  public UpgradePlan withTarget(String newTarget, String newCluster) {
    return new UpgradePlan(
        newTarget,
        newCluster == null ? cluster : newCluster,
        change,
        gate,
        gateTimeout,
        onGateTimeout,
        unitTimeout,
        crashLoopRestarts,
        scaleUp,
        onFailure,
        retries,
        force,
        health,
        migration,
        hooks);
  }
}
