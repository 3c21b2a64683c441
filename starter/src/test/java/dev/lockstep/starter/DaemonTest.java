package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lockstep.starter.client.Client;
import dev.lockstep.starter.client.DaemonProtocol;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CLI daemon (issue 19) answers a command exactly as the command's own JVM does: the same
 * stdout, stderr and exit code for the same command line, in the caller's environment; requests
 * side by side; a socket left by a killed daemon is cleared; the run directory is the user's alone;
 * one daemon per build; it stops when asked or idle, and a client that went away mid-command does
 * not wedge it.
 */
class DaemonTest {
  private static FakeTemporal temporal;
  private static Path dir;
  private static Path socket;
  private static Path lock;
  private static Daemon daemon;
  private static final ByteArrayOutputStream LOG = new ByteArrayOutputStream();
  private static final String CHARSET = Charset.defaultCharset().name();

  @BeforeAll
  static void start() throws IOException {
    temporal = FakeTemporal.start();
    // Unix socket paths are short (108 bytes): a directory of its own under /tmp.
    dir = Files.createTempDirectory(Path.of("/tmp"), "lsd");
    socket = DaemonProtocol.socket(dir, "test");
    lock = DaemonProtocol.lock(dir, "test");
    daemon = Daemon.listen(socket, lock, Duration.ofMinutes(30), null, new PrintStream(LOG, true));
    for (String name : List.of("web", "api")) {
      FakeTemporal.STATUS.put(
          "lockstep/default/demo/statefulset/" + name,
          FakeTemporal.status(
              "demo/statefulset/" + name,
              "WAITING_FOR_RESUME",
              "waiting at the gate after pg-2",
              "pg-2",
              "pg-1",
              "pg-0"));
      FakeTemporal.Run started =
          FakeTemporal.cli(
              "upgrade",
              "demo/sts/" + name,
              "--image",
              "pg=postgres:14.9",
              "--temporal-address",
              temporal.address());
      assertEquals(0, started.exit(), started.err());
    }
  }

  @AfterAll
  static void stop() {
    daemon.close();
    temporal.close();
  }

  /** What a command printed and how it exited. */
  record Answer(int exit, String out, String err) {}

