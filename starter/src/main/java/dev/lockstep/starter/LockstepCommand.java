package dev.lockstep.starter;

import io.micronaut.configuration.picocli.MicronautFactory;
import io.micronaut.context.ApplicationContext;
import io.micronaut.context.env.Environment;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code lockstep}: the command line. It talks to Temporal only, never to a cluster. */
@Command(
    name = "lockstep",
    mixinStandardHelpOptions = true,
    version = "lockstep 0.1.0-SNAPSHOT",
    description = "Durable, resumable upgrades of Kubernetes workloads.",
    subcommands = {
      UpgradeCommand.class,
      PlanCommand.class,
      StatusCommand.class,
      SteerCommands.Resume.class,
      SteerCommands.Pause.class,
      SteerCommands.Cancel.class,
      SteerCommands.Rollback.class,
      SteerCommands.Retry.class,
      SteerCommands.Abandon.class,
      RepairCommand.class,
      AuditCommand.class,
      HistoryCommand.class,
      ListCommand.class,
      CodecServerCommand.class
    },
    footer = {
      "",
      "Through the ./lockstep launcher, also:",
      "  worker   a worker for one cluster (--cluster NAME --kubeconfig FILE)",
      "  dev      the embedded stack: Temporal, kubesim, a worker, examples",
      "  demo     a demonstration upgrade on the embedded stack",
      "",
      "Environment: TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE, TEMPORAL_TLS,",
      "  TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME,",
      "  TEMPORAL_API_KEY (as the temporal CLI), LOCKSTEP_CLUSTER, LOCKSTEP_NAMESPACE,",
      "  LOCKSTEP_CODEC_KEYS, LOCKSTEP_CODEC_KEY_ID (payload encryption, as the worker).",
      "Exit codes: 0 done, 1 failed, 2 bad input (nothing changed), 3 refused,",
      "  4 Temporal or the worker cannot be reached."
    })
public class LockstepCommand implements Runnable {

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs the command line; returns the exit code. */
  public static int execute(String... args) {
    try (ApplicationContext context = ApplicationContext.run(Environment.CLI)) {
      return commandLine(context).execute(args);
    }
  }

  /** The command line, with bad flags answered by one {@code lockstep:} line and exit 2. */
  static CommandLine commandLine(ApplicationContext context) {
    CommandLine line = new CommandLine(LockstepCommand.class, new MicronautFactory(context));
    line.setParameterExceptionHandler(
        (e, args) -> {
          String command = e.getCommandLine().getCommandName();
          e.getCommandLine()
              .getErr()
              .println(
                  "lockstep: "
                      + e.getMessage()
                      + "; see `"
                      + (command.equals("lockstep") ? "lockstep" : "lockstep " + command)
                      + " --help`");
          return 2;
        });
    // Common turns every failure of a command into one line; this catches what happens outside.
    line.setExecutionExceptionHandler(
        (e, commandLine, parsed) -> {
          commandLine
              .getErr()
              .println("lockstep: unexpected error: " + Common.oneLine(e) + "; run with --verbose");
          if (parsed.matchedOption("--verbose") != null
              || parsed.subcommands().stream().anyMatch(p -> p.hasMatchedOption("--verbose"))) {
            e.printStackTrace(commandLine.getErr());
          }
          commandLine.getErr().flush();
          return 1;
        });
    return line;
  }

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }
}
