package dev.lockstep.workflows;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * "Did you mean": the names close to one that was not found, as git and kubectl suggest them. The
 * same rule for the worker (StatefulSets of a namespace) and the CLI (the targets Lockstep knows).
 */
public final class Suggestions {
  private Suggestions() {}

  /** The sentence every command prints for a target that does not exist (without suggestions). */
  public static String notFound(Target target, String cluster) {
    return target.kind()
        + " "
        + target.namespace()
        + "/"
        + target.name()
        + " not found in cluster "
        + cluster;
  }

  /** {@code "; did you mean X?"} for the closest candidates, or empty when none is close. */
  public static String didYouMean(String name, Collection<String> candidates) {
    List<String> close = closest(name, candidates);
    return close.isEmpty() ? "" : "; did you mean " + String.join(" or ", close) + "?";
  }

  /**
   * Up to three candidates close to {@code name}: at most a third of its letters different (at
   * least one, at most three), or one containing the other; the closest first.
   */
  public static List<String> closest(String name, Collection<String> candidates) {
    String wanted = name.toLowerCase(Locale.ROOT);
    String shortName = wanted.substring(wanted.lastIndexOf('/') + 1);
    int allowed = Math.max(1, Math.min(3, shortName.length() / 3));
    List<String> close = new ArrayList<>();
    for (String c : candidates) {
      String candidate = c.toLowerCase(Locale.ROOT);
      String candidateShort = candidate.substring(candidate.lastIndexOf('/') + 1);
      if (candidate.equals(wanted)) {
        continue;
      }
      if (distance(shortName, candidateShort) <= allowed
          || (shortName.length() >= 3
              && (candidateShort.contains(shortName) || shortName.contains(candidateShort)))) {
        close.add(c);
      }
    }
    close.sort(
        Comparator.comparingInt(
            (String c) ->
                distance(shortName, c.toLowerCase(Locale.ROOT).substring(c.lastIndexOf('/') + 1))));
    return close.size() > 3 ? close.subList(0, 3) : close;
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        current[j] =
            Math.min(Math.min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }
}
