package dev.lockstep.console;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lockstep.workflows.Names;
import dev.lockstep.workflows.Phase;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Step;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UnitState;
import dev.lockstep.workflows.UnitStatus;
import dev.lockstep.workflows.UpgradePlan;
import dev.lockstep.workflows.UpgradeRequest;
import dev.lockstep.workflows.UpgradeResult;
import dev.lockstep.workflows.UpgradeStatus;
import dev.lockstep.workflows.UpgradeWorkflow;
import dev.lockstep.workflows.Verdict;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.workflow.Workflow;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The console over plain HTTP (no browser), against a scripted upgrade in Temporal's in-process
 * test environment: who may steer, cross-site request forgery refused, read-only modes, and user
 * text shown as text.
 */
class ConsoleHttpTest {
  private static final Target TARGET = new Target("demo", "statefulset", "pg");
  private static final String PAGE = "/upgrades/default/demo/statefulset/pg";
  private static final String SCRIPT = "<script>alert(1)</script>";

  private static TestWorkflowEnvironment env;
  private static Console console;
  private static Console readOnly;
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  /** What the scripted upgrade answers, and the steering requests it accepted. */
  static volatile UpgradeStatus status;

  static final List<String> STEERED = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() {
    env = TestWorkflowEnvironment.newInstance();
    env.newWorker(Names.taskQueue("default"))
        .registerWorkflowImplementationTypes(FakeUpgrade.class);
    env.start();
    WorkflowClient client = env.getWorkflowClient();
    status = status(Phase.WAITING_FOR_RESUME);
    UpgradeWorkflow upgrade =
        client.newWorkflowStub(
            UpgradeWorkflow.class,
            WorkflowOptions.newBuilder()
                .setWorkflowId(Names.workflowId("default", TARGET))
                .setTaskQueue(Names.taskQueue("default"))
                .build());
    WorkflowClient.start(
        upgrade::run,
        new UpgradeRequest(
            UpgradePlan.builder()
                .target(TARGET.toString())
                .images(Map.of("pg", "postgres:14.9"))
                .build(),
            "carol@laptop",
            "monthly patch",
            0));
    console = Console.start(settings(false), client);
    readOnly = Console.start(settings(true), client);
  }

  private static ConsoleSettings settings(boolean readOnly) {
    return new ConsoleSettings(
        "127.0.0.1",
        0,
        List.of("default"),
        null,
        ConsoleSettings.USER_HEADER,
        ConsoleSettings.EMAIL_HEADER,
        readOnly);
  }

  @AfterAll
  static void stop() {
    console.close();
    readOnly.close();
    env.close();
  }

  @BeforeEach
  void reset() {
    STEERED.clear();
    status = status(Phase.WAITING_FOR_RESUME);
  }

  static UpgradeStatus status(Phase phase) {
    return new UpgradeStatus(
        TARGET.toString(),
        "run-1",
        phase,
        "first unit upgraded " + SCRIPT,
        "pg-5d8f",
        "pg-7c41",
        Map.of("pg", "postgres:14.8"),
        Map.of("pg", "postgres:14.9"),
        "default",
        "2026-11-27T10:00:00Z",
        null,
        "lockstep rollback " + TARGET,
        List.of(
            new UnitStatus("pg-1", 1, UnitState.UPGRADED, "pg-7c41", true, "upgrade completed"),
            new UnitStatus("pg-0", 0, UnitState.WAITING, "pg-5d8f", true, "annotated " + SCRIPT)),
        List.of(),
        List.of(),
        List.of(
            new Step(Step.Kind.UNIT, "pg-1", Step.State.DONE),
            new Step(Step.Kind.GATE, "after pg-1", Step.State.RUNNING),
            new Step(Step.Kind.UNIT, "pg-0", Step.State.PENDING)),
        1,
        "upgrade",
        null,
        null);
  }

