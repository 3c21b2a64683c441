package dev.lockstep.worker;

import dev.lockstep.workflows.TemporalConnection;
import io.micronaut.configuration.picocli.PicocliRunner;
import io.micronaut.context.annotation.Value;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lockstep worker}: a worker for one cluster, until stopped. */
@Command(
    name = "lockstep worker",
    mixinStandardHelpOptions = true,
    description = {
      "Runs a worker for one cluster: executes the upgrades of targets in that cluster.",
      "Configuration: application.yml, environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,",
      "TEMPORAL_TLS, TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME,",
      "TEMPORAL_API_KEY, LOCKSTEP_CLUSTER, KUBECONFIG, LOCKSTEP_WORKER_HEALTH_PORT,",
      "LOCKSTEP_WORKER_METRICS_PORT, LOCKSTEP_NOTIFY_WEBHOOKS, LOCKSTEP_NOTIFY_REMIND_EVERY),",
      "then these options."
    })
public class WorkerCommand implements Callable<Integer> {

  @Value("${lockstep.cluster:default}")
  String configuredCluster;

  @Value("${temporal.address:`localhost:7233`}")
  String configuredAddress;

  @Value("${temporal.namespace:default}")
  String configuredNamespace;

  @Value("${lockstep.worker.health-port:8081}")
  int configuredHealthPort;

  @Value("${lockstep.worker.metrics-port:-1}")
  int configuredMetricsPort;

  @Option(
      names = "--cluster",
      description = "The cluster this worker serves (default: LOCKSTEP_CLUSTER or default).")
  String cluster;

  @Option(
      names = "--kubeconfig",
      description = "Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster).")
  String kubeconfig;

  @Option(names = "--context", description = "Kubeconfig context (default: its current context).")
  String context;

  @Option(
      names = "--temporal-address",
      description = "Temporal frontend host:port (default: TEMPORAL_ADDRESS or localhost:7233).")
  String temporalAddress;

  @Option(
      names = "--temporal-namespace",
      description = "Temporal namespace (default: TEMPORAL_NAMESPACE or default).")
  String temporalNamespace;

  @Option(
      names = "--tls",
      negatable = true,
      description =
          "Connect to Temporal with TLS (default: TEMPORAL_TLS; on when a TLS setting or an API"
              + " key is given).")
  Boolean tls;

  @Option(
      names = "--tls-cert-path",
      paramLabel = "FILE",
      description = "PEM client certificate for mTLS (default: TEMPORAL_TLS_CERT).")
  String tlsCert;

  @Option(
      names = "--tls-key-path",
      paramLabel = "FILE",
      description = "PEM (PKCS#8) key of the client certificate (default: TEMPORAL_TLS_KEY).")
  String tlsKey;

  @Option(
      names = "--tls-ca-path",
      paramLabel = "FILE",
      description =
          "PEM CA certificate(s) to trust instead of the system's (default: TEMPORAL_TLS_CA).")
  String tlsCa;

  @Option(
      names = "--tls-server-name",
      paramLabel = "NAME",
      description =
          "The name in Temporal's certificate, when not the address's host (default:"
              + " TEMPORAL_TLS_SERVER_NAME).")
  String tlsServerName;

  @Option(
      names = "--api-key",
      paramLabel = "KEY",
      description =
          "API key, e.g. for Temporal Cloud (default: TEMPORAL_API_KEY; prefer the variable: a"
              + " flag shows in the process list).")
  String apiKey;

  @Option(
      names = "--sticky",
      defaultValue = "auto",
      description =
          "Sticky execution: auto (off against the Temporal test server of `lockstep dev`, whose"
              + " sticky queues never expire; on elsewhere), on, off.")
  String sticky;

  @Option(
      names = "--health-port",
      description = "Port of GET /health; 0 picks a free one, -1 turns it off (default 8081).")
  Integer healthPort;

  @Option(
      names = "--metrics-port",
      description =
          "Port of Prometheus GET /metrics; 0 picks a free one, -1 turns it off (default:"
              + " LOCKSTEP_WORKER_METRICS_PORT, else off).")
  Integer metricsPort;

  @Option(
      names = "--notify-webhooks",
      paramLabel = "[FORMAT=]URL,...",
      description =
          "Webhooks told about every run whose plan has no notify: (format json or slack, json by"
              + " default), comma-separated (default: LOCKSTEP_NOTIFY_WEBHOOKS; prefer the"
              + " variable, from a Secret: a URL may carry a token).")
  String notifyWebhooks;

  @Option(
      names = "--notify-remind-every",
      paramLabel = "DURATION",
      description =
          "While a gate waits, remind those webhooks this often, e.g. 1h (default:"
              + " LOCKSTEP_NOTIFY_REMIND_EVERY; none: no reminders).")
  String notifyRemindEvery;

  @Option(
      names = "--shutdown-grace",
      defaultValue = "30s",
      description = "How long a stopping worker lets running activities finish.")
  String shutdownGrace;

  @Option(
      names = "--max-activities",
      defaultValue = "" + WorkerSettings.DEFAULT_MAX_ACTIVITIES,
      description =
          "How many activities run at once (default 1000). A unit being waited for holds one,"
              + " on a shared watch: waits cost a parked thread, not API calls.")
  int maxActivities;

  @Option(
      names = "--workflow-cache",
      defaultValue = "" + WorkerSettings.DEFAULT_WORKFLOW_CACHE,
      description =
          "How many workflows stay in memory, each on a parked thread (default 600); others are"
              + " replayed from their history when they go on. Bounds the worker's memory.")
  int workflowCache;

