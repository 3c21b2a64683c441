package dev.lockstep.console;

import dev.lockstep.workflows.Audit;
import dev.lockstep.workflows.RevisionHistory;
import dev.lockstep.workflows.SteerRequest;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UpgradeStatus;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The console's routes. Reads and steering go to Temporal through {@link Upgrades}; every page is
 * rendered by {@link Pages}. Temporal calls block, so they run on the blocking executor, never on
 * the event loop.
 */
@Controller
@ExecuteOn(TaskExecutors.BLOCKING)
final class ConsoleController {
  /**
   * No script, style or frame from anywhere else: even a value that escaped escaping could not run.
   */
  private static final String CSP =
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
          + " frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

  private final ConsoleSettings settings;
  private final Upgrades upgrades;

  ConsoleController(ConsoleSettings settings, Upgrades upgrades) {
    this.settings = settings;
    this.upgrades = upgrades;
  }

  @Get(uri = "/", produces = MediaType.TEXT_HTML)
  MutableHttpResponse<String> index(HttpRequest<?> request) {
    Access access = Access.of(settings, request.getHeaders());
    return page(
        request,
        HttpStatus.OK,
        Pages.layout("Upgrades", access, Pages.listPage(settings.clusters())));
  }

  @Get(uri = "/fragments/upgrades/{cluster}", produces = MediaType.TEXT_HTML)
  MutableHttpResponse<String> listFragment(@PathVariable String cluster) {
    if (!settings.clusters().contains(cluster)) {
      return fragment(
          HttpStatus.NOT_FOUND, Pages.problem("this console does not show cluster " + cluster));
    }
    try {
      return fragment(HttpStatus.OK, Pages.listFragment(cluster, upgrades.list(cluster), upgrades));
    } catch (Upgrades.Unanswered e) {
      return fragment(HttpStatus.SERVICE_UNAVAILABLE, Pages.problem(e.getMessage()));
    }
  }

  @Get(uri = "/upgrades/{cluster}/{namespace}/{kind}/{name}", produces = MediaType.TEXT_HTML)
  MutableHttpResponse<String> upgrade(
      HttpRequest<?> request,
      @PathVariable String cluster,
      @PathVariable String namespace,
      @PathVariable String kind,
      @PathVariable String name) {
    Access access = Access.of(settings, request.getHeaders());
    return upgradePage(request, access, cluster, namespace, kind, name, null);
  }

  @Get(
      uri = "/fragments/upgrades/{cluster}/{namespace}/{kind}/{name}/live",
      produces = MediaType.TEXT_HTML)
  MutableHttpResponse<String> live(
      @PathVariable String cluster,
      @PathVariable String namespace,
      @PathVariable String kind,
      @PathVariable String name) {
    Target t = target(cluster, namespace, kind, name);
    if (t == null) {
      return fragment(HttpStatus.NOT_FOUND, Pages.problem("no such target"));
    }
    try {
      return fragment(HttpStatus.OK, Pages.live(upgrades.status(cluster, t)));
    } catch (Upgrades.Unanswered e) {
      return fragment(
          e.notFound ? HttpStatus.NOT_FOUND : HttpStatus.SERVICE_UNAVAILABLE,
          Pages.problem(e.getMessage()));
    }
  }

  @Get(
      uri = "/fragments/upgrades/{cluster}/{namespace}/{kind}/{name}/audit",
      produces = MediaType.TEXT_HTML)
  MutableHttpResponse<String> audit(
      @PathVariable String cluster,
      @PathVariable String namespace,
      @PathVariable String kind,
      @PathVariable String name) {
    Target t = target(cluster, namespace, kind, name);
    if (t == null) {
      return fragment(HttpStatus.NOT_FOUND, Pages.problem("no such target"));
    }
    try {
      return fragment(HttpStatus.OK, Pages.audit(upgrades.audit(cluster, t, status(cluster, t))));
    } catch (Upgrades.Unanswered e) {
      return fragment(
          e.notFound ? HttpStatus.NOT_FOUND : HttpStatus.SERVICE_UNAVAILABLE,
          Pages.problem(e.getMessage()));
    }
  }

