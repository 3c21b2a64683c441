package dev.lockstep.starter;

import io.micronaut.configuration.picocli.PicocliRunner;
import picocli.CommandLine.Command;

/** {@code lockstep}: the command line. It talks to Temporal only, never to a cluster. */
@Command(
    name = "lockstep",
    mixinStandardHelpOptions = true,
    version = "lockstep 0.1.0-SNAPSHOT",
    description = "Durable, resumable upgrades of Kubernetes workloads.",
    subcommands = {
      UpgradeCommand.class,
      StatusCommand.class,
      SteerCommands.Resume.class,
      SteerCommands.Pause.class,
      SteerCommands.Cancel.class
    },
    footer = {
      "",
      "Through the ./lockstep launcher, also:",
      "  worker   a worker for one cluster (--cluster NAME --kubeconfig FILE)",
      "  dev      the embedded stack: Temporal, kubesim, a worker, examples",
      "  demo     a demonstration upgrade on the embedded stack",
      "",
      "Environment: TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE,",
      "  LOCKSTEP_CLUSTER, LOCKSTEP_NAMESPACE.",
      "Exit codes: 0 done, 1 failed, 2 bad input (nothing changed), 3 refused,",
      "  4 Temporal or the worker cannot be reached."
    })
public class LockstepCommand implements Runnable {

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs the command line; returns the exit code. */
  public static int execute(String... args) {
    return PicocliRunner.execute(LockstepCommand.class, args);
  }

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }
}
