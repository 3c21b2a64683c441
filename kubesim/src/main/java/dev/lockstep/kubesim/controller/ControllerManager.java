package dev.lockstep.kubesim.controller;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.kubesim.api.ChangeListener;
import dev.lockstep.kubesim.api.ResourceType;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the controllers: a deduplicating work queue fed by stored changes, delayed requeues and a
 * periodic resync, drained by one thread so that reconciles never race each other.
 */
public final class ControllerManager implements ChangeListener, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ControllerManager.class);

  private record Work(Controller controller, Controller.Key key) {}

  private final List<Controller> controllers = new CopyOnWriteArrayList<>();
  private final Set<Work> queued = new LinkedHashSet<>();
  private final ScheduledExecutorService executor =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "kubesim-controllers");
            t.setDaemon(true);
            return t;
          });
  private final Duration resync;
  private volatile boolean closed;

  public ControllerManager(Duration resync) {
    this.resync = resync;
  }

  public void register(Controller controller) {
    controllers.add(controller);
  }

  public void start() {
    executor.scheduleWithFixedDelay(
        this::resyncAll, resync.toMillis(), resync.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void changed(ResourceType type, ObjectNode object, boolean deleted) {
    for (Controller controller : controllers) {
      for (Controller.Key key : controller.keysFor(type, object, deleted)) {
        enqueue(new Work(controller, key), Duration.ZERO);
      }
    }
  }

  /** Asks every controller to look at everything again, now. */
  public void resyncAll() {
    for (Controller controller : controllers) {
      try {
        for (Controller.Key key : controller.resyncKeys()) {
          enqueue(new Work(controller, key), Duration.ZERO);
        }
      } catch (RuntimeException e) {
        LOG.debug("resync of {} failed: {}", controller.name(), e.toString());
      }
    }
  }

  private void enqueue(Work work, Duration delay) {
    if (closed) {
      return;
    }
    if (!delay.isZero()) {
      executor.schedule(
          () -> enqueue(work, Duration.ZERO), delay.toMillis(), TimeUnit.MILLISECONDS);
      return;
    }
    synchronized (queued) {
      if (!queued.add(work)) {
        return;
      }
    }
    executor.execute(() -> run(work));
  }

  private void run(Work work) {
    synchronized (queued) {
      queued.remove(work);
    }
    if (closed) {
      return;
    }
    try {
      work.controller().reconcile(work.key(), delay -> enqueue(work, delay));
    } catch (RuntimeException e) {
      // A conflict or a transient error: try again shortly, as a workqueue's rate limiter would.
      LOG.debug("{} {} failed: {}", work.controller().name(), work.key(), e.toString());
      enqueue(work, Duration.ofMillis(100));
    }
  }

  @Override
  public void close() {
    closed = true;
    executor.shutdownNow();
  }
}