  /** {@code lockstep ARGS} in this JVM, as {@code java -jar lockstep-cli.jar ARGS} runs it. */
  static synchronized Answer inProcess(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    System.setErr(new PrintStream(err, true));
    try {
      int exit = LockstepCommand.execute(args);
      return new Answer(exit, out.toString(), err.toString());
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  /** {@code lockstep ARGS} through the daemon, as the client sends it, in {@code env}. */
  static Answer throughDaemon(Map<String, String> env, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit =
        Client.call(
            socket,
            lock,
            args,
            env,
            System.getProperty("user.dir"),
            System.console() != null,
            CHARSET,
            CHARSET,
            out,
            err);
    return new Answer(exit, out.toString(), err.toString());
  }

  static Answer throughDaemon(String... args) {
    return throughDaemon(System.getenv(), args);
  }

  static String[] at(String... args) {
    String[] all = new String[args.length + 2];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--temporal-address";
    all[args.length + 1] = temporal.address();
    return all;
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> cases() {
    return commands().stream().map(a -> org.junit.jupiter.params.provider.Arguments.of((Object) a));
  }

  static List<String[]> commands() {
    return List.of(
        at("status", "demo/sts/web"),
        at("status", "demo/statefulset/api", "-o", "json"),
        at("status", "demo/sts/web", "-o", "yaml"),
        at("resume", "demo/sts/web", "--reason", "first unit healthy", "--as", "alice"),
        at("pause", "demo/sts/api", "--as", "bob"),
        at("list", "--cluster", "nowhere"),
        // bad input: one line, exit 2, nothing sent
        at("status", "a/b/c/d"),
        at("list", "-o", "xml"),
        at("status", "demo/sts/web", "--bogus"),
        at("resume"),
        at("statuss"),
        // Temporal unreachable: exit 4
        new String[] {"list", "--temporal-address", "localhost:" + FakeTemporal.freePort()},
        new String[] {"status", "demo/sts/web", "--temporal-address", "localhost:1"});
  }

  @ParameterizedTest
  @MethodSource("cases")
  void theDaemonAnswersAsTheCommandsOwnJvmByteForByte(String[] args) {
    Answer own = inProcess(args);
    Answer daemons = throughDaemon(args);
    assertEquals(own, daemons);
    // and a second time, over the daemon's warm connection
    assertEquals(own, throughDaemon(args));
  }

  @Test
  void theIdleTimeIsToldAsItIsWrittenAndReadsBackTheSame() {
    for (String written : List.of("2h", "30m", "90s", "500ms")) {
      assertEquals(written, Daemon.spoken(Daemon.idle(written)));
    }
    assertEquals("30m", Daemon.spoken(Daemon.idle(null)));
    assertEquals("45s", Daemon.spoken(Daemon.idle("45")));
  }

  @Test
  void listThroughTheDaemonShowsTheSameUpgradesAsInProcess() {
    Answer own = inProcess(at("list", "-o", "json"));
    Answer daemons = throughDaemon(at("list", "-o", "json"));
    assertEquals(0, daemons.exit(), daemons.err());
    assertThat(daemons.out()).contains("demo/statefulset/web").contains("demo/statefulset/api");
    // the age column is the only thing that moves between the two calls
    assertEquals(ageless(own.out()), ageless(daemons.out()));
    assertEquals(own.err(), daemons.err());
  }

  private static String ageless(String json) {
    return json.replaceAll("\"age\" : \"[^\"]*\"", "\"age\" : \"-\"");
  }

  @Test
  void eachRequestIsAnsweredInItsOwnEnvironment() {
    Map<String, String> elsewhere = new HashMap<>(System.getenv());
    elsewhere.put("LOCKSTEP_CLUSTER", "elsewhere");
    elsewhere.put("TEMPORAL_ADDRESS", temporal.address());
    Map<String, String> home = new HashMap<>(System.getenv());
    home.put("TEMPORAL_ADDRESS", temporal.address());
    home.remove("LOCKSTEP_CLUSTER");
    Map<String, String> demo = new HashMap<>(home);
    demo.put("LOCKSTEP_NAMESPACE", "demo");
    Map<String, String> away = new HashMap<>(home);
    away.put("TEMPORAL_ADDRESS", "localhost:1");

    Answer there = throughDaemon(elsewhere, "list");
    Answer here = throughDaemon(home, "list");
    Answer inDemo = throughDaemon(demo, "status", "sts/web");
    Answer inDefault = throughDaemon(home, "status", "sts/web");
    Answer unreachable = throughDaemon(away, "list");

    assertEquals(new Answer(0, "no upgrades in progress in cluster elsewhere\n", ""), there);
    assertEquals(0, here.exit(), here.err());
    assertThat(here.out()).contains("demo/statefulset/web");
    assertEquals(0, inDemo.exit(), inDemo.err());
    assertThat(inDemo.out()).contains("demo/statefulset/web");
    assertThat(inDefault.exit()).isIn(1, 2);
    assertThat(inDefault.err()).startsWith("lockstep: ").contains("default");
    assertEquals(
        new Answer(
            4,
            "",
            "lockstep: cannot reach Temporal at localhost:1: start it (./lockstep dev) or set"
                + " TEMPORAL_ADDRESS\n"),
        unreachable);
  }

  @Test
  void requestsRunSideBySideEachWithItsOwnOutput() throws Exception {
    List<String[]> commands = commands();
    List<Answer> expected = new ArrayList<>();
    for (String[] args : commands) {
      expected.add(inProcess(args));
    }
    ExecutorService pool = Executors.newFixedThreadPool(commands.size());
    try {
      List<Future<Answer>> answers = new ArrayList<>();
      for (String[] args : commands) {
        answers.add(pool.submit((Callable<Answer>) () -> throughDaemon(args)));
      }
      for (int i = 0; i < commands.size(); i++) {
        assertEquals(expected.get(i), answers.get(i).get(), String.join(" ", commands.get(i)));
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aClientThatGoesAwayMidCommandDoesNotWedgeTheDaemon() throws IOException {
    for (int i = 0; i < 3; i++) {
      try (SocketChannel gone = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
        DataOutputStream o = new DataOutputStream(Channels.newOutputStream(gone));
        o.writeInt(DaemonProtocol.MAGIC);
        o.writeByte(DaemonProtocol.RUN);
        o.writeInt(2);
        DaemonProtocol.writeString(o, "status");
        o.flush();
        // Ctrl-C: the client's JVM ends here, half a request sent
      }
    }
    assertEquals(
        inProcess(at("status", "demo/sts/web")), throughDaemon(at("status", "demo/sts/web")));
  }

  @Test
  void aSocketLeftByAKilledDaemonIsRemovedAndANewDaemonBindsInItsPlace() throws Exception {
    Path d = Files.createTempDirectory(Path.of("/tmp"), "lsd");
    Path s = DaemonProtocol.socket(d, "stale");
    Path l = DaemonProtocol.lock(d, "stale");
    // A daemon killed with SIGKILL leaves its socket file, with nobody listening on it.
    ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    dead.bind(UnixDomainSocketAddress.of(s));
    dead.close();
    assertThat(s).exists();

    Answer none = throughDaemonAt(s, l, "list");
    assertEquals(DaemonProtocol.NO_DAEMON, none.exit());
    assertThat(s).doesNotExist();

    dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    dead.bind(UnixDomainSocketAddress.of(s));
    dead.close();
    try (Daemon fresh = Daemon.listen(s, l, Duration.ofMinutes(1), null, new PrintStream(LOG))) {
      assertThat(fresh).isNotNull();
      Answer answered = throughDaemonAt(s, l, "status", "a/b/c/d");
      assertEquals(inProcess("status", "a/b/c/d"), answered);
    }
    assertThat(s).doesNotExist();
  }

  private static Answer throughDaemonAt(Path s, Path l, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = Client.call(s, l, args, System.getenv(), "/", false, CHARSET, CHARSET, out, err);
    return new Answer(exit, out.toString(), err.toString());
  }

  @Test
  void oneDaemonPerBuildTheSecondStepsAside() throws IOException {
    assertThat(Daemon.listen(socket, lock, Duration.ofMinutes(1), null, new PrintStream(LOG)))
        .isNull();
    assertEquals(0, throughDaemon(at("status", "demo/sts/web")).exit());
  }

  @Test
  void daemonStopEndsItAndRemovesItsSocketAndIdleEndsItToo() throws Exception {
    Path d = Files.createTempDirectory(Path.of("/tmp"), "lsd");
    Path s = DaemonProtocol.socket(d, "stop");
    Path l = DaemonProtocol.lock(d, "stop");
    Daemon stopped = Daemon.listen(s, l, Duration.ofMinutes(30), null, new PrintStream(LOG));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(0, Client.daemon(new String[] {"daemon", "stop"}, s, l, out, out));
    assertThat(out.toString()).startsWith("lockstep: the CLI daemon (pid ").endsWith("stopped\n");
    stopped.awaitClosed();
    assertThat(s).doesNotExist();
    assertEquals(DaemonProtocol.NO_DAEMON, throughDaemonAt(s, l, "list").exit());

    Daemon idle = Daemon.listen(s, l, Duration.ofMillis(200), null, new PrintStream(LOG));
    await().atMost(Duration.ofSeconds(30)).until(() -> !idle.isOpen());
    assertThat(s).doesNotExist();

    assertEquals(Duration.ofSeconds(90), Daemon.idle("90s"));
    assertEquals(Duration.ofMinutes(30), Daemon.idle(null));
    assertEquals(Duration.ofHours(2), Daemon.idle("2h"));
    assertEquals(null, Daemon.idle("soon"));
  }

  @Test
  void aDaemonWhoseJarIsRebuiltStopsSoItsClientsStartTheNewOne() throws Exception {
    Path d = Files.createTempDirectory(Path.of("/tmp"), "lsd");
    Path jar = Files.writeString(d.resolve("lockstep-cli.jar"), "the first build");
    String before = DaemonProtocol.buildId(jar);
    Path s = DaemonProtocol.socket(d, before);
    Daemon old =
        Daemon.listen(
            s, DaemonProtocol.lock(d, before), Duration.ofMinutes(30), jar, new PrintStream(LOG));
    Files.writeString(jar, "the second build, longer");
    assertThat(DaemonProtocol.buildId(jar)).isNotEqualTo(before);
    await().atMost(Duration.ofSeconds(60)).until(() -> !old.isOpen());
    assertThat(s).doesNotExist();
  }

  @Test
  void warmConnectionsAreKeptPerSettingWithoutTheApiKeyInTheirName() {
    dev.lockstep.workflows.TemporalConnection withKey =
        new dev.lockstep.workflows.TemporalConnection(
            "temporal:7233", "default", null, null, null, null, null, "very-secret-key");
    dev.lockstep.workflows.TemporalConnection otherKey =
        new dev.lockstep.workflows.TemporalConnection(
            "temporal:7233", "default", null, null, null, null, null, "another-key");
    assertThat(StubsCache.key(withKey)).doesNotContain("very-secret-key");
    assertThat(StubsCache.key(withKey)).isNotEqualTo(StubsCache.key(otherKey));
    assertThat(StubsCache.key(withKey))
        .isNotEqualTo(
            StubsCache.key(dev.lockstep.workflows.TemporalConnection.plain("temporal:7233", "x")));
    assertThat(LOG.toString()).doesNotContain("first unit healthy").doesNotContain("--reason");
  }

  @Test
  void theRunDirectoryIsTheUsersAloneMode0700() throws IOException {
    Path xdg = Files.createTempDirectory(Path.of("/tmp"), "xdg");
    Path made = DaemonProtocol.runDirectory(Map.of("XDG_RUNTIME_DIR", xdg.toString()));
    assertEquals(xdg.resolve("lockstep"), made);
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(made)));
    Files.setPosixFilePermissions(made, PosixFilePermissions.fromString("rwxr-xr-x"));
    DaemonProtocol.runDirectory(Map.of("XDG_RUNTIME_DIR", xdg.toString()));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(made)));
    assertEquals(
        "rw-------",
        PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)),
        "the socket itself");
  }

