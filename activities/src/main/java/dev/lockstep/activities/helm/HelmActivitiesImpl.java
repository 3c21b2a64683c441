package dev.lockstep.activities.helm;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.activities.HookJobs;
import dev.lockstep.workflows.ClusterActivities;
import dev.lockstep.workflows.HelmActivities;
import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradePlan;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/** {@link HelmActivities} with helm-java (rendering) and fabric8 (Helm's storage). */
public final class HelmActivitiesImpl implements HelmActivities {
  private final HelmStorage storage;
  private final ChartRenderer renderer;
  private final ReleaseObjects objects;
  private final HookJobs hookJobs;

  public HelmActivitiesImpl(KubernetesClient client, Duration helmTimeout) {
    this.storage = new HelmStorage(client);
    this.renderer = new ChartRenderer(helmTimeout);
    this.objects = new ReleaseObjects(client);
    this.hookJobs = new HookJobs(client);
  }

  @Override
  public ReleasePlan planRelease(ReleaseRequest request) {
    List<HelmRelease> history = storage.history(request.namespace(), request.release());
    String held = heldProblem(request, history);
    if (held != null) {
      return refused(held);
    }
    return plan(request, lastDeployed(history).orElseThrow()).plan();
  }

  /**
   * Why the release cannot be upgraded now, or null when it can: no such release, or its latest
   * revision pending (another operation holds it). A latest revision that failed is no obstacle: as
   * Helm does, the upgrade starts from the last deployed one.
   */
  private static String heldProblem(ReleaseRequest request, List<HelmRelease> history) {
    String release = request.namespace() + "/" + request.release();
    if (history.isEmpty()) {
      return "release " + release + " not found (no Helm release of that name there)";
    }
    HelmRelease latest = history.get(history.size() - 1);
    if (latest.status().startsWith("pending-")) {
      return "release "
          + release
          + " is "
          + latest.status()
          + " at revision "
          + latest.version()
          + ": another operation holds it (lockstep repair "
          + request.namespace()
          + "/helm/"
          + request.release()
          + " if it was interrupted)";
    }
    if (lastDeployed(history).isEmpty()) {
      return "release "
          + release
          + " is "
          + latest.status()
          + " at revision "
          + latest.version()
          + " and has no deployed revision to upgrade from";
    }
    return null;
  }

  private static Optional<HelmRelease> lastDeployed(List<HelmRelease> history) {
    for (int i = history.size() - 1; i >= 0; i--) {
      if (history.get(i).status().equals(HelmRelease.DEPLOYED)) {
        return Optional.of(history.get(i));
      }
    }
    return Optional.empty();
  }

  /** A plan and the rendering it came from (null when refused). */
  private record Planned(ReleasePlan plan, ChartRenderer.Rendered next) {}

  private Planned plan(ReleaseRequest request, HelmRelease deployed) {
    Path work = null;
    try {
      work = Files.createTempDirectory("lockstep-helm-");
      Path chartRoot = materialize(request.chart(), work.resolve("chart"));
      Path chart = ChartRenderer.resolveChart(chartRoot, blankToNull(request.version()));
      Map<String, String> files = new LinkedHashMap<>();
      for (ValuesFile file : request.valuesFiles()) {
        files.put(file.name(), file.text());
      }
      ObjectNode values =
          HelmValues.merge(deployed.config(), files, request.sets(), reuse(request.reuse()));
      ChartRenderer.Rendered next =
          renderer.render(chart, request.release(), request.namespace(), values);
      HelmPlan.Report plan = HelmPlan.of(deployed, next);
      return new Planned(
          new ReleasePlan(
              List.of(),
              plan.fromRevision(),
              plan.fromChart(),
              plan.toChart(),
              plan.valuesDiff(),
              plan.chartDefaultsDiff(),
              plan.objects().stream()
                  .map(
                      o ->
                          new ObjectChange(
                              o.key(), o.change().name().toLowerCase(), o.workload(), o.diff()))
                  .toList(),
              plan.workloads().stream()
                  .map(
                      w ->
                          new WorkloadMove(
                              w.key(),
                              w.change().name().toLowerCase(),
                              w.subchart(),
                              w.declaredDowntime()))
                  .toList(),
              plan.hooks()),
          next);
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      if (work != null) {
        message = message.replace(work.resolve("chart").toString(), request.chart().name());
      }
      return new Planned(refused(message), null);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      if (work != null) {
        delete(work);
      }
    }
  }

  /** The hook events a Lockstep upgrade runs. */
  static final List<String> UPGRADE_EVENTS = List.of("pre-upgrade", "post-upgrade", "test");

  @Override
  public PendingUpgrade beginUpgrade(BeginRequest begin) {
    try {
      return beginUpgradeNow(begin);
    } catch (KubernetesClientException e) {
      throw refusedByTheApiServer(e);
    }
  }

