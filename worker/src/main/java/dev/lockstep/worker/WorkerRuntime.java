package dev.lockstep.worker;

import dev.lockstep.activities.ClusterActivitiesImpl;
import dev.lockstep.activities.ClusterWatch;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.TemporalConnection;
import dev.lockstep.workflows.UpgradeWorkflowImpl;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.temporal.api.workflowservice.v1.ListWorkflowExecutionsRequest;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running worker for one cluster: the Temporal connection, the Kubernetes client, the shared
 * watches, and the registered workflow and activities. Used by {@code lockstep worker} and embedded
 * by the dev stack.
 */
public final class WorkerRuntime implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerRuntime.class);

  /** A worker that cannot start, with a one-line reason that says what to do. */
  public static final class StartFailure extends RuntimeException {
    public StartFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private final WorkerSettings settings;
  private final WorkflowServiceStubs service;
  private final KubernetesClient kube;
  private final ClusterWatch watch;
  private final WorkerFactory factory;
  private final boolean sticky;
  private final ClusterActivitiesImpl activities;
  private volatile boolean running;

  private static final Duration TOLD_EVENTS_GRACE = Duration.ofSeconds(5);

  private WorkerRuntime(
      WorkerSettings settings,
      WorkflowServiceStubs service,
      KubernetesClient kube,
      ClusterWatch watch,
      WorkerFactory factory,
      boolean sticky,
      ClusterActivitiesImpl activities) {
    this.settings = settings;
    this.service = service;
    this.kube = kube;
    this.watch = watch;
    this.factory = factory;
    this.sticky = sticky;
    this.activities = activities;
  }

  /** Connects to Temporal and the cluster, registers the workflow and activities, and polls. */
  public static WorkerRuntime start(WorkerSettings settings) {
    return start(settings, null);
  }

  /**
   * {@link #start(WorkerSettings)}, reporting the SDK's and Lockstep's metrics to {@code metrics}
   * (a {@link WorkerMetrics#scope()}); null: no metrics.
   */
  public static WorkerRuntime start(WorkerSettings settings, com.uber.m3.tally.Scope metrics) {
    return start(settings, metrics, dev.lockstep.activities.WorkerNotify.NONE);
  }

  /**
   * {@link #start(WorkerSettings, com.uber.m3.tally.Scope)}, telling every run whose plan has no
   * {@code notify:} the webhooks of {@code notify}.
   */
  public static WorkerRuntime start(
      WorkerSettings settings,
      com.uber.m3.tally.Scope metrics,
      dev.lockstep.activities.WorkerNotify notify) {
    KubernetesClient kube = kubernetes(settings);
    try {
      kube.getKubernetesVersion();
    } catch (RuntimeException e) {
      kube.close();
      throw new StartFailure(
          "cannot reach the Kubernetes API of cluster "
              + settings.cluster()
              + " ("
              + describe(kube)
              + "): "
              + oneLine(e)
              + "; check --kubeconfig/--context",
          e);
    }
    boolean sticky;
    WorkflowServiceStubs service;
    try {
      WorkflowServiceStubs probe = connect(settings.temporal(), List.of(), metrics);
      sticky =
          switch (settings.sticky()) {
            case "on" -> true;
            case "off" -> false;
            default -> !isTestServer(probe, settings.temporalNamespace());
          };
      if (sticky) {
        service = probe;
      } else {
        probe.shutdown();
        service = connect(settings.temporal(), List.of(new StickyExecutionDisabled()), metrics);
      }
    } catch (StartFailure e) {
      kube.close();
      throw e;
    }
    try {
      dev.lockstep.workflows.SearchAttributes.ensure(service, settings.temporalNamespace());
    } catch (IllegalStateException e) {
      service.shutdown();
      kube.close();
      throw new StartFailure(e.getMessage(), e);
    }
    WorkflowClient client =
        WorkflowClient.newInstance(
            service,
            WorkflowClientOptions.newBuilder()
                .setNamespace(settings.temporalNamespace())
                .setIdentity("lockstep-worker/" + settings.cluster() + "@" + hostname())
                .setDataConverter(settings.dataConverter())
                .build());
    // Each cached workflow is parked on its own thread: the cache bounds the worker's memory,
    // whatever the number of upgrades waiting at gates (evicted ones replay when they go on).
    WorkerFactory factory =
        WorkerFactory.newInstance(
            client,
            io.temporal.worker.WorkerFactoryOptions.newBuilder()
                .setWorkflowCacheSize(settings.workflowCache())
                .setMaxWorkflowThreadCount(Math.max(settings.workflowCache(), 10))
                // lockstep_kubernetes_api_errors_total: errors that leave an activity as they are.
                .setWorkerInterceptors(new dev.lockstep.activities.ApiErrorCounter())
                .build());
    Worker worker =
        factory.newWorker(
            Names.taskQueue(settings.cluster()),
            io.temporal.worker.WorkerOptions.newBuilder()
                .setMaxConcurrentActivityExecutionSize(settings.maxActivities())
                .build());
    worker.registerWorkflowImplementationTypes(
        UpgradeWorkflowImpl.class,
        dev.lockstep.workflows.PlanWorkflowImpl.class,
        dev.lockstep.workflows.HistoryWorkflowImpl.class,
        dev.lockstep.workflows.ReleasePlanWorkflowImpl.class,
        dev.lockstep.workflows.ReleaseRecordsWorkflowImpl.class,
        dev.lockstep.workflows.ReleaseWorkflowImpl.class);
    ClusterWatch watch = new ClusterWatch(kube, Duration.ofSeconds(5));
    ClusterActivitiesImpl activities = new ClusterActivitiesImpl(kube, watch, notify);
    worker.registerActivitiesImplementations(
        activities,
        new dev.lockstep.activities.NotificationsImpl(notify),
        // Helm renders here, never in the CLI; its native library unpacks on the first call.
        new dev.lockstep.activities.helm.HelmActivitiesImpl(
            kube, dev.lockstep.activities.helm.HelmCalls.DEFAULT_TIMEOUT));
    factory.start();
    WorkerRuntime runtime =
        new WorkerRuntime(settings, service, kube, watch, factory, sticky, activities);
    runtime.running = true;
    // The connection's toString never shows an API key.
    LOG.info(
        "worker for cluster {} polling {} on {} (sticky execution {})",
        settings.cluster(),
        Names.taskQueue(settings.cluster()),
        settings.temporal(),
        sticky ? "on" : "off");
    return runtime;
  }

  private static WorkflowServiceStubs connect(
      TemporalConnection temporal,
      List<io.grpc.ClientInterceptor> interceptors,
      com.uber.m3.tally.Scope metrics) {
    var options = temporal.options();
    if (metrics != null) {
      options.setMetricsScope(metrics);
    }
    try {
      return temporal.connect(options, interceptors, Duration.ofSeconds(10));
    } catch (IllegalArgumentException e) {
      throw new StartFailure(e.getMessage(), e);
    } catch (TemporalConnection.Unreachable e) {
      throw new StartFailure(
          e.failure() == TemporalConnection.Failure.NOTHING_LISTENS
                  || e.failure() == TemporalConnection.Failure.NO_ANSWER
              ? e.getMessage()
                  + "; start it (e.g. `./lockstep dev`) or set TEMPORAL_ADDRESS"
                  + " (--temporal-address)"
              : e.getMessage(),
          e);
    }
  }

  /**
   * The Temporal Java test server (the dev stack) serves no visibility queries; a real cluster
   * does. Its sticky queues never expire, so a worker there runs with sticky execution off.
   */
  static boolean isTestServer(WorkflowServiceStubs service, String namespace) {
    try {
      service
          .blockingStub()
          .withDeadlineAfter(5, TimeUnit.SECONDS)
          .listWorkflowExecutions(
              ListWorkflowExecutionsRequest.newBuilder()
                  .setNamespace(namespace)
                  .setPageSize(1)
                  .build());
      return false;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode() == Status.Code.UNIMPLEMENTED;
    }
  }

  private static KubernetesClient kubernetes(WorkerSettings settings) {
    Config config;
    try {
      if (settings.kubeconfig() != null) {
        Path file = Path.of(settings.kubeconfig());
        if (!Files.isReadable(file)) {
          throw new StartFailure("cannot read kubeconfig " + file, null);
        }
        config = Config.fromKubeconfig(settings.context(), Files.readString(file), file.toString());
      } else {
        config = Config.autoConfigure(settings.context());
      }
    } catch (StartFailure e) {
      throw e;
    } catch (Exception e) {
      throw new StartFailure("cannot load the Kubernetes configuration: " + oneLine(e), e);
    }
    // Temporal owns retries: fabric8 must surface a failed request at once.
    Config noRetries =
        new ConfigBuilder(config)
            .withRequestRetryBackoffLimit(0)
            .withConnectionTimeout(10_000)
            .withRequestTimeout(30_000)
            .build();
    return new KubernetesClientBuilder().withConfig(noRetries).build();
  }

  private static String describe(KubernetesClient kube) {
    return kube.getConfiguration().getMasterUrl();
  }

  static String oneLine(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message =
        root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    return message.lines().findFirst().orElse(message);
  }

  private static String hostname() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      return "localhost";
    }
  }

  public boolean running() {
    return running && !factory.isShutdown();
  }

  public boolean sticky() {
    return sticky;
  }

  public WorkerSettings settings() {
    return settings;
  }

  /**
   * Stops polling, lets running activities finish within the grace period (an activity still
   * running then is interrupted and Temporal gives it to another worker), then closes.
   */
  @Override
  public void close() {
    running = false;
    factory.shutdown();
    factory.awaitTermination(settings.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS);
    if (!factory.isTerminated()) {
      factory.shutdownNow();
      factory.awaitTermination(5, TimeUnit.SECONDS);
    }
    // The Events steps handed over to be told after they returned (a unit's UnitUpgraded): told
    // before the client closes, so a stopped worker does not cut a run's story short.
    try {
      if (!activities.awaitToldEvents(TOLD_EVENTS_GRACE)) {
        LOG.warn("stopping with Events not yet told (after {})", TOLD_EVENTS_GRACE);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    watch.close();
    kube.close();
    service.shutdown();
    LOG.info("worker for cluster {} stopped", settings.cluster());
  }
}