  @Test
  void whatTheDaemonTakesAndWhatRunsAsBefore() {
    Map<String, String> env = Map.of();
    assertThat(DaemonProtocol.forDaemon(new String[] {"status", "demo/sts/web"}, env)).isTrue();
    assertThat(DaemonProtocol.forDaemon(new String[] {"list", "-o", "json"}, env)).isTrue();
    assertThat(
            DaemonProtocol.forDaemon(
                new String[] {"resume", "x/y", "--tls-ca-path", "/ca.pem"}, env))
        .isTrue();
    for (String[] before :
        List.of(
            new String[] {"status", "demo/sts/web", "--watch"},
            new String[] {"status", "demo/sts/web", "-w"},
            new String[] {"status", "demo/sts/web", "--wait"},
            new String[] {"retry", "demo/sts/web", "--wait"},
            new String[] {"status", "--help"},
            new String[] {"list", "-hV"},
            new String[] {"upgrade", "demo/sts/web", "--image", "pg=postgres:15"},
            new String[] {"plan", "demo/sts/web"},
            new String[] {"codec-server"},
            new String[] {},
            new String[] {"status", "@args.txt"},
            new String[] {"list", "--tls-ca-path", "ca.pem"},
            new String[] {"list", "--codec-keys=/keys,relative/key"})) {
      assertThat(DaemonProtocol.forDaemon(before, env)).as(String.join(" ", before)).isFalse();
    }
    assertThat(
            DaemonProtocol.forDaemon(new String[] {"list"}, Map.of("LOCKSTEP_CLI_DAEMON", "off")))
        .isFalse();
    assertThat(
            DaemonProtocol.forDaemon(new String[] {"list"}, Map.of("TEMPORAL_TLS_CERT", "c.pem")))
        .isFalse();
  }
}
