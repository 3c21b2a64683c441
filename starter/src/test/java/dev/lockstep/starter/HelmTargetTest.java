package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.workflows.HelmActivities;
import dev.lockstep.workflows.Target;
import io.micronaut.context.ApplicationContext;
import io.micronaut.context.env.Environment;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Helm release targets ({@code NAMESPACE/helm/RELEASE}) on the command line: what the CLI finds
 * wrong with the chart options alone is one {@code lockstep:} line and exit 2 before anything
 * connects (nothing listens where these commands would connect: one that tried would exit 4).
 */
class HelmTargetTest {
  static final Path GHOSTWIRE = Path.of("../examples/charts/ghostwire");

  @TempDir static Path dir;

  static Stream<Arguments> badCommandLines() {
    String chart = GHOSTWIRE.toString();
    return Stream.of(
        bad("no chart", "no chart: give --chart DIR", "plan", "demo/helm/ghostwire"),
        bad(
            "a chart directory that does not exist",
            "chart directory no/such/chart not found",
            "plan",
            "demo/helm/ghostwire",
            "--chart",
            "no/such/chart"),
        bad(
            "a values file that does not exist",
            "values file missing.yaml not found",
            "plan",
            "demo/helm/ghostwire",
            "--chart",
            chart,
            "-f",
            "missing.yaml"),
        bad(
            "a --set that is not KEY=VALUE",
            "--set 'logLevel' is not KEY=VALUE",
            "plan",
            "demo/helm/ghostwire",
            "--chart",
            chart,
            "--set",
            "logLevel"),
        bad(
            "reuse and reset together",
            "--reuse-values and --reset-values cannot be given together",
            "plan",
            "demo/release/ghostwire",
            "--chart",
            chart,
            "--reuse-values",
            "--reset-values"),
        bad(
            "an image for a release",
            "--image not taken for a Helm release (demo/helm/ghostwire)",
            "plan",
            "demo/helm/ghostwire",
            "--chart",
            chart,
            "--image",
            "x:1"),
        bad(
            "a release name over 53 characters",
            "is longer than 53 characters",
            "plan",
            "demo/helm/" + "r".repeat(54),
            "--chart",
            chart),
        bad(
            "an image for a release's upgrade",
            "--image not taken for a Helm release (demo/helm/ghostwire)",
            "upgrade",
            "demo/helm/ghostwire",
            "--chart",
            chart,
            "--image",
            "x:1"),
        bad(
            "a gate that is none of first, each, none",
            "--gate 'cache=sometimes': give first, each or none",
            "upgrade",
            "demo/helm/ghostwire",
            "--chart",
            chart,
            "--gate",
            "first,cache=sometimes"),
        bad(
            "an upgrade of a release without a chart",
            "no chart: give --chart DIR for the Helm release demo/helm/ghostwire",
            "upgrade",
            "demo/helm/ghostwire"),
        bad(
            "a dry run of a workload",
            "--dry-run is for a Helm release",
            "upgrade",
            "demo/sts/pg",
            "--image",
            "pg=x:1",
            "--dry-run"),
        bad(
            "a rollback of a release to a revision that is not a number",
            "--to-revision 'two': a Helm release's revision is a number",
            "rollback",
            "demo/helm/ghostwire",
            "--to-revision",
            "two"),
        bad(
            "a repair of a release told to continue a workload's run",
            "repair of a Helm release (demo/helm/ghostwire) takes --mark-failed only",
            "repair",
            "demo/helm/ghostwire",
            "--continue"),
        bad(
            "--mark-failed for a workload",
            "--mark-failed is for a Helm release",
            "repair",
            "demo/sts/pg",
            "--mark-failed"),
        bad(
            "chart options for a StatefulSet",
            "are for a Helm release (NAMESPACE/helm/RELEASE), not demo/statefulset/pg",
            "plan",
            "demo/sts/pg",
            "--image",
            "pg=x:1",
            "--chart",
            chart),
        bad(
            "two plan files for a StatefulSet",
            "-f takes one plan file",
            "upgrade",
            "demo/sts/pg",
            "-f",
            "a.yaml",
            "-f",
            "b.yaml"));
  }