  private PendingUpgrade beginUpgradeNow(BeginRequest begin) {
    ReleaseRequest request = begin.request();
    String ns = request.namespace();
    String name = request.release();
    String marker = runMarker(begin.runId());
    List<HelmRelease> history = storage.history(ns, name);
    Optional<HelmRelease> latest =
        history.isEmpty() ? Optional.empty() : Optional.of(history.get(history.size() - 1));
    HelmRelease ours =
        latest
            .filter(r -> r.status().equals(HelmRelease.PENDING_UPGRADE))
            .filter(r -> r.description().contains(marker))
            .orElse(null);
    HelmRelease deployed;
    if (ours != null) {
      // A retry by the run that already holds the release: plan from the revision it held.
      deployed = lastDeployed(history).orElse(null);
      if (deployed == null) {
        return new PendingUpgrade(
            refused("release " + ns + "/" + name + " has no deployed revision left"),
            0,
            0,
            List.of());
      }
    } else {
      String held = heldProblem(request, history);
      if (held != null) {
        return new PendingUpgrade(refused(held), 0, 0, List.of());
      }
      deployed = lastDeployed(history).orElseThrow();
    }
    Planned planned = plan(request, deployed);
    if (!planned.plan().problems().isEmpty()) {
      return new PendingUpgrade(planned.plan(), 0, 0, List.of());
    }
    List<String> problems = new java.util.ArrayList<>();
    for (WorkloadMove move : planned.plan().workloads()) {
      if (!move.change().equals("update")) {
        problems.add(
            move.key()
                + " would be "
                + (move.change().equals("create")
                    ? "created"
                    : move.change().equals("delete") ? "deleted" : "replaced (its kind changes)")
                + ": lockstep upgrade of a release moves changed workloads only, for now");
      }
    }
    for (HelmRelease.Hook hook : planned.next().hooks()) {
      if (!hook.kind().equals("Job") && hook.events().stream().anyMatch(UPGRADE_EVENTS::contains)) {
        problems.add(
            "hook "
                + hook.kind()
                + "/"
                + hook.name()
                + ": only Job hooks run in a lockstep upgrade, for now");
      }
    }
    if (!problems.isEmpty()) {
      return new PendingUpgrade(refused(problems), 0, 0, List.of());
    }
    ChartRenderer.Rendered next = planned.next();
    int to = ours != null ? ours.version() : latest.orElseThrow().version() + 1;
    if (ours == null) {
      Instant now = Instant.now();
      // Numbered after the latest revision (a failed one too), as Helm numbers them.
      HelmRelease pending =
          latest
              .orElseThrow()
              .next(
                  next.chart(),
                  next.config(),
                  next.manifest(),
                  next.hooks(),
                  HelmRelease.PENDING_UPGRADE,
                  "Preparing upgrade (" + marker + ")",
                  now);
      if (!storage.create(pending, now)) {
        return new PendingUpgrade(
            refused(
                "release "
                    + ns
                    + "/"
                    + name
                    + ": revision "
                    + to
                    + " was written by another operation meanwhile"),
            0,
            0,
            List.of());
      }
    }
    List<WorkloadUpgrade> workloads = new java.util.ArrayList<>();
    for (WorkloadMove move : planned.plan().workloads()) {
      ChartRenderer.RenderedObject object =
          next.objects().stream().filter(o -> o.key().equals(move.key())).findFirst().orElseThrow();
      @SuppressWarnings("unchecked")
      Map<String, Object> template =
          Serialization.jsonMapper()
              .convertValue(object.object().path("spec").path("template"), Map.class);
      workloads.add(
          new WorkloadUpgrade(
              move.key(),
              object.kind().toLowerCase(java.util.Locale.ROOT),
              object.name(),
              move.change(),
              move.subchart(),
              move.declaredDowntime(),
              template));
    }
    return new PendingUpgrade(planned.plan(), deployed.version(), to, workloads);
  }

  /**
   * A refusal that retrying cannot change (forbidden, invalid) fails the step at once with the API
   * server's reason; anything else (a conflict, the server unavailable) is retried by Temporal.
   */
  private static RuntimeException refusedByTheApiServer(KubernetesClientException e) {
    if (e.getCode() == 403 || e.getCode() == 422 || e.getCode() == 400) {
      dev.lockstep.activities.ApiErrorCounter.count(e);
      String reason = e.getStatus() != null ? e.getStatus().getMessage() : e.getMessage();
      return ApplicationFailure.newNonRetryableFailure(
          "the API server refused: " + reason, "Rejected");
    }
    return e;
  }

  /** How a pending revision names the run that holds it. */
  static String runMarker(String runId) {
    return "lockstep run " + runId;
  }

  @Override
  public List<String> moveObjects(ObjectsRequest request) {
    try {
      return moveObjectsNow(request);
    } catch (KubernetesClientException e) {
      throw refusedByTheApiServer(e);
    }
  }

  private List<String> moveObjectsNow(ObjectsRequest request) {
    HelmRelease from = revision(request.namespace(), request.release(), request.fromRevision());
    HelmRelease to = revision(request.namespace(), request.release(), request.toRevision());
    return objects
        .apply(
            request.release(),
            request.namespace(),
            ChartRenderer.objects(from.manifest()),
            ChartRenderer.objects(to.manifest()))
        .stream()
        .map(a -> a.key() + " " + a.action())
        .toList();
  }

