package dev.lockstep.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Temporal behind TLS that requires a client certificate (mTLS), as production clusters are: a
 * TLS-terminating proxy in front of the embedded test server, with certificates made at test time.
 * The worker and the CLI, as separate processes, connect with the {@code temporal} CLI's
 * environment names (or the flags of the same names); the right certificate works, a wrong or
 * missing one is exit 4 with one line saying so.
 */
class TemporalTlsIT {
  @TempDir static Path dir;
  private static TestCertificates certs;
  private static DevStack stack;
  private static TlsProxy proxy;
  private static Processes.Running worker;

  @BeforeAll
  static void start() throws Exception {
    certs = TestCertificates.generate(dir);
    stack =
        DevStack.start(
            new DevStack.Settings(
                0, 0, Duration.ofMillis(300), true, false, dir.resolve("kubeconfig")));
    int temporalPort =
        Integer.parseInt(
            stack.temporalAddress().substring(stack.temporalAddress().lastIndexOf(':') + 1));
    proxy = TlsProxy.start(certs.serverContext(), temporalPort);
    worker =
        Processes.start(
            tls(certs.clientCert, certs.clientKey),
            Processes.WORKER,
            "--kubeconfig",
            dir.resolve("kubeconfig").toString(),
            "--health-port",
            "0");
    worker.awaitLine("worker ready", Duration.ofSeconds(90));
  }

  @AfterAll
  static void stop() throws Exception {
    if (worker != null) {
      worker.close();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (stack != null) {
      stack.close();
    }
  }

  private static String address() {
    return "localhost:" + proxy.port();
  }

  /** The environment of a client with this certificate (none when null), trusting the test CA. */
  private static Map<String, String> tls(Path cert, Path key) {
    Map<String, String> env = new HashMap<>();
    env.put("TEMPORAL_ADDRESS", address());
    env.put("TEMPORAL_TLS_CA", certs.caPem.toString());
    // The certificate is for temporal.test (and localhost): the name is checked, not the address.
    env.put("TEMPORAL_TLS_SERVER_NAME", "temporal.test");
    if (cert != null) {
      env.put("TEMPORAL_TLS_CERT", cert.toString());
      env.put("TEMPORAL_TLS_KEY", key.toString());
    }
    return env;
  }

  @Test
  void withTheRightClientCertificateTheWorkerAndTheCliRunAnUpgrade() throws Exception {
    String target = "demo/statefulset/ghostwire";
    Processes.Result upgraded =
        Processes.cli(
            tls(certs.clientCert, certs.clientKey),
            "upgrade",
            target,
            "--image",
            "ghostwire=ghcr.io/example/ghostwire:1.5.0",
            "--gate",
            "none",
            "--wait");
    assertEquals(0, upgraded.exit(), upgraded.err());
    assertThat(upgraded.out()).contains("COMPLETED");
    // The same with the flags in place of the environment.
    Processes.Result listed =
        Processes.cli(
            Map.of(),
            "list",
            "--all",
            "--temporal-address",
            address(),
            "--tls-ca-path",
            certs.caPem.toString(),
            "--tls-server-name",
            "temporal.test",
            "--tls-cert-path",
            certs.clientCert.toString(),
            "--tls-key-path",
            certs.clientKey.toString());
    assertEquals(0, listed.exit(), listed.err());
    assertThat(listed.out()).contains(target).contains("COMPLETED");
    // An API key rides along as a bearer token (the test server ignores it); it is never shown.
    Map<String, String> withKey = tls(certs.clientCert, certs.clientKey);
    withKey.put("TEMPORAL_API_KEY", "test-api-key-not-a-secret");
    Processes.Result keyed = Processes.cli(withKey, "list", "--all", "--verbose");
    assertEquals(0, keyed.exit(), keyed.err());
    assertThat(keyed.out() + keyed.err()).doesNotContain("test-api-key-not-a-secret");
  }

  @Test
  void aClientCertificateFromAnotherCaIsExit4WithOneLine() throws Exception {
    Processes.Result r = Processes.cli(tls(certs.rogueCert, certs.rogueKey), "list");
    assertEquals(4, r.exit(), r.err());
    assertEquals(
        "lockstep: Temporal at "
            + address()
            + " refused our client certificate (TLS alert bad_certificate): check"
            + " TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (--tls-cert-path, --tls-key-path)\n",
        r.err());
  }

  @Test
  void noClientCertificateIsExit4WithOneLine() throws Exception {
    Processes.Result r = Processes.cli(tls(null, null), "list");
    assertEquals(4, r.exit(), r.err());
    assertEquals(
        "lockstep: Temporal at "
            + address()
            + " wants a client certificate (TLS alert bad_certificate): set"
            + " TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (--tls-cert-path, --tls-key-path)\n",
        r.err());
  }

  @Test
  void aServerOurCaDoesNotVouchForIsExit4WithOneLine() throws Exception {
    Map<String, String> env = tls(certs.clientCert, certs.clientKey);
    env.put("TEMPORAL_TLS_CA", certs.rogueCaPem.toString());
    Processes.Result r = Processes.cli(env, "list");
    assertEquals(4, r.exit(), r.err());
    assertThat(r.err())
        .startsWith("lockstep: cannot trust Temporal's certificate at " + address() + " (")
        .endsWith(
            "): check TEMPORAL_TLS_CA and TEMPORAL_TLS_SERVER_NAME (--tls-ca-path,"
                + " --tls-server-name)\n")
        .hasLineCount(1);
  }

  @Test
  void aWorkerWithTheWrongCertificateExits4WithOneLine() throws Exception {
    Processes.Running wrong =
        Processes.start(
            tls(certs.rogueCert, certs.rogueKey),
            Processes.WORKER,
            "--kubeconfig",
            dir.resolve("kubeconfig").toString(),
            "--health-port",
            "0");
    assertThat(wrong.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertEquals(4, wrong.process.exitValue(), String.join("\n", wrong.lines));
    String line =
        "lockstep: Temporal at "
            + address()
            + " refused our client certificate (TLS alert bad_certificate): check"
            + " TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (--tls-cert-path, --tls-key-path)";
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(wrong.lines).contains(line));
  }
}
