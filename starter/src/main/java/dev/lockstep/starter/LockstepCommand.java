package dev.lockstep.starter;

import io.micronaut.configuration.picocli.MicronautFactory;
import io.micronaut.context.ApplicationContext;
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
      "Examples:",
      "  lockstep upgrade demo/statefulset/postgresql --image postgresql=postgres:14.9",
      "  lockstep status demo/statefulset/postgresql --watch",
      "  lockstep resume demo/statefulset/postgresql --reason \"first unit healthy\"",
      "  lockstep rollback demo/statefulset/postgresql",
      "",
      "Through the ./lockstep launcher, also:",
      "  worker   a worker for one cluster (--cluster NAME --kubeconfig FILE)",
      "  console  the web console (--port 8080): every upgrade, the gate from a browser",
      "  dev      the embedded stack: Temporal, kubesim, a worker, examples",
      "  demo     a demonstration upgrade on the embedded stack",
      "  daemon   status|stop: the resident process that answers status, list,",
      "           resume, pause, cancel, rollback, retry, abandon, history, audit",
      "           (LOCKSTEP_CLI_DAEMON=off: never; LOCKSTEP_CLI_DAEMON_IDLE: 30m)",
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
    // The help page the build rendered (HelpText): the same page, without picocli's start.
    System.exit(HelpText.printed(args) ? 0 : execute(args));
  }

  /**
   * Runs the command line; returns the exit code. No Micronaut context is started on this path: the
   * commands inject nothing, and starting one (classpath scanning, environment, bean definitions)
   * was a third of a short command's time (issue 19). {@link #commandLine(ApplicationContext)}
   * keeps the commands usable as Micronaut beans.
   */
  public static int execute(String... args) {
    return commandLine(CommandLine.defaultFactory(), args).execute(args);
  }

  /** As {@link #execute(String...)}, printing to {@code out} and {@code err} (the CLI daemon). */
  static int execute(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
    CommandLine line = commandLine(CommandLine.defaultFactory(), args);
    line.setOut(out);
    line.setErr(err);
    return line.execute(args);
  }

  /**
   * The command line for {@code args}: when they start with a command's name, only that command is
   * built (under a plain {@code lockstep} parent), not the dozen others it would never run; reading
   * every command's annotations was a quarter of picocli's start (issue 19). Anything else (no
   * command, {@code --help}, a mistyped one that wants suggestions) gets the whole tree.
   */
  static CommandLine commandLine(CommandLine.IFactory factory, String... args) {
    if (args.length > 0) {
      for (Class<?> sub : LockstepCommand.class.getAnnotation(Command.class).subcommands()) {
        Command command = sub.getAnnotation(Command.class);
        if (command != null
            && (command.name().equals(args[0])
                || java.util.Arrays.asList(command.aliases()).contains(args[0]))) {
          CommandLine root =
              new CommandLine(CommandLine.Model.CommandSpec.create().name("lockstep"), factory);
          root.addSubcommand(command.name(), new CommandLine(sub, factory), command.aliases());
          return handled(root);
        }
      }
    }
    return commandLine(factory);
  }

  /** The command line with its commands created by Micronaut, e.g. in tests. */
  static CommandLine commandLine(ApplicationContext context) {
    return commandLine(new MicronautFactory(context));
  }

  /** The command line, with bad flags answered by one {@code lockstep:} line and exit 2. */
  static CommandLine commandLine(CommandLine.IFactory factory) {
    return handled(new CommandLine(LockstepCommand.class, factory));
  }

  /** {@code line} with bad flags and failures answered by one {@code lockstep:} line. */
  private static CommandLine handled(CommandLine line) {
    line.setParameterExceptionHandler(
        (e, args) -> {
          String command = e.getCommandLine().getCommandName();
          e.getCommandLine()
              .getErr()
              .println(
                  "lockstep: "
                      + withSuggestions(e, command)
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

  /**
   * picocli's message, and for a mistyped command or option picocli's suggestions of the close ones
   * (as git and kubectl suggest them).
   */
  static String withSuggestions(CommandLine.ParameterException e, String command) {
    if (!(e instanceof CommandLine.UnmatchedArgumentException unmatched)) {
      return e.getMessage();
    }
    String message = e.getMessage();
    java.util.List<String> given = unmatched.getUnmatched();
    if (command.equals("lockstep") && !given.isEmpty() && !given.get(0).startsWith("-")) {
      message = "unknown command '" + given.get(0) + "'";
    }
    java.util.List<String> offered = unmatched.getSuggestions();
    // picocli offers every name sharing letters; the close ones are what a person meant.
    java.util.List<String> suggestions =
        given.isEmpty()
            ? offered
            : dev.lockstep.workflows.Suggestions.closest(given.get(0), offered);
    if (suggestions.isEmpty() && !offered.isEmpty()) {
      suggestions = offered.subList(0, 1);
    }
    if (suggestions.isEmpty()) {
      return message;
    }
    String prefix = command.equals("lockstep") && !given.get(0).startsWith("-") ? "lockstep " : "";
    return message
        + " (did you mean "
        + String.join(
            " or ", suggestions.stream().limit(3).map(x -> "`" + prefix + x + "`").toList())
        + "?)";
  }

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }
}