  @Override
  public List<String> runHooks(HooksRequest request) {
    HelmRelease revision = revision(request.namespace(), request.release(), request.revision());
    List<HelmRelease.Hook> hooks =
        revision.hooks().stream()
            .filter(h -> h.events().contains(request.event()))
            .sorted(
                Comparator.comparingInt(HelmRelease.Hook::weight)
                    .thenComparing(HelmRelease.Hook::name))
            .toList();
    List<String> ran = new java.util.ArrayList<>();
    for (int i = 0; i < hooks.size(); i++) {
      HelmRelease.Hook hook = hooks.get(i);
      if (!hook.kind().equals("Job")) {
        throw ApplicationFailure.newNonRetryableFailure(
            "hook " + hook.kind() + "/" + hook.name() + ": only Job hooks run, for now",
            "HookUnsupported");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> job = Serialization.unmarshal(hook.manifest(), Map.class);
      String jobName = Names.hookJob(hook.name(), request.event(), request.runId(), i);
      ClusterActivities.HookResult result =
          hookJobs.run(
              new ClusterActivities.HookRequest(
                  request.cluster(),
                  new Target(request.namespace(), "helm", request.release()),
                  request.event(),
                  new UpgradePlan.Hook(null, null, job, null),
                  jobName,
                  request.runId()));
      ran.add(
          request.event() + " hook " + hook.name() + ": Job " + result.jobName() + " completed");
    }
    return ran;
  }

  @Override
  public void finishUpgrade(FinishRequest request) {
    try {
      finishUpgradeNow(request);
    } catch (KubernetesClientException e) {
      throw refusedByTheApiServer(e);
    }
  }

  private void finishUpgradeNow(FinishRequest request) {
    HelmRelease to = revision(request.namespace(), request.release(), request.toRevision());
    Instant now = Instant.now();
    if (request.deployed()) {
      // In Helm's order: the previous revision superseded, then the new one deployed.
      HelmRelease from = revision(request.namespace(), request.release(), request.fromRevision());
      if (!from.status().equals(HelmRelease.SUPERSEDED)) {
        storage.write(from.withStatus(HelmRelease.SUPERSEDED, null), now);
      }
      if (!to.status().equals(HelmRelease.DEPLOYED)) {
        storage.write(to.withStatus(HelmRelease.DEPLOYED, "Upgrade complete"), now);
      }
    } else if (!to.status().equals(HelmRelease.FAILED)) {
      storage.write(to.withStatus(HelmRelease.FAILED, request.description()), now);
    }
  }

  private HelmRelease revision(String namespace, String release, int version) {
    return storage
        .get(namespace, release, version)
        .orElseThrow(
            () ->
                ApplicationFailure.newNonRetryableFailure(
                    "release "
                        + namespace
                        + "/"
                        + release
                        + " has no revision "
                        + version
                        + " (Secret "
                        + HelmStorage.secretName(release, version)
                        + ")",
                    "RevisionMissing"));
  }

  private static ReleasePlan refused(String problem) {
    return refused(List.of(problem));
  }

  private static ReleasePlan refused(List<String> problems) {
    return new ReleasePlan(
        List.copyOf(problems),
        0,
        null,
        null,
        List.of(),
        List.of(),
        List.of(),
        List.of(),
        List.of());
  }

  private static String blankToNull(String text) {
    return text == null || text.isBlank() ? null : text;
  }

  private static HelmValues.Reuse reuse(String reuse) {
    if (reuse == null || reuse.isBlank() || reuse.equals("default")) {
      return HelmValues.Reuse.DEFAULT;
    }
    return switch (reuse) {
      case "reuse-values" -> HelmValues.Reuse.REUSE_VALUES;
      case "reset-values" -> HelmValues.Reuse.RESET_VALUES;
      default ->
          throw new IllegalArgumentException(
              "unknown values mode '" + reuse + "': use reuse-values or reset-values");
    };
  }

  /** Writes the chart's files under {@code dir}; a path leaving it is refused. */
  static Path materialize(ChartFiles chart, Path dir) throws IOException {
    if (chart == null || chart.files() == null || chart.files().isEmpty()) {
      throw new IllegalArgumentException("no chart given (--chart DIR)");
    }
    long total = 0;
    Files.createDirectories(dir);
    for (Map.Entry<String, String> file : chart.files().entrySet()) {
      Path target = dir.resolve(file.getKey()).normalize();
      if (!target.startsWith(dir) || Path.of(file.getKey()).isAbsolute()) {
        throw new IllegalArgumentException(
            "chart " + chart.name() + ": file " + file.getKey() + " is outside the chart");
      }
      byte[] bytes = Base64.getDecoder().decode(file.getValue());
      total += bytes.length;
      if (total > MAX_CHART_BYTES) {
        throw new IllegalArgumentException(
            "chart " + chart.name() + " is over " + MAX_CHART_BYTES / 1000 + " kB");
      }
      Files.createDirectories(target.getParent());
      Files.write(target, bytes);
    }
    return dir;
  }

  private static void delete(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // A temporary directory left behind is harmless.
    }
  }
}
