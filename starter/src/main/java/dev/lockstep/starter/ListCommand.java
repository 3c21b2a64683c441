package dev.lockstep.starter;

import dev.lockstep.workflows.Listing;
import java.time.Instant;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lockstep list [--all] [-n NAMESPACE] [-o table|json|yaml]}. */
@Command(
    name = "list",
    footerHeading = "%nExamples:%n",
    footer = {"  lockstep list", "  lockstep list --all -n demo -o json"},
    mixinStandardHelpOptions = true,
    description =
        "The upgrades in progress in a cluster (with --all, finished ones too): target, phase, units upgraded, what each waits for, age.")
final class ListCommand extends Common {
  @Option(names = "--all", description = "Finished upgrades too.")
  boolean all;

  @Option(
      names = {"-n", "--namespace"},
      paramLabel = "NAMESPACE",
      description = "Only targets in this Kubernetes namespace.")
  String namespace;

  @Option(
      names = {"-o", "--output"},
      defaultValue = "table",
      description = "table (default), json or yaml.")
  String output;

  @Override
  int run() {
    checkOutput(output);
    if (namespace != null && !namespace.matches("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")) {
      throw new CliFailure(
          CliFailure.BAD_INPUT, "'" + namespace + "' is not a valid Kubernetes namespace");
    }
    Listing.Result result = Listing.list(temporal(), cluster(), namespace, all, Instant.now());
    print(
        output,
        result.rows(),
        () ->
            result.rows().isEmpty()
                ? "no upgrades" + (all ? "" : " in progress") + " in cluster " + cluster() + "\n"
                : Listing.render(result.rows()));
    return 0;
  }
}
