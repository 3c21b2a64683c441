package dev.lockstep.workflows;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as plans and flags write them: {@code 90s}, {@code 10m}, {@code 2h}, {@code PT10M}. */
public final class Durations {
  private static final Pattern SIMPLE = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  private Durations() {}

  /**
   * Parses a duration.
   *
   * @throws IllegalArgumentException naming the bad text
   */
  public static Duration parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("empty duration: use e.g. 90s, 10m, 2h or PT10M");
    }
    String t = text.trim();
    try {
      if (t.toUpperCase(Locale.ROOT).startsWith("P")) {
        return Duration.parse(t.toUpperCase(Locale.ROOT));
      }
      Matcher m = SIMPLE.matcher(t);
      if (m.matches()) {
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
          case "ms" -> Duration.ofMillis(n);
          case "s" -> Duration.ofSeconds(n);
          case "m" -> Duration.ofMinutes(n);
          case "h" -> Duration.ofHours(n);
          default -> Duration.ofDays(n);
        };
      }
    } catch (RuntimeException e) {
      // fall through to the one message below
    }
    throw new IllegalArgumentException(
        "bad duration '" + text + "': use e.g. 90s, 10m, 2h or PT10M");
  }

  /** A positive duration; zero and negative ones are refused with the field named. */
  public static Duration positive(String field, String text) {
    Duration d;
    try {
      d = parse(text);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(field + ": " + e.getMessage());
    }
    if (d.isZero() || d.isNegative()) {
      throw new IllegalArgumentException(field + " must be positive, was '" + text + "'");
    }
    return d;
  }

  /** A duration of zero or more; a negative one is refused with the field named. */
  public static Duration notNegative(String field, String text) {
    Duration d;
    try {
      d = parse(text);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(field + ": " + e.getMessage());
    }
    if (d.isNegative()) {
      throw new IllegalArgumentException(field + " must not be negative, was '" + text + "'");
    }
    return d;
  }

  /** Formats like {@code 10m}, {@code 90s}, {@code 1h30m}. */
  public static String format(Duration d) {
    long s = d.getSeconds();
    if (s == 0) {
      return d.toMillis() + "ms";
    }
    StringBuilder out = new StringBuilder();
    if (s >= 3600) {
      out.append(s / 3600).append('h');
      s %= 3600;
    }
    if (s >= 60) {
      out.append(s / 60).append('m');
      s %= 60;
    }
    if (s > 0) {
      out.append(s).append('s');
    }
    return out.toString();
  }
}
