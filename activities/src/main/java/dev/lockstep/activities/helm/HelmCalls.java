package dev.lockstep.activities.helm;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs one call into helm-java's native library with its own time bound. A native call that hangs
 * cannot be interrupted (it ignores interrupts and SIGTERM), so it runs on a daemon thread that is
 * abandoned when the bound passes: the caller gets a {@link HelmTimeoutException} and the worker
 * goes on (the stuck thread dies with the process).
 */
public final class HelmCalls {
  /** The default bound of one Helm call (rendering a chart takes well under a second). */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

  private static final ExecutorService CALLS =
      Executors.newCachedThreadPool(
          runnable -> {
            Thread thread = new Thread(runnable, "helm-call");
            thread.setDaemon(true);
            return thread;
          });

  private HelmCalls() {}

  /** A Helm call that did not answer within its bound. */
  public static final class HelmTimeoutException extends RuntimeException {
    HelmTimeoutException(String what, Duration timeout) {
      super("helm " + what + " did not answer within " + timeout.toSeconds() + " s");
    }
  }

  /**
   * Calls {@code call} and returns its result; Helm's own error comes back as the {@link
   * IllegalStateException} helm-java throws, with Helm's message.
   */
  public static <T> T call(String what, Duration timeout, Callable<T> call) {
    JvmSignals.remember();
    Future<T> future =
        CALLS.submit(
            () -> {
              try {
                return call.call();
              } finally {
                // Go's runtime may have taken SIGTERM and SIGINT from the JVM during the call.
                JvmSignals.restore();
              }
            });
    try {
      return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      future.cancel(true);
      throw new HelmTimeoutException(what, timeout);
    } catch (InterruptedException e) {
      future.cancel(true);
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while helm " + what + " ran", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException("helm " + what + ": " + cause.getMessage(), cause);
    }
  }
}
