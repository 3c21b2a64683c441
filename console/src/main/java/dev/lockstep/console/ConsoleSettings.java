package dev.lockstep.console;

import java.util.List;

/**
 * How a console runs.
 *
 * @param bind the address it listens on
 * @param port its port (0 picks a free one)
 * @param clusters the clusters whose upgrades it shows, the first by default
 * @param devUser a fixed name for everyone who opens it (dev only), or null
 * @param userHeader the header an authenticating proxy sets to the user's name
 * @param emailHeader the header an authenticating proxy sets to the user's e-mail
 * @param readOnly whether steering is off for everyone
 */
public record ConsoleSettings(
    String bind,
    int port,
    List<String> clusters,
    String devUser,
    String userHeader,
    String emailHeader,
    boolean readOnly) {
  public static final String USER_HEADER = "X-Forwarded-User";
  public static final String EMAIL_HEADER = "X-Forwarded-Email";

  public ConsoleSettings {
    clusters = List.copyOf(clusters);
    if (clusters.isEmpty()) {
      throw new IllegalArgumentException("a console shows at least one cluster");
    }
  }

  /** A console for the dev stack: loopback, cluster {@code default}, everyone is {@code user}. */
  public static ConsoleSettings dev(int port, String user) {
    return new ConsoleSettings(
        "127.0.0.1", port, List.of("default"), user, USER_HEADER, EMAIL_HEADER, false);
  }
}
