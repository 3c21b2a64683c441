package dev.lockstep.activities.helm;

import java.util.LinkedHashMap;
import java.util.Map;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Gives SIGTERM, SIGINT and SIGHUP back to the JVM after Helm ran. helm-java's native library is
 * Go, and Go takes these signals for itself once Helm's code asks to be told of them: after the
 * first rendering a worker (or the dev stack) would no longer stop on SIGTERM (Kubernetes' stop) or
 * Ctrl-C, and its shutdown hooks would never run. The JVM's handlers, as they were before the first
 * Helm call, are put back after every call; a signal the process ignored from its start (a
 * background job's SIGINT, {@code nohup}'s SIGHUP) stays ignored.
 */
final class JvmSignals {
  private static final String[] NAMES = {"TERM", "INT", "HUP"};
  private static Map<String, SignalHandler> jvm;

  private JvmSignals() {}

  /** Remembers the JVM's handlers; before the first Helm call (later calls do nothing). */
  static synchronized void remember() {
    if (jvm != null) {
      return;
    }
    Map<String, SignalHandler> handlers = new LinkedHashMap<>();
    for (String name : NAMES) {
      try {
        Signal signal = new Signal(name);
        // Read by swapping: ignored for the instant between the two calls, never defaulted
        // (which would kill the process without its shutdown hooks).
        SignalHandler previous = Signal.handle(signal, SignalHandler.SIG_IGN);
        Signal.handle(signal, previous);
        handlers.put(name, previous);
      } catch (IllegalArgumentException e) {
        // The signal does not exist here or the JVM keeps it (e.g. run with -Xrs): leave it.
      }
    }
    jvm = handlers;
  }

  /** Puts the remembered handlers back (Go may have taken them during the call). */
  static synchronized void restore() {
    if (jvm == null) {
      return;
    }
    jvm.forEach(
        (name, handler) -> {
          if (handler != SignalHandler.SIG_IGN) {
            try {
              Signal.handle(new Signal(name), handler);
            } catch (IllegalArgumentException e) {
              // As in remember().
            }
          }
        });
  }
}
