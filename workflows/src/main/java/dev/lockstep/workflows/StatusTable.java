package dev.lockstep.workflows;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The status as {@code lockstep status} prints it: one line for the target, one per unit. */
public final class StatusTable {
  private StatusTable() {}

  public static String render(UpgradeStatus s) {
    return render(s, java.time.Instant.now());
  }

  /**
   * The table as at {@code now}: the run's elapsed time is counted to it while the run goes on (in
   * whole minutes, so that {@code --watch} redraws for changes, not for the clock), and to its end
   * once it has ended.
   */
  public static String render(UpgradeStatus s, java.time.Instant now) {
    StringBuilder notes = new StringBuilder();
    String elapsed = elapsed(s, now);
    if (!elapsed.isEmpty()) {
      notes.append(elapsed).append('\n');
    }
    if (s.pause() != null) {
      notes.append("Pause: ").append(s.pause()).append('\n');
    }
    if (s.traffic() != null) {
      notes.append("Traffic: ").append(s.traffic().describe()).append('\n');
    }
    return table(s) + (notes.isEmpty() ? "" : "\n" + notes);
  }

  /** {@code Running for 12m} or {@code Took 3m12s}; empty when the start is unknown. */
  static String elapsed(UpgradeStatus s, java.time.Instant now) {
    if (s.startedAt() == null) {
      return "";
    }
    try {
      java.time.Instant start = java.time.Instant.parse(s.startedAt());
      if (s.finishedAt() != null) {
        java.time.Duration took =
            java.time.Duration.between(start, java.time.Instant.parse(s.finishedAt()))
                .truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        return "Took " + Durations.format(took);
      }
      java.time.Duration running = java.time.Duration.between(start, now);
      return running.toMinutes() < 1
          ? "Running for less than a minute"
          : "Running for "
              + Durations.format(running.truncatedTo(java.time.temporal.ChronoUnit.MINUTES));
    } catch (java.time.format.DateTimeParseException e) {
      return "";
    }
  }

  private static String table(UpgradeStatus s) {
    long upgraded = s.units().stream().filter(u -> u.state() == UnitState.UPGRADED).count();
    List<List<String>> head = new ArrayList<>();
    head.add(List.of("Target", "Phase", "From", "To", "Units", "Message"));
    head.add(
        List.of(
            s.target(),
            String.valueOf(s.phase()),
            images(s.fromImages(), s.fromRevision()),
            images(s.toImages(), s.toRevision()),
            upgraded + "/" + s.units().size(),
            s.message() == null ? "" : s.message()));
    List<List<String>> units = new ArrayList<>();
    units.add(List.of("Unit", "State", "Revision", "Ready", "Message"));
    for (UnitStatus u : s.units()) {
      units.add(
          List.of(
              u.name(),
              String.valueOf(u.state()),
              u.revision() == null ? "" : u.revision(),
              u.ready() ? "yes" : "no",
              u.message() == null ? "" : u.message()));
    }
    StringBuilder forced = new StringBuilder();
    if (s.checks() != null) {
      for (PreChecks.Result check : s.checks()) {
        if (check.forced()) {
          forced.append("\nForced: ").append(check.name()).append(" (").append(check.message());
          forced.append(")");
        }
      }
    }
    String gate = gateLine(s.gate());
    return table(head)
        + "\n"
        + table(units)
        + (forced.isEmpty() ? "" : forced.substring(1) + "\n")
        + (gate == null ? "" : gate + "\n");
  }

  /** Who has approved the gate, how many are still needed, when it times out; null if plain. */
  public static String gateLine(UpgradeStatus.GateStatus g) {
    if (g == null
        || (g.approvalsRequired() <= 1 && g.excluded() == null && g.timesOutAt() == null)) {
      return null;
    }
    List<String> parts = new ArrayList<>();
    int needed = g.approvalsNeeded();
    String more = needed + " more approval" + (needed == 1 ? "" : "s") + " needed";
    if (g.approvedBy() == null || g.approvedBy().isEmpty()) {
      parts.add(
          g.approvalsRequired()
              + " approval"
              + (g.approvalsRequired() == 1 ? "" : "s")
              + " by distinct people needed");
    } else {
      parts.add(
          "approved by "
              + String.join(", ", g.approvedBy())
              + " ("
              + g.approvedBy().size()
              + " of "
              + g.approvalsRequired()
              + "); "
              + more);
    }
    if (g.excluded() != null) {
      parts.add(g.excluded() + " started it and does not count");
    }
    if (g.timesOutAt() != null) {
      parts.add(
          (g.timedOut() ? "timed out at " : "times out at ")
              + g.timesOutAt()
              + " (onGateTimeout: "
              + g.onTimeout()
              + ")");
    }
    return "Gate: " + String.join("; ", parts);
  }

  /** Table columns, padded to the widest cell; exposed for other listings. */
  public static String columns(List<List<String>> rows) {
    return table(rows);
  }

  private static String images(Map<String, String> images, String revision) {
    if (images == null || images.isEmpty()) {
      return revision == null ? "" : revision;
    }
    return String.join(",", new java.util.TreeMap<>(images).values());
  }

  private static String table(List<List<String>> rows) {
    int columns = rows.get(0).size();
    int[] widths = new int[columns];
    for (List<String> row : rows) {
      for (int c = 0; c < columns; c++) {
        widths[c] = Math.max(widths[c], row.get(c).length());
      }
    }
    StringBuilder out = new StringBuilder();
    for (List<String> row : rows) {
      StringBuilder line = new StringBuilder();
      for (int c = 0; c < columns; c++) {
        line.append(row.get(c));
        if (c < columns - 1) {
          line.append(" ".repeat(widths[c] - row.get(c).length() + 2));
        }
      }
      out.append(line.toString().stripTrailing()).append('\n');
    }
    return out.toString();
  }
}
