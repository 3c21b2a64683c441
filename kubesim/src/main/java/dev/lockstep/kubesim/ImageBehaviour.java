package dev.lockstep.kubesim;

import java.time.Duration;
import java.util.Locale;

/**
 * How the emulated kubelet runs a container image.
 *
 * @param kind what happens when the container starts
 * @param startup how long it takes to become Ready (or to exit, for a Job's pod); null means the
 *     simulator's default start-up time, times {@code startupFactor}
 * @param startupFactor multiplier of the default start-up time when {@code startup} is null
 * @param failureRate for {@link Kind#FLAKY}: the chance that one start attempt crashes
 */
public record ImageBehaviour(
    Kind kind, Duration startup, double startupFactor, double failureRate) {

  /** What a container of the image does. */
  public enum Kind {
    /** Starts, becomes Ready, serves health checks; a Job's pod succeeds. */
    OK,
    /** Crashes on every start: CrashLoopBackOff, restartCount climbing, never Ready. */
    CRASHLOOP,
    /** Crashes on some starts (see failureRate), then runs. */
    FLAKY,
    /** The image cannot be pulled: ErrImagePull then ImagePullBackOff, never Running. */
    PULL_ERROR,
    /** Becomes Ready but its HTTP endpoints answer 503 through the pod proxy. */
    UNHEALTHY,
    /** A Job's pod exits 1; a long-running pod crash-loops. */
    FAIL
  }

  public static final ImageBehaviour OK = new ImageBehaviour(Kind.OK, null, 1, 0);
  public static final ImageBehaviour CRASHLOOP = new ImageBehaviour(Kind.CRASHLOOP, null, 1, 0);
  public static final ImageBehaviour SLOW = new ImageBehaviour(Kind.OK, null, 10, 0);
  public static final ImageBehaviour PULL_ERROR = new ImageBehaviour(Kind.PULL_ERROR, null, 1, 0);
  public static final ImageBehaviour UNHEALTHY = new ImageBehaviour(Kind.UNHEALTHY, null, 1, 0);
  public static final ImageBehaviour FAIL = new ImageBehaviour(Kind.FAIL, null, 1, 0);

  public ImageBehaviour {
    if (kind == null) {
      throw new IllegalArgumentException("kind is required");
    }
    if (startupFactor <= 0) {
      throw new IllegalArgumentException("startupFactor must be positive");
    }
    if (failureRate < 0 || failureRate > 1) {
      throw new IllegalArgumentException("failureRate must be between 0 and 1");
    }
  }

  /** Starts and becomes Ready after exactly the given time. */
  public static ImageBehaviour startingIn(Duration startup) {
    return new ImageBehaviour(Kind.OK, startup, 1, 0);
  }

  /** Crashes on a share of start attempts. */
  public static ImageBehaviour flaky(double failureRate) {
    return new ImageBehaviour(Kind.FLAKY, null, 1, failureRate);
  }

  /** Whether a start attempt (or a Job pod's run) ends in an exit with an error. */
  boolean crashes() {
    return kind == Kind.CRASHLOOP || kind == Kind.FAIL;
  }

  Duration startupTime(Duration defaultStartup) {
    if (startup != null) {
      return startup;
    }
    return Duration.ofNanos((long) (defaultStartup.toNanos() * startupFactor));
  }

  /**
   * Parses the behaviour part of a rule line: {@code ok}, {@code slow [DURATION]}, {@code
   * crashloop}, {@code flaky [RATE]}, {@code pullerror}, {@code unhealthy}, {@code fail}, {@code
   * startup DURATION}. Durations are like {@code 500ms}, {@code 2s}, {@code 1m}.
   */
  public static ImageBehaviour parse(String text) {
    String[] words = text.trim().split("\\s+");
    String arg = words.length > 1 ? words[1] : null;
    return switch (words[0].toLowerCase(Locale.ROOT)) {
      case "ok" -> OK;
      case "slow" -> arg == null ? SLOW : startingIn(parseDuration(arg));
      case "startup" -> {
        if (arg == null) {
          throw new IllegalArgumentException("startup needs a duration, e.g. startup 3s");
        }
        yield startingIn(parseDuration(arg));
      }
      case "crashloop", "broken", "crash" -> CRASHLOOP;
      case "flaky" -> flaky(arg == null ? 0.5 : Double.parseDouble(arg));
      case "pullerror", "imagepullbackoff" -> PULL_ERROR;
      case "unhealthy" -> UNHEALTHY;
      case "fail" -> FAIL;
      default ->
          throw new IllegalArgumentException(
              "unknown behaviour '"
                  + words[0]
                  + "': use ok, slow, startup, crashloop, flaky, pullerror, unhealthy or fail");
    };
  }

  /** Parses {@code 250ms}, {@code 2s}, {@code 1m}, {@code 1h} or an ISO-8601 duration. */
  public static Duration parseDuration(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    try {
      if (t.startsWith("p")) {
        return Duration.parse(t.toUpperCase(Locale.ROOT));
      }
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      long n = Long.parseLong(t.substring(0, t.length() - 1));
      return switch (t.charAt(t.length() - 1)) {
        case 's' -> Duration.ofSeconds(n);
        case 'm' -> Duration.ofMinutes(n);
        case 'h' -> Duration.ofHours(n);
        default -> throw new IllegalArgumentException();
      };
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "bad duration '" + text + "': use e.g. 500ms, 2s, 1m, 1h or PT2S");
    }
  }
}
