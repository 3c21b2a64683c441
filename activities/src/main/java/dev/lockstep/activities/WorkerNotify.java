package dev.lockstep.activities;

import dev.lockstep.workflows.Durations;
import dev.lockstep.workflows.Notifications;
import dev.lockstep.workflows.UpgradePlan;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;

/**
 * The worker's default notification targets ({@code LOCKSTEP_NOTIFY_WEBHOOKS}, {@code
 * LOCKSTEP_NOTIFY_REMIND_EVERY}): told about every run whose plan has no {@code notify:}. A run's
 * history records only {@link #recorded() references} to them ({@code worker:N}), so a webhook's
 * token stays in the worker's configuration (a Secret), and a rotated URL is used by runs already
 * going.
 *
 * @param webhooks the webhooks, URLs and formats
 * @param remindEvery while a gate waits, tell again this often; null for no reminders
 */
public record WorkerNotify(List<UpgradePlan.Webhook> webhooks, String remindEvery) {
  /** No defaults: only plans' own {@code notify:} is told. */
  public static final WorkerNotify NONE = new WorkerNotify(List.of(), null);

  /**
   * Reads {@code LOCKSTEP_NOTIFY_WEBHOOKS}: comma-separated webhooks, each an http(s) URL,
   * optionally after its format ({@code slack=https://...}, {@code json=https://...}; json by
   * default); and the reminder interval ({@code 1h}, or null/blank for none).
   *
   * @throws IllegalArgumentException with one line saying what is wrong (never the URL's token)
   */
  public static WorkerNotify parse(String webhooks, String remindEvery) {
    List<UpgradePlan.Webhook> list = new ArrayList<>();
    if (webhooks != null) {
      int n = 0;
      for (String entry : webhooks.split(",")) {
        String item = entry.strip();
        n++;
        if (item.isEmpty()) {
          continue;
        }
        String format = "json";
        int eq = item.indexOf('=');
        int colon = item.indexOf(':');
        if (eq > 0 && (colon < 0 || eq < colon)) {
          format = item.substring(0, eq).strip();
          item = item.substring(eq + 1).strip();
        }
        if (!format.equals("json") && !format.equals("slack")) {
          throw new IllegalArgumentException(
              "LOCKSTEP_NOTIFY_WEBHOOKS: webhook "
                  + n
                  + " has format '"
                  + format
                  + "': json or slack (slack=https://...)");
        }
        URI uri;
        try {
          uri = new URI(item);
        } catch (URISyntaxException e) {
          uri = null;
        }
        if (uri == null
            || uri.getHost() == null
            || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
          throw new IllegalArgumentException(
              "LOCKSTEP_NOTIFY_WEBHOOKS: webhook " + n + " is not an http(s) URL with a host");
        }
        list.add(new UpgradePlan.Webhook(item, format));
      }
    }
    String remind = remindEvery == null || remindEvery.isBlank() ? null : remindEvery.strip();
    if (remind != null) {
      if (Durations.positive("LOCKSTEP_NOTIFY_REMIND_EVERY", remind)
              .compareTo(java.time.Duration.ofMinutes(10))
          < 0) {
        // As for a plan's remindEvery: every reminder is kept in the run's history.
        throw new IllegalArgumentException(
            "LOCKSTEP_NOTIFY_REMIND_EVERY must be at least 10m (every reminder is kept in the"
                + " run's history), was "
                + remind);
      }
      if (list.isEmpty()) {
        throw new IllegalArgumentException(
            "LOCKSTEP_NOTIFY_REMIND_EVERY is set but LOCKSTEP_NOTIFY_WEBHOOKS names no webhook");
      }
    }
    return new WorkerNotify(List.copyOf(list), remind);
  }

  /** What a run's history records: {@code worker:N} references and formats; null when none. */
  public UpgradePlan.Notify recorded() {
    if (webhooks.isEmpty()) {
      return null;
    }
    List<UpgradePlan.Webhook> refs = new ArrayList<>();
    for (int i = 0; i < webhooks.size(); i++) {
      refs.add(
          new UpgradePlan.Webhook(
              Notifications.WORKER_WEBHOOK + i, webhooks.get(i).effectiveFormat()));
    }
    return new UpgradePlan.Notify(refs, remindEvery);
  }

  /**
   * The URL a webhook stands for: its own, or the worker default {@code worker:N} refers to.
   *
   * @throws IllegalArgumentException when that default is no longer configured
   */
  public String url(UpgradePlan.Webhook webhook) {
    String url = webhook.url();
    if (url == null || !url.startsWith(Notifications.WORKER_WEBHOOK)) {
      return url;
    }
    int n;
    try {
      n = Integer.parseInt(url.substring(Notifications.WORKER_WEBHOOK.length()));
    } catch (NumberFormatException e) {
      n = -1;
    }
    if (n < 0 || n >= webhooks.size()) {
      throw new IllegalArgumentException(
          "the worker's default webhook "
              + url
              + " is no longer configured (LOCKSTEP_NOTIFY_WEBHOOKS has "
              + webhooks.size()
              + ")");
    }
    return webhooks.get(n).url();
  }
}
