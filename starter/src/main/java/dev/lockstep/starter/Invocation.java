package dev.lockstep.starter;

import java.util.Map;
import java.util.function.Supplier;

/**
 * Who a command runs for: this process (its environment and terminal), or one request of the CLI
 * daemon (the caller's environment, working directory and terminal, and the daemon's warm Temporal
 * connections). Commands read the environment and the terminal through here, never from {@code
 * System} directly, so that a command answers a daemon's request exactly as it would in the
 * caller's own JVM. Held per thread: the daemon runs requests side by side.
 */
final class Invocation {
  private static final ThreadLocal<Invocation> CURRENT = new ThreadLocal<>();

  /** This JVM's own: {@code System.getenv()}, {@code System.console()}, no cache. */
  private static final Invocation PROCESS = new Invocation(null, null, false, null);

  private final Map<String, String> env;
  private final String cwd;
  private final boolean console;
  private final StubsCache stubs;

  Invocation(Map<String, String> env, String cwd, boolean console, StubsCache stubs) {
    this.env = env;
    this.cwd = cwd;
    this.console = console;
    this.stubs = stubs;
  }

  static Invocation current() {
    Invocation i = CURRENT.get();
    return i != null ? i : PROCESS;
  }

  /** Runs {@code body} on this thread as this invocation. */
  <T> T run(Supplier<T> body) {
    Invocation before = CURRENT.get();
    CURRENT.set(this);
    try {
      return body.get();
    } finally {
      if (before == null) {
        CURRENT.remove();
      } else {
        CURRENT.set(before);
      }
    }
  }

  /** The caller's environment variable, as {@code System.getenv(name)} is in-process. */
  static String getenv(String name) {
    Invocation i = current();
    return i.env == null ? System.getenv(name) : i.env.get(name);
  }

  /** The caller's whole environment. */
  static Map<String, String> environment() {
    Invocation i = current();
    return i.env == null ? System.getenv() : i.env;
  }

  /** Whether the caller has a console ({@code System.console() != null} in its JVM). */
  static boolean console() {
    Invocation i = current();
    return i.env == null ? System.console() != null : i.console;
  }

  /** The caller's working directory. */
  static String workingDirectory() {
    Invocation i = current();
    return i.cwd == null ? System.getProperty("user.dir") : i.cwd;
  }

  /** The daemon's warm connections to Temporal, or null in a command's own JVM. */
  static StubsCache stubs() {
    return current().stubs;
  }
}
