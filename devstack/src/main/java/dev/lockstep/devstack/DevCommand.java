package dev.lockstep.devstack;

import dev.lockstep.workflows.Durations;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code lockstep dev}: the embedded stack, until stopped. */
@Command(
    name = "dev",
    mixinStandardHelpOptions = true,
    description = {
      "Runs Temporal (the Java test server), kubesim and a worker on loopback, with example",
      "workloads in namespace demo, until Ctrl-C."
    })
class DevCommand implements Callable<Integer> {
  @Option(
      names = "--temporal-port",
      defaultValue = "7233",
      description = "Temporal's port (default 7233).")
  int temporalPort;

  @Option(
      names = "--kube-port",
      defaultValue = "6443",
      description = "kubesim's port (default 6443).")
  int kubePort;

  @Option(
      names = "--pod-startup",
      defaultValue = "1s",
      description = "How long a simulated pod takes to be Ready (default 1s).")
  String podStartup;

  @Option(names = "--no-seed", description = "Do not create the example workloads.")
  boolean noSeed;

  @Option(
      names = "--no-worker",
      description =
          "Start no worker: run `lockstep worker --kubeconfig .lockstep/dev/kubeconfig` yourself.")
  boolean noWorker;

  @Option(
      names = "--console-port",
      defaultValue = "8080",
      description = "The web console's port (default 8080; 0 picks a free one).")
  int consolePort;

  @Option(names = "--no-console", description = "Do not start the web console.")
  boolean noConsole;

  @Option(
      names = "--kubeconfig",
      defaultValue = ".lockstep/dev/kubeconfig",
      description = "Where to write the kubeconfig.")
  Path kubeconfig;

  @Override
  public Integer call() throws Exception {
    if (consolePort < 0 || consolePort > 65535) {
      System.err.println(
          "lockstep: --console-port must be between 0 and 65535, was " + consolePort);
      return 2;
    }
    Duration startup;
    try {
      startup = Durations.parse(podStartup);
    } catch (IllegalArgumentException e) {
      System.err.println("lockstep: --pod-startup: " + e.getMessage());
      return 2;
    }
    DevStack stack;
    try {
      stack =
          DevStack.start(
              new DevStack.Settings(
                  temporalPort,
                  kubePort,
                  startup,
                  !noSeed,
                  !noWorker,
                  kubeconfig.toAbsolutePath()));
    } catch (java.io.IOException | RuntimeException e) {
      System.err.println("lockstep: " + e.getMessage());
      return 4;
    }
    System.out.println("temporal   " + stack.temporalAddress());
    System.out.println("kubernetes " + stack.kubesim().url());
    System.out.println("kubeconfig " + stack.kubeconfig());
    System.out.println("worker     " + (noWorker ? "none (--no-worker)" : "cluster default"));
    DevConsole console = noConsole ? null : DevConsole.start(stack.temporalAddress(), consolePort);
    System.out.println("console    " + (noConsole ? "none (--no-console)" : console.describe()));
    System.out.println("ready");
    System.out.flush();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  if (console != null) {
                    console.close();
                  }
                  stack.close();
                  stopped.countDown();
                }));
    stopped.await();
    return 0;
  }
}
