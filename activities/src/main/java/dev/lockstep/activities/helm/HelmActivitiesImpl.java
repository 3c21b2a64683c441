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
  private final ReleaseWorkloads workloads;
  private final KubernetesClient client;

  public HelmActivitiesImpl(KubernetesClient client, Duration helmTimeout) {
    this.client = client;
    this.storage = new HelmStorage(client);
    this.renderer = new ChartRenderer(helmTimeout);
    this.objects = new ReleaseObjects(client);
    this.hookJobs = new HookJobs(client);
    this.workloads = new ReleaseWorkloads(client);
  }

  @Override
  public ReleasePlan planRelease(ReleaseRequest request) {
    List<HelmRelease> history = storage.history(request.namespace(), request.release());
    String held = heldProblem(request, history);
    if (held != null) {
      return refused(held);
    }
    Planned planned = plan(request, lastDeployed(history).orElseThrow());
    if (!planned.plan().problems().isEmpty()) {
      return planned.plan();
    }
    List<String> problems = workloadProblems(planned, request.release(), request.namespace());
    return problems.isEmpty() ? planned.plan() : refused(problems);
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

  /** The plan's report as the workflows read it. */
  private static ReleasePlan toPlan(HelmPlan.Report plan) {
    return new ReleasePlan(
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
        plan.hooks());
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
      return new Planned(toPlan(HelmPlan.of(deployed, next)), next);
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
    List<String> problems = unsupported(planned, UPGRADE_EVENTS, "upgrade", name, ns);
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
    return new PendingUpgrade(planned.plan(), deployed.version(), to, workloads(planned));
  }

  /**
   * Why the workloads of a plan cannot move, one line each: a workload whose kind changes (the old
   * one would have to be deleted before the new one exists: downtime Lockstep does not take on its
   * own), a workload to create whose name a workload that is not the release's holds (Helm refuses
   * it too). Reads the cluster, writes nothing.
   */
  private List<String> workloadProblems(Planned planned, String release, String namespace) {
    List<String> problems = new java.util.ArrayList<>();
    for (WorkloadMove move : planned.plan().workloads()) {
      if (move.change().equals("replace")) {
        String name = move.key().substring(move.key().indexOf('/') + 1);
        String was =
            planned.plan().objects().stream()
                .filter(o -> o.workload() && o.change().equals("delete"))
                .map(ObjectChange::key)
                .filter(k -> k.endsWith("/" + name))
                .findFirst()
                .orElse("a workload");
        problems.add(
            was
                + " would become "
                + move.key()
                + " (its kind changes): refused, as the old one must be deleted before the new"
                + " one exists; rename it in the chart (both then run side by side for a while)"
                + " or change it with helm");
      } else if (move.change().equals("create")) {
        rendered(planned, move.key())
            .flatMap(o -> workloads.foreign(release, namespace, o))
            .ifPresent(problems::add);
      }
    }
    return problems;
  }

  private static Optional<ChartRenderer.RenderedObject> rendered(Planned planned, String key) {
    return planned.next().objects().stream().filter(o -> o.key().equals(key)).findFirst();
  }

  /**
   * Why a lockstep upgrade or rollback cannot do what the plan says, one line each: {@link
   * #workloadProblems}, a hook of its events that is not a Job.
   */
  private List<String> unsupported(
      Planned planned, List<String> events, String what, String release, String namespace) {
    List<String> problems = workloadProblems(planned, release, namespace);
    for (HelmRelease.Hook hook : planned.next().hooks()) {
      if (!hook.kind().equals("Job") && hook.events().stream().anyMatch(events::contains)) {
        problems.add(
            "hook "
                + hook.kind()
                + "/"
                + hook.name()
                + ": only Job hooks run in a lockstep "
                + what
                + ", for now");
      }
    }
    return problems;
  }

  /**
   * The workloads to move, in the plan's order, each with its new pod template (none for one the
   * upgrade deletes).
   */
  private static List<WorkloadUpgrade> workloads(Planned planned) {
    List<WorkloadUpgrade> workloads = new java.util.ArrayList<>();
    for (WorkloadMove move : planned.plan().workloads()) {
      if (move.change().equals("delete")) {
        int slash = move.key().indexOf('/');
        workloads.add(
            new WorkloadUpgrade(
                move.key(),
                move.key().substring(0, slash).toLowerCase(java.util.Locale.ROOT),
                move.key().substring(slash + 1),
                move.change(),
                move.subchart(),
                false,
                Map.of()));
        continue;
      }
      ChartRenderer.RenderedObject object = rendered(planned, move.key()).orElseThrow();
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
    return workloads;
  }

  /** The hook events a Lockstep rollback runs, as {@code helm rollback} runs them. */
  static final List<String> ROLLBACK_EVENTS = List.of("pre-rollback", "post-rollback");

  @Override
  public PendingUpgrade beginRollback(RollbackRequest request) {
    try {
      return beginRollbackNow(request);
    } catch (KubernetesClientException e) {
      throw refusedByTheApiServer(e);
    }
  }

  private PendingUpgrade beginRollbackNow(RollbackRequest request) {
    String ns = request.namespace();
    String name = request.release();
    String release = ns + "/" + name;
    String marker = runMarker(request.runId());
    List<HelmRelease> history = storage.history(ns, name);
    HelmRelease latest = history.isEmpty() ? null : history.get(history.size() - 1);
    HelmRelease ours =
        latest != null
                && latest.status().equals(HelmRelease.PENDING_ROLLBACK)
                && latest.description().contains(marker)
            ? latest
            : null;
    if (ours == null) {
      String held =
          heldProblem(
              new ReleaseRequest(ns, name, null, null, List.of(), List.of(), null), history);
      if (held != null) {
        return new PendingUpgrade(refused(held), 0, 0, List.of());
      }
    }
    HelmRelease deployed = lastDeployed(history).orElse(null);
    if (deployed == null) {
      return new PendingUpgrade(
          refused("release " + release + " has no deployed revision left"), 0, 0, List.of());
    }
    HelmRelease target =
        history.stream().filter(r -> r.version() == request.toRevision()).findFirst().orElse(null);
    if (target == null) {
      return new PendingUpgrade(
          refused(
              "release "
                  + release
                  + " has no revision "
                  + request.toRevision()
                  + " (revisions "
                  + history.get(0).version()
                  + " to "
                  + latest.version()
                  + ": lockstep history "
                  + ns
                  + "/helm/"
                  + name
                  + ")"),
          0,
          0,
          List.of());
    }
    if (ours == null && target.version() == latest.version()) {
      return new PendingUpgrade(
          refused(
              "revision "
                  + target.version()
                  + " of "
                  + release
                  + " is its latest ("
                  + latest.status()
                  + "): nothing to roll back"),
          0,
          0,
          List.of());
    }
    // As helm rollback does, from the latest revision (a failed upgrade's too: what it left in
    // the cluster goes back to revision N as well); a retry plans from the revision before its own.
    HelmRelease base =
        ours == null
            ? latest
            : history.stream()
                .filter(r -> r.version() < ours.version())
                .reduce((a, b) -> b)
                .orElse(deployed);
    ChartRenderer.Rendered next =
        new ChartRenderer.Rendered(
            target.chartName(),
            target.chartVersion(),
            target.appVersion(),
            target.chart(),
            target.config(),
            target.manifest(),
            ChartRenderer.objects(target.manifest()),
            target.hooks());
    HelmPlan.Report report = HelmPlan.of(base, next);
    Planned planned = new Planned(toPlan(report), next);
    List<String> problems = unsupported(planned, ROLLBACK_EVENTS, "rollback", name, ns);
    if (!problems.isEmpty()) {
      return new PendingUpgrade(refused(problems), 0, 0, List.of());
    }
    int to = ours != null ? ours.version() : latest.version() + 1;
    if (ours == null) {
      Instant now = Instant.now();
      // As helm rollback writes it: numbered after the latest, the target's chart and values.
      HelmRelease pending =
          latest.next(
              next.chart(),
              next.config(),
              next.manifest(),
              next.hooks(),
              HelmRelease.PENDING_ROLLBACK,
              "Rollback to " + target.version() + " (" + marker + ")",
              now);
      if (!storage.create(pending, now)) {
        return new PendingUpgrade(
            refused(
                "release "
                    + release
                    + ": revision "
                    + to
                    + " was written by another operation meanwhile"),
            0,
            0,
            List.of());
      }
    }
    return new PendingUpgrade(planned.plan(), base.version(), to, workloads(planned));
  }

  @Override
  public List<ReleaseRevision> releaseHistory(ReleaseRef release) {
    return storage.history(release.namespace(), release.release()).stream()
        .map(
            r ->
                new ReleaseRevision(
                    r.version(),
                    r.lastDeployed(),
                    r.status(),
                    r.chartName() + "-" + r.chartVersion(),
                    r.appVersion(),
                    r.description()))
        .toList();
  }

  @Override
  public ReleaseRepair repairRelease(RepairRequest request) {
    try {
      return repairReleaseNow(request);
    } catch (KubernetesClientException e) {
      throw refusedByTheApiServer(e);
    }
  }

  /** How a revision a repair wrote failed says so (and how a retry knows it). */
  static final String REPAIRED = "marked failed by lockstep repair";

  private ReleaseRepair repairReleaseNow(RepairRequest request) {
    String ns = request.namespace();
    String name = request.release();
    String release = ns + "/" + name;
    List<HelmRelease> history = storage.history(ns, name);
    if (history.isEmpty()) {
      return new ReleaseRepair(
          List.of("release " + release + " not found (no Helm release of that name there)"),
          0,
          null,
          null,
          0,
          List.of(),
          false);
    }
    HelmRelease latest = history.get(history.size() - 1);
    boolean repairedBefore =
        latest.status().equals(HelmRelease.FAILED) && latest.description().contains(REPAIRED);
    if (!latest.status().startsWith("pending-") && !(repairedBefore && request.apply())) {
      return new ReleaseRepair(
          List.of(
              "release "
                  + release
                  + " is "
                  + latest.status()
                  + " at revision "
                  + latest.version()
                  + ": nothing to repair (only a release left pending-upgrade or pending-rollback"
                  + " is)"),
          latest.version(),
          latest.status(),
          latest.description(),
          lastDeployed(history).map(HelmRelease::version).orElse(0),
          List.of(),
          false);
    }
    HelmRelease deployed = lastDeployed(history).orElse(null);
    List<String> workloads = workloadsNow(ns, deployed, latest);
    if (request.apply() && !repairedBefore) {
      String what = latest.status().equals(HelmRelease.PENDING_ROLLBACK) ? "Rollback" : "Upgrade";
      storage.write(
          latest.withStatus(
              HelmRelease.FAILED,
              what
                  + " \""
                  + name
                  + "\" failed: interrupted while "
                  + latest.status()
                  + " ("
                  + latest.description()
                  + "); "
                  + REPAIRED
                  + " by "
                  + request.identity()),
          Instant.now());
    }
    return new ReleaseRepair(
        List.of(),
        latest.version(),
        repairedBefore ? HelmRelease.FAILED : latest.status(),
        latest.description(),
        deployed == null ? 0 : deployed.version(),
        workloads,
        request.apply());
  }

  /**
   * One line per workload of the pending revision: the images it runs now, and whether those are
   * the deployed revision's, the pending one's, or neither.
   */
  private List<String> workloadsNow(String ns, HelmRelease deployed, HelmRelease pending) {
    Map<String, ChartRenderer.RenderedObject> before = new LinkedHashMap<>();
    if (deployed != null) {
      ChartRenderer.objects(deployed.manifest()).stream()
          .filter(ChartRenderer.RenderedObject::workload)
          .forEach(o -> before.put(o.key(), o));
    }
    List<String> lines = new java.util.ArrayList<>();
    for (ChartRenderer.RenderedObject o : ChartRenderer.objects(pending.manifest())) {
      if (!o.workload()) {
        continue;
      }
      String wanted = images(o.object().path("spec").path("template"));
      ChartRenderer.RenderedObject old = before.get(o.key());
      String had = old == null ? null : images(old.object().path("spec").path("template"));
      io.fabric8.kubernetes.api.model.HasMetadata live =
          o.kind().equals("StatefulSet")
              ? client.apps().statefulSets().inNamespace(ns).withName(o.name()).get()
              : client.apps().deployments().inNamespace(ns).withName(o.name()).get();
      if (live == null) {
        lines.add(o.key() + ": not found in the cluster");
        continue;
      }
      String now =
          images(Serialization.jsonMapper().valueToTree(live).path("spec").path("template"));
      String which =
          now.equals(wanted) && now.equals(had)
              ? "both revisions' template"
              : now.equals(wanted)
                  ? "revision " + pending.version() + "'s images"
                  : now.equals(had)
                      ? "revision " + deployed.version() + "'s images"
                      : "neither revision's images";
      lines.add(o.key() + ": its template has " + now + " (" + which + ")");
    }
    return lines;
  }

  /** The images of a pod template, {@code container=image}, comma-separated. */
  private static String images(com.fasterxml.jackson.databind.JsonNode template) {
    List<String> images = new java.util.ArrayList<>();
    for (com.fasterxml.jackson.databind.JsonNode c : template.path("spec").path("containers")) {
      images.add(c.path("name").asText() + "=" + c.path("image").asText());
    }
    return String.join(",", images);
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
  public String placeWorkload(WorkloadPresence request) {
    try {
      HelmRelease revision = revision(request.namespace(), request.release(), request.revision());
      ChartRenderer.RenderedObject object =
          ChartRenderer.objects(revision.manifest()).stream()
              .filter(o -> o.key().equals(request.key()))
              .findFirst()
              .orElseThrow(
                  () ->
                      ApplicationFailure.newNonRetryableFailure(
                          "revision "
                              + request.revision()
                              + " of "
                              + request.namespace()
                              + "/"
                              + request.release()
                              + " has no "
                              + request.key(),
                          "WorkloadMissing"));
      return request.present()
          ? workloads.create(request.release(), request.namespace(), object, request.readySeconds())
          : workloads.delete(request.release(), request.namespace(), object);
    } catch (KubernetesClientException e) {
      throw refusedByTheApiServer(e);
    }
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
      // In Helm's order: the revisions deployed before superseded (a failed one stays failed),
      // then the new one deployed.
      HelmRelease from = revision(request.namespace(), request.release(), request.fromRevision());
      if (from.status().equals(HelmRelease.DEPLOYED)) {
        storage.write(from.withStatus(HelmRelease.SUPERSEDED, null), now);
      }
      for (HelmRelease other : storage.history(request.namespace(), request.release())) {
        if (other.version() != request.toRevision()
            && other.status().equals(HelmRelease.DEPLOYED)) {
          storage.write(other.withStatus(HelmRelease.SUPERSEDED, null), now);
        }
      }
      if (!to.status().equals(HelmRelease.DEPLOYED)) {
        storage.write(
            to.withStatus(
                HelmRelease.DEPLOYED,
                request.description() != null ? request.description() : "Upgrade complete"),
            now);
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
