package dev.lockstep.console;

import static dev.lockstep.console.Html.esc;

import dev.lockstep.workflows.Audit;
import dev.lockstep.workflows.Listing;
import dev.lockstep.workflows.PreChecks;
import dev.lockstep.workflows.RevisionHistory;
import dev.lockstep.workflows.Steering;
import dev.lockstep.workflows.Step;
import dev.lockstep.workflows.Target;
import dev.lockstep.workflows.UnitState;
import dev.lockstep.workflows.UnitStatus;
import dev.lockstep.workflows.UpgradeStatus;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The console's pages, rendered on the server. Every value from an upgrade is escaped ({@link
 * Html#esc}); the little JavaScript there is only refreshes parts of a page from the same server.
 */
final class Pages {
  private Pages() {}

  /** Where one upgrade's page is. */
  static String upgradePath(String cluster, Target t) {
    return "/upgrades/"
        + Html.seg(cluster)
        + "/"
        + Html.seg(t.namespace())
        + "/"
        + Html.seg(t.kind())
        + "/"
        + Html.seg(t.name());
  }

  static String layout(String title, Access access, String body) {
    StringBuilder b = new StringBuilder(4096);
    b.append("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        .append("<title>")
        .append(esc(title))
        .append(" · Lockstep</title>\n")
        .append("<link rel=\"stylesheet\" href=\"/static/console.css\">\n")
        .append("<script src=\"/static/console.js\" defer></script>\n</head>\n<body>\n")
        .append("<a class=\"skip\" href=\"#main\">Skip to content</a>\n")
        .append("<header class=\"top\"><a class=\"brand\" href=\"/\">Lockstep</a>")
        .append("<span class=\"who\" id=\"who\">");
    if (access.canSteer()) {
      b.append("Signed in as <strong>")
          .append(esc(access.identity()))
          .append("</strong> <span class=\"hint\">(")
          .append(esc(access.source()))
          .append(")</span>");
    } else {
      b.append("<span class=\"readonly\">Read-only</span>");
    }
    b.append("</span></header>\n");
    if (!access.canSteer()) {
      b.append("<p class=\"notice\" id=\"read-only\" role=\"note\">")
          .append(esc(access.readOnlyWhy()))
          .append("</p>\n");
    }
    b.append("<main id=\"main\">\n").append(body).append("</main>\n</body>\n</html>\n");
    return b.toString();
  }

  /** An error a page shows in place of what it could not read. */
  static String problem(String text) {
    return "<p class=\"problem\" role=\"alert\">" + esc(text) + "</p>\n";
  }

  // ---- Upgrades -------------------------------------------------------------------------------

  static String listPage(List<String> clusters) {
    StringBuilder b = new StringBuilder();
    b.append("<h1>Upgrades</h1>\n")
        .append("<form class=\"filters\" role=\"search\" onsubmit=\"return false\">")
        .append("<label for=\"filter\">Filter</label> ")
        .append(
            "<input id=\"filter\" type=\"search\" placeholder=\"target or phase\""
                + " autocomplete=\"off\"> ")
        .append("<label class=\"check\"><input id=\"show-ended\" type=\"checkbox\" checked>")
        .append(" show ended</label></form>\n");
    for (String cluster : clusters) {
      b.append("<section aria-labelledby=\"c-")
          .append(esc(cluster))
          .append("\">\n<h2 id=\"c-")
          .append(esc(cluster))
          .append("\">Cluster ")
          .append(esc(cluster))
          .append("</h2>\n<div class=\"live\" data-refresh=\"/fragments/upgrades/")
          .append(Html.seg(cluster))
          .append("\" data-every=\"2000\" aria-live=\"off\"><p class=\"hint\">Loading…</p></div>\n")
          .append("</section>\n");
    }
    return b.toString();
  }

  static String listFragment(String cluster, List<Listing.Row> rows, Upgrades upgrades) {
    if (rows.isEmpty()) {
      return "<p class=\"empty\">No upgrades in cluster " + esc(cluster) + " yet.</p>\n";
    }
    StringBuilder b = new StringBuilder();
    b.append("<div class=\"scroll\"><table class=\"upgrades\">\n<thead><tr>")
        .append("<th scope=\"col\">Target</th><th scope=\"col\">Phase</th>")
        .append("<th scope=\"col\">Progress</th><th scope=\"col\">Started by</th>")
        .append("<th scope=\"col\">Age</th><th scope=\"col\">Message</th></tr></thead>\n<tbody>\n");
    for (Listing.Row r : rows) {
      Target t;
      try {
        t = Target.parse(r.target(), "default");
      } catch (IllegalArgumentException e) {
        continue;
      }
      boolean running = !isEnded(r.phase());
      b.append("<tr data-text=\"")
          .append(esc((r.target() + " " + r.phase() + " " + Html.words(r.phase()))))
          .append("\" data-running=\"")
          .append(running)
          .append("\"><th scope=\"row\"><a href=\"")
          .append(upgradePath(cluster, t))
          .append("\">")
          .append(esc(r.target()))
          .append("</a></th><td>")
          .append(Tone.ofPhase(r.phase()).badge(r.phase()))
          .append(r.waitingFor().isEmpty() ? "" : " <span class=\"hint\">needs a person</span>")
          .append("</td><td>")
          .append(r.units() == 0 ? "" : progress(r.upgraded(), r.units()))
          .append("</td><td>")
          .append(esc(upgrades.startedBy(cluster, r.target(), r.runId())))
          .append("</td><td>")
          .append(esc(r.age()))
          .append("</td><td class=\"msg\">")
          .append(esc(r.message()))
          .append("</td></tr>\n");
    }
    b.append("</tbody></table></div>\n");
    return b.toString();
  }

  private static boolean isEnded(String phase) {
    return switch (phase) {
      case "COMPLETED",
          "ROLLED_BACK",
          "FAILED",
          "CANCELLED",
          "ABANDONED",
          "TERMINATED",
          "TIMED_OUT",
          "ENDED" ->
          true;
      default -> false;
    };
  }

  private static String progress(int done, int of) {
    return "<span class=\"progress\"><meter min=\"0\" max=\""
        + of
        + "\" value=\""
        + done
        + "\" aria-hidden=\"true\"></meter> "
        + done
        + "/"
        + of
        + " units</span>";
  }

  // ---- One upgrade ----------------------------------------------------------------------------

  /**
   * The page of one upgrade: the live part (refreshed every second), the gate's actions (a form,
   * not refreshed, so a reason being typed stays), and the audit.
   */
  static String upgradePage(
      String cluster,
      Target t,
      String live,
      String audit,
      Access access,
      String token,
      Upgrades.Answer answer) {
    String base = upgradePath(cluster, t);
    StringBuilder b = new StringBuilder();
    b.append("<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a href=\"/\">Upgrades</a> › ")
        .append("cluster ")
        .append(esc(cluster))
        .append("</nav>\n<h1>")
        .append(esc(t.toString()))
        .append("</h1>\n<p><a href=\"")
        .append(base)
        .append("/history\">Target history (revisions)</a></p>\n");
    if (answer != null) {
      b.append("<p id=\"answer\" class=\"answer ")
          .append(answer.accepted() ? "ok" : "bad")
          .append("\" role=\"")
          .append(answer.accepted() ? "status" : "alert")
          .append("\"><strong>")
          .append(esc(answer.action()))
          .append(answer.accepted() ? " accepted" : " refused")
          .append(":</strong> ")
          .append(esc(answer.text()))
          .append("</p>\n");
    }
    b.append("<div id=\"live\" class=\"live\" data-refresh=\"/fragments")
        .append(base)
        .append("/live\" data-every=\"1000\">\n")
        .append(live)
        .append("</div>\n");
    b.append(gate(base, access, token));
    b.append("<section aria-labelledby=\"audit-h\">\n<h2 id=\"audit-h\">Audit</h2>\n")
        .append("<div id=\"audit\" class=\"live\" data-refresh=\"/fragments")
        .append(base)
        .append("/audit\" data-every=\"3000\">\n")
        .append(audit)
        .append("</div>\n</section>\n");
    return b.toString();
  }

  private static String gate(String base, Access access, String token) {
    StringBuilder b = new StringBuilder();
    b.append("<section aria-labelledby=\"gate-h\" class=\"gate\">\n")
        .append("<h2 id=\"gate-h\">Steer</h2>\n");
    if (!access.canSteer()) {
      b.append("<p class=\"hint\">").append(esc(access.readOnlyWhy())).append("</p>\n</section>\n");
      return b.toString();
    }
    b.append("<form method=\"post\" action=\"")
        .append(base)
        .append("/steer\" id=\"steer\">\n<input type=\"hidden\" name=\"")
        .append(Access.CSRF_FIELD)
        .append("\" value=\"")
        .append(esc(token))
        .append("\">\n<label for=\"reason\">Reason (recorded in the audit with your name, ")
        .append(esc(access.identity()))
        .append(")</label>\n")
        .append(
            "<textarea id=\"reason\" name=\"reason\" required maxlength=\"1000\" rows=\"2\""
                + " placeholder=\"e.g. first unit healthy, dashboards green\"></textarea>\n")
        .append("<label class=\"check\"><input type=\"checkbox\" name=\"acceptDataRisk\"")
        .append(" value=\"true\"> With Rollback: accept the data risk (--accept-data-risk: the old")
        .append(" version runs on data a forward-only migration changed)</label>\n")
        .append("<div class=\"actions\">\n");
    for (String action : Upgrades.ACTION_ORDER) {
      b.append("<button type=\"submit\" name=\"action\" value=\"")
          .append(action)
          .append("\" id=\"do-")
          .append(action)
          .append("\" class=\"")
          .append(action)
          .append("\" title=\"")
          .append(esc(ACTION_HELP.get(action)))
          .append("\">")
          .append(Character.toUpperCase(action.charAt(0)))
          .append(action.substring(1))
          .append("</button>\n");
    }
    b.append("</div>\n<p class=\"hint\">The upgrade itself decides: it answers accepted, or")
        .append(" refused and why.</p>\n</form>\n</section>\n");
    return b.toString();
  }

  private static final Map<String, String> ACTION_HELP =
      Map.of(
          "resume", "At a gate, or paused: go on with the next units",
          "pause", "Hold before the next unit",
          "rollback", "Return upgraded units to the original revision (ends ROLLED_BACK)",
          "cancel", "Stop before the next unit and return upgraded units (ends CANCELLED)",
          "retry", "HELD: try the failed unit again",
          "abandon", "HELD: leave the target as it is and release it (ends ABANDONED)");

  /** The part of an upgrade's page that follows the status query. */
  static String live(UpgradeStatus s) {
    StringBuilder b = new StringBuilder();
    String phase = s.phase() == null ? null : s.phase().name();
    List<UnitStatus> units = s.units() == null ? List.of() : s.units();
    long upgraded = units.stream().filter(u -> u.state() == UnitState.UPGRADED).count();
    b.append("<section aria-labelledby=\"summary-h\" class=\"summary\">\n")
        .append("<h2 id=\"summary-h\" class=\"sr-only\">Summary</h2>\n")
        .append("<p class=\"phase\" id=\"phase\" data-phase=\"")
        .append(esc(phase))
        .append("\">")
        .append(Tone.ofPhase(phase).badge(phase));
    if (!units.isEmpty()) {
      b.append(" ").append(progress((int) upgraded, units.size()));
    }
    b.append("</p>\n<p class=\"message\" id=\"message\">")
        .append(esc(s.message()))
        .append("</p>\n<dl class=\"facts\">\n");
    fact(b, "Kind", s.kind() == null ? "upgrade" : s.kind());
    fact(b, "Started", s.startedAt());
    if (s.finishedAt() != null) {
      fact(b, "Finished", s.finishedAt());
    }
    fact(b, "Run", s.runId());
    fact(b, "Revisions", nz(s.fromRevision()) + " → " + nz(s.toRevision()));
    b.append("</dl>\n");
    b.append(images(s.fromImages(), s.toImages()));
    if (s.rollbackCommand() != null) {
      b.append("<p class=\"hint\">From a terminal: <code>")
          .append(esc(s.rollbackCommand()))
          .append("</code></p>\n");
    }
    // Approvals and the gate's timeout, in the words `lockstep status` prints them.
    String gate = dev.lockstep.workflows.StatusTable.gateLine(s.gate());
    if (gate != null) {
      b.append("<p class=\"gate\" id=\"gate\">").append(esc(gate)).append("</p>\n");
    }
    b.append("</section>\n");
    b.append(steps(s.steps(), s.step()));
    b.append(units(units));
    b.append(checks(s.checks()));
    b.append(steering(s.steering()));
    return b.toString();
  }

  private static String nz(String s) {
    return s == null ? "?" : s;
  }

  private static void fact(StringBuilder b, String name, String value) {
    b.append("<div><dt>")
        .append(esc(name))
        .append("</dt><dd>")
        .append(esc(value == null ? "" : value))
        .append("</dd></div>\n");
  }

  private static String images(Map<String, String> from, Map<String, String> to) {
    TreeSet<String> containers = new TreeSet<>();
    if (from != null) {
      containers.addAll(from.keySet());
    }
    if (to != null) {
      containers.addAll(to.keySet());
    }
    if (containers.isEmpty()) {
      return "";
    }
    StringBuilder b = new StringBuilder("<ul class=\"images\" aria-label=\"Images\">\n");
    for (String c : containers) {
      b.append("<li><span class=\"container\">")
          .append(esc(c))
          .append("</span> <code>")
          .append(esc(from == null ? "" : nz(from.get(c))))
          .append("</code> → <code>")
          .append(esc(to == null ? "" : nz(to.get(c))))
          .append("</code></li>\n");
    }
    return b.append("</ul>\n").toString();
  }

  private static String steps(List<Step> steps, Integer current) {
    if (steps == null || steps.isEmpty()) {
      return "";
    }
    StringBuilder b =
        new StringBuilder(
            "<section aria-labelledby=\"steps-h\">\n<h2 id=\"steps-h\">Steps</h2>\n"
                + "<ol class=\"steps\" id=\"steps\">\n");
    for (int i = 0; i < steps.size(); i++) {
      Step step = steps.get(i);
      boolean now = current != null && current == i;
      String state = step.state() == null ? null : step.state().name();
      b.append("<li")
          .append(now ? " class=\"current\" aria-current=\"step\"" : "")
          .append("><span class=\"step\">")
          .append(esc(step.describe()))
          .append("</span> ")
          .append(Tone.ofStep(state).badge(state))
          .append(now ? " <strong class=\"now\">← now</strong>" : "")
          .append("</li>\n");
    }
    return b.append("</ol>\n</section>\n").toString();
  }

  private static String units(List<UnitStatus> units) {
    StringBuilder b =
        new StringBuilder(
            "<section aria-labelledby=\"units-h\">\n<h2 id=\"units-h\">Units</h2>\n"
                + "<div class=\"scroll\"><table class=\"units\" id=\"units\">\n<thead><tr>"
                + "<th scope=\"col\">Unit</th><th scope=\"col\">State</th>"
                + "<th scope=\"col\">Revision</th><th scope=\"col\">Ready</th>"
                + "<th scope=\"col\">Message</th></tr></thead>\n<tbody>\n");
    for (UnitStatus u : units) {
      String state = u.state() == null ? null : u.state().name();
      b.append("<tr data-unit=\"")
          .append(esc(u.name()))
          .append("\" data-state=\"")
          .append(esc(state))
          .append("\"><th scope=\"row\">")
          .append(esc(u.name()))
          .append("</th><td>")
          .append(Tone.ofUnit(state).badge(state))
          .append("</td><td><code>")
          .append(esc(u.revision()))
          .append("</code></td><td>")
          .append(u.ready() ? "<span class=\"yes\">yes</span>" : "<span class=\"no\">no</span>")
          .append("</td><td class=\"msg\">")
          .append(esc(u.message()))
          .append("</td></tr>\n");
    }
    return b.append("</tbody></table></div>\n</section>\n").toString();
  }

  private static String checks(List<PreChecks.Result> checks) {
    if (checks == null || checks.isEmpty()) {
      return "";
    }
    StringBuilder b =
        new StringBuilder(
            "<section aria-labelledby=\"checks-h\">\n<h2 id=\"checks-h\">Checks</h2>\n"
                + "<ul class=\"checks\">\n");
    for (PreChecks.Result c : checks) {
      String result = c.passed() ? "ok" : c.forced() ? "forced" : "FAILED";
      Tone tone = c.passed() ? Tone.OK : c.forced() ? Tone.WAITING : Tone.BAD;
      b.append("<li>")
          .append(tone.badge(result))
          .append(" <strong>")
          .append(esc(c.name()))
          .append("</strong> ")
          .append(esc(c.message()))
          .append("</li>\n");
    }
    return b.append("</ul>\n</section>\n").toString();
  }

  private static String steering(List<Steering> steering) {
    if (steering == null || steering.isEmpty()) {
      return "";
    }
    StringBuilder b =
        new StringBuilder(
            "<section aria-labelledby=\"steering-h\">\n<h2 id=\"steering-h\">Requests received</h2>\n"
                + "<ul class=\"steering\">\n");
    for (Steering s : steering) {
      b.append("<li>")
          .append(s.accepted() ? Tone.OK.badge("accepted") : Tone.BAD.badge("refused"))
          .append(" <time>")
          .append(esc(Instant.ofEpochMilli(s.at()).toString()))
          .append("</time> <strong>")
          .append(esc(s.action()))
          .append("</strong> by ")
          .append(esc(s.identity()))
          .append(s.reason() == null || s.reason().isEmpty() ? "" : ": “" + esc(s.reason()) + "”")
          .append(" <span class=\"hint\">(")
          .append(esc(s.via()))
          .append(") ")
          .append(esc(s.outcome()))
          .append("</span></li>\n");
    }
    return b.append("</ul>\n</section>\n").toString();
  }

  /** The audit timeline of the latest run. */
  static String audit(Audit.Report report) {
    StringBuilder b = new StringBuilder();
    b.append("<p>Started by <strong>")
        .append(esc(report.startedBy()))
        .append("</strong>")
        .append(
            report.reason() == null || report.reason().isEmpty()
                ? ""
                : ": “" + esc(report.reason()) + "”")
        .append("</p>\n<ol class=\"timeline\" id=\"timeline\">\n");
    for (Audit.Entry e : report.entries()) {
      b.append("<li data-what=\"")
          .append(esc(e.what()))
          .append("\"><time>")
          .append(esc(e.time()))
          .append("</time> <strong>")
          .append(esc(e.what()))
          .append("</strong>");
      if (e.subject() != null && !e.subject().isEmpty()) {
        b.append(" ").append(esc(e.subject()));
      }
      if (e.who() != null && !e.who().isEmpty()) {
        b.append(" by <span class=\"who-did\">").append(esc(e.who())).append("</span>");
      }
      if (e.reason() != null && !e.reason().isEmpty()) {
        b.append(": <q class=\"reason\">").append(esc(e.reason())).append("</q>");
      }
      if (e.detail() != null && !e.detail().isEmpty()) {
        b.append(" <span class=\"hint\">").append(esc(e.detail())).append("</span>");
      }
      b.append("</li>\n");
    }
    return b.append("</ol>\n").toString();
  }

  // ---- Target history -------------------------------------------------------------------------

  static String historyPage(String cluster, Target t, List<RevisionHistory.Row> rows) {
    StringBuilder b = new StringBuilder();
    b.append(
            "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a href=\"/\">Upgrades</a> › <a href=\"")
        .append(upgradePath(cluster, t))
        .append("\">")
        .append(esc(t.toString()))
        .append("</a></nav>\n<h1>History of ")
        .append(esc(t.toString()))
        .append("</h1>\n");
    if (rows == null) {
      return b.toString();
    }
    b.append("<div class=\"scroll\"><table class=\"history\">\n<thead><tr>")
        .append("<th scope=\"col\">Revision</th><th scope=\"col\">Updated</th>")
        .append("<th scope=\"col\">Status</th><th scope=\"col\">Images</th>")
        .append("<th scope=\"col\">Description</th></tr></thead>\n<tbody>\n");
    for (RevisionHistory.Row r : rows) {
      Tone tone =
          switch (r.status()) {
            case "deployed" -> Tone.OK;
            case "deploying" -> Tone.ACTIVE;
            case "superseded" -> Tone.QUIET;
            default -> Tone.BAD;
          };
      b.append("<tr><th scope=\"row\">")
          .append(r.revision())
          .append(" <code class=\"hint\">")
          .append(esc(r.name()))
          .append("</code></th><td>")
          .append(esc(r.updated()))
          .append("</td><td>")
          .append(tone.badge(r.status()))
          .append("</td><td>");
      for (var image : new TreeMap<>(r.images()).entrySet()) {
        b.append("<code>")
            .append(esc(image.getKey()))
            .append("=")
            .append(esc(image.getValue()))
            .append("</code> ");
      }
      b.append("</td><td class=\"msg\">").append(esc(r.description())).append("</td></tr>\n");
    }
    return b.append("</tbody></table></div>\n").toString();
  }
}
