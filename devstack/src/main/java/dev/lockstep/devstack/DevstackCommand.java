package dev.lockstep.devstack;

import io.micronaut.configuration.picocli.PicocliRunner;
import picocli.CommandLine.Command;

/** The dev stack's entry point: {@code dev} and {@code demo}. */
@Command(
    name = "lockstep",
    mixinStandardHelpOptions = true,
    subcommands = {DevCommand.class, DemoCommand.class},
    description = "The embedded Lockstep stack.")
public class DevstackCommand implements Runnable {
  public static void main(String[] args) {
    System.exit(PicocliRunner.execute(DevstackCommand.class, args));
  }

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }
}