  @Option(
      names = "--codec-keys",
      paramLabel = "PATHS",
      description =
          "Encrypt payloads (AES-256-GCM) with these keys: files or directories (a mounted"
              + " Secret), comma-separated (default: LOCKSTEP_CODEC_KEYS; none: clear text).")
  String codecKeys;

  @Option(
      names = "--codec-key-id",
      paramLabel = "ID",
      description =
          "The key that encrypts new payloads (default: LOCKSTEP_CODEC_KEY_ID, else the last key"
              + " id in sort order); older ones still decrypt.")
  String codecKeyId;

  @Option(names = "--verbose", description = "Print stack traces.")
  boolean verbose;

  public static void main(String[] args) {
    int code = PicocliRunner.execute(WorkerCommand.class, args);
    System.exit(code);
  }

  @Override
  public Integer call() throws Exception {
    if (!sticky.equals("auto") && !sticky.equals("on") && !sticky.equals("off")) {
      System.err.println("lockstep: --sticky must be auto, on or off, not '" + sticky + "'");
      return 2;
    }
    if (maxActivities < 1 || maxActivities > 100_000) {
      System.err.println(
          "lockstep: --max-activities must be between 1 and 100000, not " + maxActivities);
      return 2;
    }
    if (workflowCache < 1 || workflowCache > 100_000) {
      System.err.println(
          "lockstep: --workflow-cache must be between 1 and 100000, not " + workflowCache);
      return 2;
    }
    Duration grace;
    try {
      grace = dev.lockstep.workflows.Durations.parse(shutdownGrace);
    } catch (IllegalArgumentException e) {
      System.err.println("lockstep: --shutdown-grace: " + e.getMessage());
      return 2;
    }
    TemporalConnection temporal =
        TemporalConnection.fromEnvironment(System.getenv())
            .overriddenBy(
                new TemporalConnection(
                    temporalAddress != null ? temporalAddress : configuredAddress,
                    temporalNamespace != null ? temporalNamespace : configuredNamespace,
                    tls,
                    tlsCert,
                    tlsKey,
                    tlsCa,
                    tlsServerName,
                    apiKey));
    if (!temporal.problems().isEmpty()) {
      System.err.println("lockstep: " + String.join("; ", temporal.problems()));
      return 2;
    }
    dev.lockstep.workflows.PayloadEncryption codec = null;
    String keys = codecKeys != null ? codecKeys : System.getenv("LOCKSTEP_CODEC_KEYS");
    if (keys != null && !keys.isBlank()) {
      try {
        codec =
            dev.lockstep.workflows.PayloadEncryption.fromFiles(
                keys, codecKeyId != null ? codecKeyId : System.getenv("LOCKSTEP_CODEC_KEY_ID"));
      } catch (IllegalArgumentException e) {
        System.err.println("lockstep: " + e.getMessage());
        return 2;
      }
    }
    WorkerSettings settings =
        new WorkerSettings(
            cluster != null ? cluster : configuredCluster,
            temporal,
            kubeconfig,
            context,
            sticky,
            grace,
            maxActivities,
            workflowCache,
            codec);
    dev.lockstep.activities.WorkerNotify notify;
    try {
      notify =
          dev.lockstep.activities.WorkerNotify.parse(
              notifyWebhooks != null ? notifyWebhooks : System.getenv("LOCKSTEP_NOTIFY_WEBHOOKS"),
              notifyRemindEvery != null
                  ? notifyRemindEvery
                  : System.getenv("LOCKSTEP_NOTIFY_REMIND_EVERY"));
    } catch (IllegalArgumentException e) {
      System.err.println("lockstep: " + e.getMessage());
      return 2;
    }
    int metricsAt = metricsPort != null ? metricsPort : configuredMetricsPort;
    WorkerMetrics metrics = null;
    if (metricsAt >= 0) {
      try {
        metrics = new WorkerMetrics(metricsAt, WorkerMetrics.REPORT_EVERY);
      } catch (java.io.IOException e) {
        System.err.println(
            "lockstep: cannot serve /metrics on port "
                + metricsAt
                + ": "
                + e.getMessage()
                + "; use --metrics-port");
        return 2;
      }
    }
    WorkerRuntime runtime;
    try {
      runtime = WorkerRuntime.start(settings, metrics == null ? null : metrics.scope(), notify);
    } catch (WorkerRuntime.StartFailure e) {
      if (metrics != null) {
        metrics.close();
      }
      System.err.println("lockstep: " + e.getMessage());
      if (verbose) {
        e.printStackTrace();
      }
      return 4;
    }
    int port = healthPort != null ? healthPort : configuredHealthPort;
    HealthServer health = null;
    if (port >= 0) {
      try {
        health = new HealthServer(port, settings.cluster(), runtime::running);
      } catch (java.io.IOException e) {
        System.err.println(
            "lockstep: cannot serve /health on port "
                + port
                + ": "
                + e.getMessage()
                + "; use --health-port");
        runtime.close();
        if (metrics != null) {
          metrics.close();
        }
        return 2;
      }
    }
    System.out.println(
        "worker ready: cluster "
            + settings.cluster()
            + ", Temporal "
            + settings.temporalAddress()
            + ", sticky execution "
            + (runtime.sticky() ? "on" : "off")
            + (health == null ? "" : ", health http://localhost:" + health.port() + "/health")
            + (metrics == null ? "" : ", metrics http://localhost:" + metrics.port() + "/metrics"));
    System.out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    HealthServer finalHealth = health;
    WorkerMetrics finalMetrics = metrics;
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  if (finalHealth != null) {
                    finalHealth.close();
                  }
                  runtime.close();
                  if (finalMetrics != null) {
                    finalMetrics.close();
                  }
                  stopped.countDown();
                }));
    stopped.await();
    return 0;
  }
}
