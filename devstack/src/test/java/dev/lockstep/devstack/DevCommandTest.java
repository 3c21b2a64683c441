package dev.lockstep.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code lockstep dev}'s options for a real cluster: a bad combination is one {@code lockstep:}
 * line and exit 2, before anything starts (no Temporal, no cluster, nothing written).
 */
class DevCommandTest {
  @TempDir Path dir;

  private record Run(int exit, String err) {}

  private Run dev(String... args) {
    PrintStream saved = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int exit = new CommandLine(new DevCommand()).execute(args);
      return new Run(exit, err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setErr(saved);
    }
  }

  @Test
  void aBadRealClusterOptionIsOneLineAndExit2() {
    String kubeconfig = dir.resolve("kubeconfig").toString();
    List<List<String>> cases =
        List.of(
            List.of("--control-plane", "--cluster-kubeconfig", kubeconfig),
            List.of("--hollow-nodes", "2"),
            List.of("--control-plane", "--hollow-nodes", "-1"),
            List.of("--control-plane", "--hollow-nodes", "255"),
            List.of("--cluster-kubeconfig", dir.resolve("missing.yaml").toString()));
    for (List<String> args : cases) {
      Run run = dev(args.toArray(String[]::new));
      assertEquals(2, run.exit(), args + " -> " + run.err());
      assertThat(run.err()).as(args.toString()).startsWith("lockstep: ").hasLineCount(1);
    }
    assertThat(dev("--hollow-nodes", "2").err()).contains("needs a real cluster");
    assertThat(dev("--cluster-kubeconfig", dir.resolve("missing.yaml").toString()).err())
        .contains("cannot read " + dir.resolve("missing.yaml"));
  }
}