  private static Arguments bad(String why, String expected, String... args) {
    return Arguments.of(why, expected, List.of(args));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badCommandLines")
  void aBadReleaseCommandLineIsOneLineAndExit2(String why, String expected, List<String> args) {
    Run r = run(args.toArray(String[]::new));
    assertEquals(2, r.exit(), why + ": " + args + " -> " + r.err());
    assertThat(r.err()).as(why).startsWith("lockstep: ").hasLineCount(1).contains(expected);
    assertThat(r.out()).as(why).isEmpty();
  }

  @Test
  void aChartOverTheLimitIsRefusedBeforeAnythingConnects() throws Exception {
    Path big = Files.createDirectories(dir.resolve("big"));
    Files.writeString(big.resolve("Chart.yaml"), "apiVersion: v2\nname: big\nversion: 0.1.0\n");
    Files.write(big.resolve("blob.bin"), new byte[(int) HelmActivities.MAX_CHART_BYTES]);
    Run r = run("plan", "demo/helm/big", "--chart", big.toString());
    assertEquals(2, r.exit(), r.err());
    assertThat(r.err()).startsWith("lockstep: ").hasLineCount(1).contains("holds over 1000 kB");
  }

  @Test
  void theChartIsSentWholeByRelativePathWithTheValuesInOrder() throws Exception {
    Path values = Files.writeString(dir.resolve("values.yaml"), "logLevel: debug\n");
    Path more = Files.writeString(dir.resolve("more.yaml"), "replicaCount: 1\n");
    ChartArgs args = new ChartArgs();
    args.chart = GHOSTWIRE;
    args.version = "0.3.0";
    args.values.add(more);
    args.sets.add("logLevel=info");
    args.reuseValues = true;
    HelmActivities.ReleaseRequest request =
        args.request(Target.parseWithReleases("demo/helm/ghostwire", "default"), List.of(values));
    assertThat(request.namespace()).isEqualTo("demo");
    assertThat(request.release()).isEqualTo("ghostwire");
    assertThat(request.version()).isEqualTo("0.3.0");
    assertThat(request.reuse()).isEqualTo("reuse-values");
    assertThat(request.sets()).containsExactly("logLevel=info");
    assertThat(request.valuesFiles())
        .extracting(HelmActivities.ValuesFile::text)
        .containsExactly("logLevel: debug\n", "replicaCount: 1\n");
    assertThat(request.chart().files()).containsKeys("0.2.0/Chart.yaml", "0.3.0/Chart.yaml");
    assertThat(
            new String(
                Base64.getDecoder().decode(request.chart().files().get("0.3.0/Chart.yaml")),
                StandardCharsets.UTF_8))
        .isEqualTo(Files.readString(GHOSTWIRE.resolve("0.3.0/Chart.yaml")));
  }

  @Test
  void releaseIsAnAliasOfHelmAndOnlyWhereACommandTakesReleases() {
    assertThat(Target.parseWithReleases("demo/release/ghostwire", "default").toString())
        .isEqualTo("demo/helm/ghostwire");
    assertThat(Target.parseWithReleases("helm/ghostwire", "ns").toString())
        .isEqualTo("ns/helm/ghostwire");
    assertThat(Target.parseWithReleases("demo/sts/pg", "default").kind())
        .isEqualTo(Target.STATEFULSET);
  }

  @Test
  void planHelpNamesTheChartOptions() {
    Run r = run("plan", "--help");
    assertEquals(0, r.exit(), r.err());
    assertThat(r.out()).contains("--chart=DIR", "--version=V", "--values=FILE", "--set=KEY=VALUE");
  }

  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try (ApplicationContext ctx = ApplicationContext.run(Environment.CLI, Environment.TEST)) {
      int exit = LockstepCommand.commandLine(ctx).execute(args);
      return new Run(
          exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }
}
