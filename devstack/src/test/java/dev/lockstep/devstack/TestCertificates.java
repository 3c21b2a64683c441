package dev.lockstep.devstack;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Throwaway certificates made at test time with the JDK's {@code keytool}: a CA, a server
 * certificate it signs (for {@code localhost}, {@code 127.0.0.1} and {@code temporal.test}), a
 * client certificate it signs, and a client certificate another CA signs. Nothing is committed;
 * everything lives in the test's temporary directory.
 */
final class TestCertificates {
  private static final String PASSWORD = "throwaway";

  final Path dir;

  /** PEM: the CA that signs the server and the right client. */
  final Path caPem;

  /** PEM: the right client's certificate and its PKCS#8 key. */
  final Path clientCert;

  final Path clientKey;

  /** PEM: a client certificate and key from another CA. */
  final Path rogueCert;

  final Path rogueKey;

  /** PEM: the other CA, which signed no server certificate here. */
  final Path rogueCaPem;

  private final Path serverStore;
  private final Path caStore;

  private TestCertificates(Path dir) {
    this.dir = dir;
    this.caPem = dir.resolve("ca.pem");
    this.clientCert = dir.resolve("client.pem");
    this.clientKey = dir.resolve("client-key.pem");
    this.rogueCert = dir.resolve("rogue.pem");
    this.rogueKey = dir.resolve("rogue-key.pem");
    this.rogueCaPem = dir.resolve("rogue-ca-for-rogue.p12.pem");
    this.serverStore = dir.resolve("server.p12");
    this.caStore = dir.resolve("ca.p12");
  }

  static TestCertificates generate(Path dir) throws Exception {
    TestCertificates c = new TestCertificates(dir);
    c.ca("ca", c.caStore, "CN=lockstep-test-ca");
    c.ca("rogue-ca", dir.resolve("rogue-ca.p12"), "CN=rogue-test-ca");
    Files.writeString(
        c.caPem,
        c.keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", c.caStore.toString()));
    c.signed(
        "server",
        c.serverStore,
        "CN=temporal.test",
        c.caStore,
        "ca",
        "SAN=dns:localhost,dns:temporal.test,ip:127.0.0.1",
        "EKU=serverAuth");
    Path client = dir.resolve("client.p12");
    c.signed("client", client, "CN=lockstep-cli", c.caStore, "ca", null, "EKU=clientAuth");
    Path rogue = dir.resolve("rogue.p12");
    c.signed(
        "client",
        rogue,
        "CN=lockstep-cli",
        dir.resolve("rogue-ca.p12"),
        "rogue-ca",
        null,
        "EKU=clientAuth");
    exportPem(client, "client", c.clientCert, c.clientKey);
    exportPem(rogue, "client", c.rogueCert, c.rogueKey);
    return c;
  }

  /** A TLS server context: the server certificate, trusting only the CA for clients. */
  SSLContext serverContext() throws Exception {
    KeyStore keys = load(serverStore);
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, PASSWORD.toCharArray());
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", load(caStore).getCertificate("ca"));
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return context;
  }

  private void ca(String alias, Path store, String dname) throws Exception {
    keytool(
        "-genkeypair",
        "-alias",
        alias,
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-dname",
        dname,
        "-ext",
        "bc:c",
        "-validity",
        "2",
        "-keystore",
        store.toString());
  }

  private void signed(
      String alias,
      Path store,
      String dname,
      Path caStoreFile,
      String caAlias,
      String san,
      String eku)
      throws Exception {
    keytool(
        "-genkeypair",
        "-alias",
        alias,
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-dname",
        dname,
        "-validity",
        "2",
        "-keystore",
        store.toString());
    String request = keytool("-certreq", "-alias", alias, "-keystore", store.toString());
    Path csr = dir.resolve(alias + "-" + store.getFileName() + ".csr");
    Files.writeString(csr, request);
    List<String> gencert =
        new ArrayList<>(
            List.of(
                "-gencert",
                "-alias",
                caAlias,
                "-keystore",
                caStoreFile.toString(),
                "-infile",
                csr.toString(),
                "-rfc",
                "-validity",
                "2",
                "-ext",
                eku));
    if (san != null) {
      gencert.addAll(List.of("-ext", san));
    }
    String signedPem = keytool(gencert.toArray(String[]::new));
    String caPemText =
        keytool("-exportcert", "-rfc", "-alias", caAlias, "-keystore", caStoreFile.toString());
    Path caFile = dir.resolve(caAlias + "-for-" + store.getFileName() + ".pem");
    Files.writeString(caFile, caPemText);
    keytool(
        "-importcert",
        "-noprompt",
        "-alias",
        caAlias,
        "-file",
        caFile.toString(),
        "-keystore",
        store.toString());
    Path reply = dir.resolve(alias + "-" + store.getFileName() + ".pem");
    Files.writeString(reply, signedPem);
    keytool(
        "-importcert", "-alias", alias, "-file", reply.toString(), "-keystore", store.toString());
  }

  /** The certificate chain and the PKCS#8 key of {@code alias}, as PEM files. */
  private static void exportPem(Path store, String alias, Path certPem, Path keyPem)
      throws Exception {
    KeyStore keys = load(store);
    StringBuilder chain = new StringBuilder();
    for (Certificate cert : keys.getCertificateChain(alias)) {
      chain.append(pem("CERTIFICATE", cert.getEncoded()));
    }
    Files.writeString(certPem, chain);
    Key key = keys.getKey(alias, PASSWORD.toCharArray());
    Files.writeString(keyPem, pem("PRIVATE KEY", key.getEncoded()));
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }

  private static KeyStore load(Path store) throws Exception {
    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      keys.load(in, PASSWORD.toCharArray());
    }
    return keys;
  }

  /** Runs keytool with the store password; returns what it printed. */
  private String keytool(String... args) throws IOException, InterruptedException {
    List<String> command =
        new ArrayList<>(
            List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
    command.addAll(List.of(args));
    command.addAll(List.of("-storepass", PASSWORD, "-storetype", "PKCS12"));
    Path errors = Files.createTempFile(dir, "keytool", ".err");
    Process p = new ProcessBuilder(command).redirectError(errors.toFile()).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(
          "keytool " + String.join(" ", args) + " failed: " + out + Files.readString(errors));
    }
    return out;
  }
}
