package dev.lockstep.workflows;

import com.uber.m3.tally.Scope;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * Lockstep's own metrics of a run, recorded only through {@link Workflow#getMetricsScope()}: it
 * records nothing while a workflow replays, so a run replayed on another worker counts once, and it
 * adds no command to the history. Labels are few-valued (phase, step kind, target kind, outcome):
 * never a run id, a target or a pod name. docs/worker.md#metrics lists every series.
 */
final class RunMetrics {
  static final String STARTED = "lockstep_upgrades_started";
  static final String ENDED = "lockstep_upgrades_ended";
  static final String UNIT_REPLACEMENT = "lockstep_unit_replacement";
  static final String GATE_WAIT = "lockstep_gate_wait";
  static final String STEP_FAILURES = "lockstep_step_failures";
  static final String ROLLBACKS = "lockstep_rollbacks";

  private RunMetrics() {}

  private static Scope scope(Map<String, String> tags) {
    return Workflow.getMetricsScope().tagged(tags);
  }

  static String label(Enum<?> value) {
    return value.name().toLowerCase(Locale.ROOT);
  }

  /** A run started (every run, refused ones too: started minus ended is what runs now). */
  static void started() {
    Workflow.getMetricsScope().counter(STARTED).inc(1);
  }

  /** A run ended in {@code phase}. */
  static void ended(Phase phase) {
    scope(Map.of("phase", label(phase))).counter(ENDED).inc(1);
  }

  /** A unit (a StatefulSet's pod) was replaced and verified in {@code took}. */
  static void unitReplaced(Duration took) {
    Workflow.getMetricsScope().timer(UNIT_REPLACEMENT).record(toTally(took));
  }

  /** A gate waited {@code took}, and was left by {@code outcome} (resumed, rollback, cancel). */
  static void gateWaited(Duration took, String outcome) {
    scope(Map.of("outcome", outcome)).timer(GATE_WAIT).record(toTally(took));
  }

  /** A step of kind {@code step} failed (a return step too). */
  static void stepFailed(Step.Kind step) {
    scope(Map.of("step", label(step))).counter(STEP_FAILURES).inc(1);
  }

  /**
   * A run began going back to the revision it started from, at a step of kind {@code step}, because
   * a step failed ({@code cause} failure), an operator or a gate timeout asked ({@code requested}).
   */
  static void rolledBack(Step.Kind step, String cause) {
    scope(Map.of("step", step == null ? "none" : label(step), "cause", cause))
        .counter(ROLLBACKS)
        .inc(1);
  }

  private static com.uber.m3.util.Duration toTally(Duration d) {
    return com.uber.m3.util.Duration.ofMillis(Math.max(0, d.toMillis()));
  }
}