  @Get(
      uri = "/upgrades/{cluster}/{namespace}/{kind}/{name}/history",
      produces = MediaType.TEXT_HTML)
  MutableHttpResponse<String> history(
      HttpRequest<?> request,
      @PathVariable String cluster,
      @PathVariable String namespace,
      @PathVariable String kind,
      @PathVariable String name) {
    Access access = Access.of(settings, request.getHeaders());
    Target t = target(cluster, namespace, kind, name);
    if (t == null) {
      return noSuchTarget(request, access, cluster, namespace, kind, name);
    }
    String body;
    HttpStatus code = HttpStatus.OK;
    try {
      List<RevisionHistory.Row> rows = upgrades.history(cluster, t);
      body = Pages.historyPage(cluster, t, rows);
    } catch (Upgrades.Unanswered e) {
      code = e.notFound ? HttpStatus.NOT_FOUND : HttpStatus.SERVICE_UNAVAILABLE;
      body = Pages.historyPage(cluster, t, null) + Pages.problem(e.getMessage());
    }
    return page(request, code, Pages.layout("History of " + t, access, body));
  }

  @Post(
      uri = "/upgrades/{cluster}/{namespace}/{kind}/{name}/steer",
      consumes = MediaType.APPLICATION_FORM_URLENCODED,
      produces = MediaType.TEXT_HTML)
  MutableHttpResponse<String> steer(
      HttpRequest<?> request,
      @PathVariable String cluster,
      @PathVariable String namespace,
      @PathVariable String kind,
      @PathVariable String name,
      @Body String body) {
    Access access = Access.of(settings, request.getHeaders());
    Map<String, String> form = form(body);
    if (!access.canSteer()) {
      return refusedPage(
          request, access, HttpStatus.FORBIDDEN, "steering is off: " + access.readOnlyWhy());
    }
    String forgery = Access.forgeryProblem(request, form.get(Access.CSRF_FIELD));
    if (forgery != null) {
      return refusedPage(request, access, HttpStatus.FORBIDDEN, "not steered: " + forgery);
    }
    Target t = target(cluster, namespace, kind, name);
    String action = form.get("action");
    if (t == null || action == null || !Upgrades.ACTIONS.containsKey(action)) {
      return refusedPage(
          request,
          access,
          HttpStatus.BAD_REQUEST,
          "not steered: give one of "
              + String.join(", ", Upgrades.ACTION_ORDER)
              + " for a known target");
    }
    String reason = form.getOrDefault("reason", "").strip();
    if (reason.isEmpty() || reason.length() > 1000) {
      return upgradePage(
          request,
          access,
          cluster,
          namespace,
          kind,
          name,
          new Upgrades.Answer(
              action, false, "give a reason (at most 1000 characters): it goes into the audit"));
    }
    Upgrades.Answer answer;
    try {
      boolean acceptDataRisk =
          action.equals("rollback") && "true".equals(form.get("acceptDataRisk"));
      answer =
          upgrades.steer(
              cluster, t, action, new SteerRequest(access.identity(), reason, acceptDataRisk));
    } catch (Upgrades.Unanswered e) {
      answer = new Upgrades.Answer(action, false, e.getMessage());
    }
    return upgradePage(request, access, cluster, namespace, kind, name, answer);
  }

