package dev.lockstep.workflows;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/** Tells people what a run is doing: webhooks (generic JSON or Slack-compatible). */
@ActivityInterface
public interface Notifications {
  /**
   * One notification to one webhook.
   *
   * @param webhook where and in which format
   * @param event what happened: {@code gate-waiting}, {@code gate-reminder}, {@code held}, {@code
   *     failed}, {@code rolled-back}, {@code completed}
   * @param target the target
   * @param cluster its cluster
   * @param runId the run
   * @param phase the run's phase
   * @param text one line for people, with the command that goes on where there is one
   * @param waitingSince when the gate started waiting (ISO-8601), for gate events; else null
   */
  record Notice(
      UpgradePlan.Webhook webhook,
      String event,
      String target,
      String cluster,
      String runId,
      String phase,
      String text,
      String waitingSince) {}

  /**
   * The URL of the worker's default webhook number N (from 0) is {@code worker:N}: what a run's
   * history records of a worker default, so that a webhook's token never enters it; {@link
   * #deliver} finds the URL in the worker's configuration.
   */
  String WORKER_WEBHOOK = "worker:";

  /** The events a notice can be about. */
  List<String> EVENTS =
      List.of("gate-waiting", "gate-reminder", "held", "failed", "rolled-back", "completed");

  /**
   * POSTs the notice to its webhook. Retried by Temporal on a network error, a 5xx or a 429; a 4xx
   * other than 429 is not retried. Safe to repeat: a receiver may see a notice twice after a worker
   * crash, never a different one. Returns what the receiver answered, for the audit.
   */
  @ActivityMethod
  String deliver(Notice notice);
}