  @Test
  void theUpgradePageShowsUnitsStepsAndImagesWithUserTextEscaped() throws Exception {
    HttpResponse<String> page = get(console, PAGE, "alice");

    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.body())
        .contains("Signed in as <strong>alice</strong>")
        .contains("waiting for resume")
        .contains("pg-1")
        .contains("upgraded")
        .contains("postgres:14.8</code> → <code>postgres:14.9")
        .contains("aria-current=\"step\"")
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
        .doesNotContain(SCRIPT);
    assertThat(page.headers().firstValue("Content-Security-Policy").orElse(""))
        .contains("script-src 'self'");
  }

  @Test
  void aGateThatNeedsSeveralApprovalsShowsWhoHasApprovedAndHowManyMore() throws Exception {
    UpgradeStatus s = status(Phase.WAITING_FOR_RESUME);
    status =
        new UpgradeStatus(
            s.target(),
            s.runId(),
            s.phase(),
            s.message(),
            s.fromRevision(),
            s.toRevision(),
            s.fromImages(),
            s.toImages(),
            s.cluster(),
            s.startedAt(),
            s.finishedAt(),
            s.rollbackCommand(),
            s.units(),
            s.steering(),
            s.checks(),
            s.steps(),
            s.step(),
            s.kind(),
            new UpgradeStatus.GateStatus(
                2, List.of("bob"), 1, null, "2026-11-28T10:00:00Z", "hold", false),
            null);

    HttpResponse<String> page = get(console, PAGE, "alice");

    assertThat(page.body())
        .contains(
            "Gate: approved by bob (1 of 2); 1 more approval needed; times out at"
                + " 2026-11-28T10:00:00Z (onGateTimeout: hold)");
  }

  @Test
  void aResumeFromTheConsolesOwnFormGoesToTheUpgradeWithWhoAndWhy() throws Exception {
    HttpResponse<String> page = get(console, PAGE, "alice");
    String cookie = cookie(page);

    HttpResponse<String> answer =
        post(
            console,
            PAGE + "/steer",
            "alice",
            cookie,
            token(page),
            origin(console),
            "resume",
            "looks good " + SCRIPT);

    assertThat(answer.statusCode()).isEqualTo(200);
    assertThat(answer.body())
        .contains("resume accepted:</strong> resumed by alice")
        .doesNotContain(SCRIPT);
    assertThat(STEERED).containsExactly("resume|alice|looks good " + SCRIPT);
  }

  @Test
  void aRefusedActionShowsTheUpgradesOwnWords() throws Exception {
    status = status(Phase.UPGRADING);
    HttpResponse<String> page = get(console, PAGE, "alice");

    HttpResponse<String> answer =
        post(
            console,
            PAGE + "/steer",
            "alice",
            cookie(page),
            token(page),
            origin(console),
            "resume",
            "go");

    assertThat(answer.statusCode()).isEqualTo(409);
    assertThat(answer.body())
        .contains(
            "resume refused:</strong> no gate is waiting and the upgrade is not paused (phase"
                + " UPGRADING)");
    assertThat(STEERED).isEmpty();
  }

  @Test
  void aPostWithoutTheSessionsTokenIsRefusedAndSendsNothing() throws Exception {
    HttpResponse<String> page = get(console, PAGE, "alice");

    HttpResponse<String> noCookie =
        post(console, PAGE + "/steer", "alice", null, token(page), origin(console), "resume", "x");
    HttpResponse<String> wrongToken =
        post(
            console,
            PAGE + "/steer",
            "alice",
            cookie(page),
            "A".repeat(43),
            origin(console),
            "resume",
            "x");

    assertThat(noCookie.statusCode()).isEqualTo(403);
    assertThat(noCookie.body()).contains("security token is missing or out of date");
    assertThat(wrongToken.statusCode()).isEqualTo(403);
    assertThat(STEERED).isEmpty();
  }

  @Test
  void aPostFromAnotherSiteIsRefusedEvenWithTheToken() throws Exception {
    HttpResponse<String> page = get(console, PAGE, "alice");

    HttpResponse<String> answer =
        post(
            console,
            PAGE + "/steer",
            "alice",
            cookie(page),
            token(page),
            "https://evil.example",
            "resume",
            "x");

    // Refused by Micronaut's own guard for loopback servers, or by the console's origin check.
    assertThat(answer.statusCode()).isEqualTo(403);
    assertThat(STEERED).isEmpty();
  }

  @Test
  void withNoSignedInUserTheConsoleIsReadOnlyAndSaysWhy() throws Exception {
    HttpResponse<String> page = get(console, PAGE, null);

    assertThat(page.body())
        .contains("read-only: no one is signed in (no authenticating proxy set X-Forwarded-User")
        .doesNotContain("<form method=\"post\"");
    HttpResponse<String> answer =
        post(
            console,
            PAGE + "/steer",
            null,
            cookie(page),
            "A".repeat(43),
            origin(console),
            "resume",
            "x");
    assertThat(answer.statusCode()).isEqualTo(403);
    assertThat(STEERED).isEmpty();
  }

  @Test
  void theEmailHeaderIsWhoSteersWhenTheProxySetsNoUser() throws Exception {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(base(console) + PAGE))
            .header("X-Forwarded-Email", "bob@example.com")
            .build();
    assertThat(HTTP.send(request, HttpResponse.BodyHandlers.ofString()).body())
        .contains("Signed in as <strong>bob@example.com</strong>");
  }

  @Test
  void readOnlyTurnsSteeringOffForEveryone() throws Exception {
    HttpResponse<String> page = get(readOnly, PAGE, "alice");

    assertThat(page.body())
        .contains("this console is read-only (--read-only)")
        .doesNotContain("<form method=\"post\"");
    HttpResponse<String> answer =
        post(
            readOnly,
            PAGE + "/steer",
            "alice",
            cookie(page),
            "A".repeat(43),
            origin(readOnly),
            "resume",
            "x");
    assertThat(answer.statusCode()).isEqualTo(403);
    assertThat(STEERED).isEmpty();
  }

  @Test
  void theUpgradesListShowsTargetPhaseProgressAndWhoStartedIt() throws Exception {
    HttpResponse<String> list = get(console, "/fragments/upgrades/default", "alice");

    assertThat(list.statusCode()).isEqualTo(200);
    assertThat(list.body())
        .contains("href=\"" + PAGE + "\"")
        .contains("waiting for resume")
        .contains("1/2 units")
        .contains("carol@laptop");
    assertThat(get(console, "/", "alice").body()).contains("Cluster default");
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private static String base(Console c) {
    return "http://127.0.0.1:" + c.port();
  }

  private static String origin(Console c) {
    return base(c);
  }

  private static HttpResponse<String> get(Console c, String path, String user) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base(c) + path));
    if (user != null) {
      request.header("X-Forwarded-User", user);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> post(
      Console c,
      String path,
      String user,
      String cookie,
      String token,
      String origin,
      String action,
      String reason)
      throws Exception {
    String form =
        "csrf="
            + URLEncoder.encode(token == null ? "" : token, StandardCharsets.UTF_8)
            + "&action="
            + action
            + "&reason="
            + URLEncoder.encode(reason, StandardCharsets.UTF_8);
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(base(c) + path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Origin", origin)
            .POST(HttpRequest.BodyPublishers.ofString(form));
    if (user != null) {
      request.header("X-Forwarded-User", user);
    }
    if (cookie != null) {
      request.header("Cookie", cookie);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String cookie(HttpResponse<String> page) {
    return page.headers().allValues("Set-Cookie").stream()
        .filter(c -> c.startsWith(Access.CSRF_COOKIE + "="))
        .map(c -> c.substring(0, c.indexOf(';')))
        .findFirst()
        .orElseThrow();
  }

  private static String token(HttpResponse<String> page) {
    Matcher m = Pattern.compile("name=\"csrf\" value=\"([^\"]+)\"").matcher(page.body());
    return m.find() ? m.group(1) : null;
  }

  /** The scripted upgrade: answers {@link #status}, validates resume as the real one words it. */
  public static class FakeUpgrade implements UpgradeWorkflow {
    @Override
    public UpgradeResult run(UpgradeRequest request) {
      Workflow.await(() -> false);
      return null;
    }

    @Override
    public Verdict awaitVerdict() {
      return Verdict.ok("pg-5d8f");
    }

    private static String steered(String action, SteerRequest r) {
      STEERED.add(action + "|" + r.identity() + "|" + r.reason());
      return action + "d by " + r.identity();
    }

    private static void refuse(String why) {
      throw new IllegalStateException(why);
    }

    @Override
    public String resume(SteerRequest r) {
      return steered("resume", r);
    }

    @Override
    public void validateResume(SteerRequest r) {
      if (status.phase() != Phase.WAITING_FOR_RESUME) {
        refuse("no gate is waiting and the upgrade is not paused (phase " + status.phase() + ")");
      }
    }

    @Override
    public String pause(SteerRequest r) {
      return steered("pause", r);
    }

    @Override
    public void validatePause(SteerRequest r) {}

    @Override
    public String cancel(SteerRequest r) {
      return steered("cancel", r);
    }

    @Override
    public void validateCancel(SteerRequest r) {}

    @Override
    public String rollback(SteerRequest r) {
      return steered("rollback", r);
    }

    @Override
    public void validateRollback(SteerRequest r) {}

    @Override
    public String retry(SteerRequest r) {
      return steered("retry", r);
    }

    @Override
    public void validateRetry(SteerRequest r) {
      refuse("retry is for a HELD upgrade");
    }

    @Override
    public String abandon(SteerRequest r) {
      return steered("abandon", r);
    }

    @Override
    public void validateAbandon(SteerRequest r) {
      refuse("abandon is for a HELD upgrade");
    }

    @Override
    public void rollbackSignal(SteerRequest r) {}

    @Override
    public void retrySignal(SteerRequest r) {}

    @Override
    public void abandonSignal(SteerRequest r) {}

    @Override
    public void resumeSignal(SteerRequest r) {}

    @Override
    public void pauseSignal(SteerRequest r) {}

    @Override
    public void cancelSignal(SteerRequest r) {}

    @Override
    public UpgradeStatus status() {
      return status;
    }
  }
}
