package dev.lockstep.kubesim;

import dev.lockstep.kubesim.controller.Kubelet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Which images behave how, and how long pods take to start. Rules come from three places, the first
 * match winning: rules set through this Java API, then the rules of the ConfigMap {@code
 * kube-system/kubesim-behaviour} (so a running simulator can be steered from outside), then the
 * built-in defaults: an image whose tag ends in {@code -broken} crash-loops and one whose tag ends
 * in {@code -slow} takes ten times the start-up time.
 *
 * <p>The ConfigMap has a key {@code rules}, one rule a line: an image (exact, or a pattern with
 * {@code *}) and a behaviour, e.g. {@code postgres:14.9 crashloop}; and optionally a key {@code
 * podStartup} with a duration, e.g. {@code 2s}.
 */
public final class Behaviours {
  /** Name of the ConfigMap (in kube-system) that steers a running simulator. */
  public static final String CONFIG_MAP = "kubesim-behaviour";

  private record Rule(String pattern, Pattern regex, ImageBehaviour behaviour) {}

  private final List<Rule> apiRules = new CopyOnWriteArrayList<>();
  private volatile List<Rule> configMapRules = List.of();
  private volatile Duration podStartup;
  private volatile Duration configMapStartup;
  private volatile Runnable onChange = () -> {};

  Behaviours(Duration podStartup) {
    this.podStartup = podStartup;
  }

  void onChange(Runnable listener) {
    this.onChange = listener;
  }

  /** Sets the behaviour of an image: an exact reference, or a pattern where * matches anything. */
  public Behaviours image(String imagePattern, ImageBehaviour behaviour) {
    apiRules.removeIf(r -> r.pattern().equals(imagePattern));
    apiRules.add(0, rule(imagePattern, behaviour));
    onChange.run();
    return this;
  }

  /** Removes every rule set through this API (ConfigMap rules and defaults stay). */
  public Behaviours clear() {
    apiRules.clear();
    onChange.run();
    return this;
  }

  /** Sets the default start-up time of a pod (ConfigMap {@code podStartup} overrides it). */
  public Behaviours podStartup(Duration startup) {
    if (startup.isNegative()) {
      throw new IllegalArgumentException("pod start-up time must not be negative");
    }
    this.podStartup = startup;
    onChange.run();
    return this;
  }

  /** The start-up time in force. */
  public Duration podStartup() {
    Duration fromConfigMap = configMapStartup;
    return fromConfigMap != null ? fromConfigMap : podStartup;
  }

  /** The behaviour of an image. */
  public ImageBehaviour of(String image) {
    for (Rule rule : apiRules) {
      if (rule.regex().matcher(image).matches()) {
        return rule.behaviour();
      }
    }
    for (Rule rule : configMapRules) {
      if (rule.regex().matcher(image).matches()) {
        return rule.behaviour();
      }
    }
    String tag = tag(image);
    if (tag.endsWith("-broken")) {
      return ImageBehaviour.CRASHLOOP;
    }
    if (tag.endsWith("-slow")) {
      return ImageBehaviour.SLOW;
    }
    return ImageBehaviour.OK;
  }

  /** The behaviour of an image as the kubelet plays it, with the start-up time in force. */
  Kubelet.Behaviour forKubelet(String image) {
    ImageBehaviour b = of(image);
    return new Kubelet.Behaviour(
        b.crashes(),
        b.kind() == ImageBehaviour.Kind.FLAKY,
        b.failureRate(),
        b.kind() == ImageBehaviour.Kind.PULL_ERROR,
        b.kind() == ImageBehaviour.Kind.UNHEALTHY,
        b.startupTime(podStartup()));
  }

  private static String tag(String image) {
    String withoutDigest = image.contains("@") ? image.substring(0, image.indexOf('@')) : image;
    int slash = withoutDigest.lastIndexOf('/');
    int colon = withoutDigest.lastIndexOf(':');
    return colon > slash ? withoutDigest.substring(colon + 1) : "";
  }

  /**
   * Loads the ConfigMap's data; a missing ConfigMap (null data) clears its rules. A bad line is
   * reported and skipped, the other lines still apply.
   */
  List<String> loadConfigMap(java.util.Map<String, String> data) {
    List<String> problems = new ArrayList<>();
    List<Rule> rules = new ArrayList<>();
    Duration startup = null;
    if (data != null) {
      String text = Optional.ofNullable(data.get("rules")).orElse("");
      int lineNo = 0;
      for (String line : text.split("\n")) {
        lineNo++;
        String trimmed = line.strip();
        if (trimmed.isEmpty() || trimmed.startsWith("#")) {
          continue;
        }
        String[] parts = trimmed.split("\\s+", 2);
        try {
          if (parts.length < 2) {
            throw new IllegalArgumentException("a rule is: IMAGE BEHAVIOUR");
          }
          rules.add(rule(parts[0], ImageBehaviour.parse(parts[1])));
        } catch (IllegalArgumentException e) {
          problems.add("rules line " + lineNo + ": " + e.getMessage());
        }
      }
      String startupText = data.get("podStartup");
      if (startupText != null && !startupText.isBlank()) {
        try {
          startup = ImageBehaviour.parseDuration(startupText);
        } catch (IllegalArgumentException e) {
          problems.add("podStartup: " + e.getMessage());
        }
      }
    }
    configMapRules = List.copyOf(rules);
    configMapStartup = startup;
    onChange.run();
    return problems;
  }

  private static Rule rule(String pattern, ImageBehaviour behaviour) {
    String regex =
        Arrays.stream(pattern.split("\\*", -1))
            .map(Pattern::quote)
            .collect(Collectors.joining(".*"));
    return new Rule(pattern, Pattern.compile(regex), behaviour);
  }
}
