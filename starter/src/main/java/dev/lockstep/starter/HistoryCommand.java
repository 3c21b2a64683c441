package dev.lockstep.starter;

import dev.lockstep.workflows.RevisionHistory;
import dev.lockstep.workflows.Target;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lockstep history TARGET [-o table|json|yaml]}. */
@Command(
    name = "history",
    footerHeading = "%nExamples:%n",
    footer = {
      "  lockstep history demo/statefulset/postgresql",
      "  lockstep history demo/sts/postgresql -o yaml",
      "  lockstep history demo-helm/helm/ghostwire -o json"
    },
    mixinStandardHelpOptions = true,
    description =
        "The target's revisions as `helm history` shows them: revision, updated, status (deployed, superseded, rolled back, failed), images, and the Lockstep run that produced each. The revision running now is on top, marked with *; the others follow, newest first. For a Helm release (NAMESPACE/helm/RELEASE): its revisions from Helm's storage, oldest first, as helm history lists them (revision, updated, status, chart, app version, description), with the Lockstep run that wrote each.")
final class HistoryCommand extends Common {
  @Parameters(index = "0", paramLabel = "TARGET", description = "[NAMESPACE/]KIND/NAME")
  String target;

  @Option(
      names = {"-o", "--output"},
      defaultValue = "table",
      description = "table (default), json or yaml.")
  String output;

  @Override
  int run() {
    checkOutput(output);
    Target release = ReleaseCommands.releaseOf(target, defaultNamespace());
    if (release != null) {
      List<ReleaseCommands.HistoryRow> rows =
          ReleaseCommands.history(temporal(), cluster(), release);
      print(output, rows, () -> ReleaseCommands.renderHistory(rows));
      return 0;
    }
    Target t = target(target);
    io.temporal.client.WorkflowClient client = temporal();
    List<RevisionHistory.Row> rows;
    try {
      rows = RevisionHistory.fetch(client, cluster(), t, Duration.ofSeconds(30));
    } catch (TimeoutException e) {
      throw new CliFailure(
          CliFailure.UNREACHABLE,
          "no worker of cluster "
              + cluster()
              + " answered within 30s: is `lockstep worker --cluster "
              + cluster()
              + "` running?");
    }
    if (rows == null) {
      String close = "";
      try {
        close =
            dev.lockstep.workflows.Suggestions.didYouMean(
                t.toString(), dev.lockstep.workflows.Listing.targets(client, cluster()));
      } catch (RuntimeException e) {
        // suggestions are a courtesy
      }
      throw new CliFailure(
          CliFailure.BAD_INPUT, dev.lockstep.workflows.Suggestions.notFound(t, cluster()) + close);
    }
    List<RevisionHistory.Row> found = RevisionHistory.runningFirst(rows);
    print(output, found, () -> RevisionHistory.render(found));
    return 0;
  }
}