  @Get(uri = "/static/{file}")
  MutableHttpResponse<?> asset(@PathVariable String file) throws IOException {
    MediaType type =
        switch (file) {
          case "console.css" -> MediaType.of("text/css; charset=utf-8");
          case "console.js" -> MediaType.of("text/javascript; charset=utf-8");
          default -> null;
        };
    if (type == null) {
      return HttpResponse.notFound();
    }
    try (InputStream in = ConsoleController.class.getResourceAsStream("/console/" + file)) {
      if (in == null) {
        return HttpResponse.notFound();
      }
      return secure(HttpResponse.ok(in.readAllBytes()).contentType(type))
          .header("Cache-Control", "no-cache");
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** The page for a path that names no target Lockstep knows how to read. */
  private MutableHttpResponse<String> noSuchTarget(
      HttpRequest<?> request,
      Access access,
      String cluster,
      String namespace,
      String kind,
      String name) {
    return page(
        request,
        HttpStatus.NOT_FOUND,
        Pages.layout(
            "Not found",
            access,
            Pages.problem(
                "no such target: "
                    + namespace
                    + "/"
                    + kind
                    + "/"
                    + name
                    + " in cluster "
                    + cluster)));
  }

  private MutableHttpResponse<String> upgradePage(
      HttpRequest<?> request,
      Access access,
      String cluster,
      String namespace,
      String kind,
      String name,
      Upgrades.Answer answer) {
    Target t = target(cluster, namespace, kind, name);
    if (t == null) {
      return noSuchTarget(request, access, cluster, namespace, kind, name);
    }
    String live;
    String audit;
    HttpStatus code = answer == null || answer.accepted() ? HttpStatus.OK : HttpStatus.CONFLICT;
    UpgradeStatus status = null;
    try {
      status = upgrades.status(cluster, t);
      live = Pages.live(status);
    } catch (Upgrades.Unanswered e) {
      live = Pages.problem(e.getMessage());
      if (answer == null) {
        code = e.notFound ? HttpStatus.NOT_FOUND : HttpStatus.SERVICE_UNAVAILABLE;
      }
    }
    try {
      Audit.Report report = upgrades.audit(cluster, t, status);
      audit = Pages.audit(report);
    } catch (Upgrades.Unanswered e) {
      audit = Pages.problem(e.getMessage());
    }
    String token = tokenFor(request);
    String html =
        Pages.layout(
            t.toString(),
            access,
            Pages.upgradePage(cluster, t, live, audit, access, token, answer));
    return withToken(
        request,
        token,
        secure(HttpResponse.<String>status(code).body(html).contentType(MediaType.TEXT_HTML_TYPE)));
  }

  private UpgradeStatus status(String cluster, Target t) {
    try {
      return upgrades.status(cluster, t);
    } catch (Upgrades.Unanswered e) {
      return null;
    }
  }

  private MutableHttpResponse<String> refusedPage(
      HttpRequest<?> request, Access access, HttpStatus code, String why) {
    return page(
        request,
        code,
        Pages.layout(
            "Refused",
            access,
            "<h1>Refused</h1>\n"
                + Pages.problem(why)
                + "<p><a href=\"/\">Back to the upgrades</a></p>\n"));
  }

  private Target target(String cluster, String namespace, String kind, String name) {
    if (!settings.clusters().contains(cluster)) {
      return null;
    }
    try {
      return Target.parse(namespace + "/" + kind + "/" + name, "default");
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static Map<String, String> form(String body) {
    Map<String, String> fields = new HashMap<>();
    if (body == null) {
      return fields;
    }
    for (String pair : body.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String key = eq < 0 ? pair : pair.substring(0, eq);
      String value = eq < 0 ? "" : pair.substring(eq + 1);
      try {
        fields.putIfAbsent(
            URLDecoder.decode(key, StandardCharsets.UTF_8),
            URLDecoder.decode(value, StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        // a malformed field is as good as absent
      }
    }
    return fields;
  }

  private static String tokenFor(HttpRequest<?> request) {
    String token = Access.token(request);
    return token != null ? token : Access.newToken();
  }

  private MutableHttpResponse<String> page(HttpRequest<?> request, HttpStatus code, String html) {
    String token = tokenFor(request);
    return withToken(
        request,
        token,
        secure(HttpResponse.<String>status(code).body(html).contentType(MediaType.TEXT_HTML_TYPE)));
  }

  private static MutableHttpResponse<String> withToken(
      HttpRequest<?> request, String token, MutableHttpResponse<String> response) {
    if (!token.equals(Access.token(request))) {
      response.cookie(Access.cookie(token));
    }
    return response;
  }

  private static MutableHttpResponse<String> fragment(HttpStatus code, String html) {
    return secure(
            HttpResponse.<String>status(code).body(html).contentType(MediaType.TEXT_HTML_TYPE))
        .header("Cache-Control", "no-store");
  }

  private static <T> MutableHttpResponse<T> secure(MutableHttpResponse<T> response) {
    return response
        .header("Content-Security-Policy", CSP)
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "same-origin")
        .header("X-Frame-Options", "DENY");
  }
}
