package dev.lockstep.starter;

import dev.lockstep.starter.client.DaemonProtocol;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.BufferedWriter;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The resident CLI daemon (issue 19): a JVM that stays up between commands so that {@code lockstep
 * status}, {@code list}, {@code resume}... answer without a JVM's start, picocli's, the Temporal
 * client's and the first gRPC calls' (docs/cli.md#the-cli-daemon). It listens on a Unix domain
 * socket in the user's run directory (mode 0700: only the same user reaches it; each connection's
 * peer user is checked too) and runs each request with exactly the CLI's code path ({@link
 * LockstepCommand#execute(PrintWriter, PrintWriter, String...)}), in the caller's environment and
 * terminal ({@link Invocation}), printing into the request's own streams; requests run side by
 * side. It keeps its Temporal connections warm ({@link StubsCache}). It exits after {@code
 * LOCKSTEP_CLI_DAEMON_IDLE} without requests (30 minutes by default), on {@code lockstep daemon
 * stop}, or when its jar is rebuilt, and removes its socket. One daemon per build: it holds the
 * build's lock file while it lives. It logs one line per request (the command's name, its exit code
 * and time: never its arguments or environment, which may hold secrets).
 */
public final class Daemon implements AutoCloseable {
  static final Duration DEFAULT_IDLE = Duration.ofMinutes(30);

  private final Path socket;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final ServerSocketChannel server;
  private final Duration idle;
  private final Path jar;
  private final String jarId;
  private final StubsCache stubs = new StubsCache();
  private final ExecutorService requests;
  private final ScheduledExecutorService watch;
  private final AtomicInteger active = new AtomicInteger();
  private final AtomicLong served = new AtomicLong();
  private final Instant started = Instant.now();
  private volatile long lastRequest = System.nanoTime();
  private final CountDownLatch closed = new CountDownLatch(1);
  private final PrintStream log;

  private Daemon(
      Path socket,
      FileChannel lockChannel,
      FileLock lock,
      ServerSocketChannel server,
      Duration idle,
      Path jar,
      PrintStream log)
      throws IOException {
    this.socket = socket;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.server = server;
    this.idle = idle;
    this.jar = jar;
    this.jarId = jar == null ? null : DaemonProtocol.buildId(jar);
    this.log = log;
    AtomicInteger n = new AtomicInteger();
    this.requests =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "lockstep-request-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.watch =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "lockstep-daemon-idle");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * A daemon listening on {@code socket} (serving from a thread of its own), or null when another
   * daemon holds {@code lockFile} (it runs, or is starting). A socket file left by a daemon that
   * was killed is replaced. {@code jar}, when not null, is the CLI jar whose rebuild ends it.
   */
  static Daemon listen(Path socket, Path lockFile, Duration idle, Path jar, PrintStream log)
      throws IOException {
    FileChannel lockChannel =
        FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = lockChannel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      lockChannel.close();
      return null;
    }
    ServerSocketChannel server;
    try {
      // We hold the lock: no daemon of this build is alive, a socket file is a dead one's.
      Files.deleteIfExists(socket);
      server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      server.bind(UnixDomainSocketAddress.of(socket));
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException | RuntimeException e) {
      lock.release();
      lockChannel.close();
      throw e;
    }
    Daemon daemon = new Daemon(socket, lockChannel, lock, server, idle, jar, log);
    daemon.start();
    return daemon;
  }

  private void start() {
    Thread accept = new Thread(this::accept, "lockstep-daemon-accept");
    accept.setDaemon(true);
    accept.start();
    long period = Math.max(100, Math.min(idle.toMillis() / 4, 2_000));
    watch.scheduleWithFixedDelay(this::checkIdle, period, period, TimeUnit.MILLISECONDS);
    log(
        "pid "
            + ProcessHandle.current().pid()
            + " listening on "
            + socket
            + ", exits after "
            + spoken(idle)
            + " without requests");
  }

  private void accept() {
    while (server.isOpen()) {
      SocketChannel channel;
      try {
        channel = server.accept();
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        log("accept failed: " + e.getMessage());
        continue;
      }
      active.incrementAndGet();
      lastRequest = System.nanoTime();
      try {
        requests.execute(() -> serve(channel));
      } catch (RuntimeException e) {
        active.decrementAndGet();
        closeQuietly(channel);
      }
    }
  }

  private void checkIdle() {
    if (jar != null) {
      String now;
      try {
        now = DaemonProtocol.buildId(jar);
      } catch (IOException e) {
        now = null;
      }
      if (!jarId.equals(now)) {
        log("the CLI jar changed: stopping");
        close();
        return;
      }
    }
    if (active.get() == 0 && System.nanoTime() - lastRequest >= idle.toNanos()) {
      log("no request for " + spoken(idle) + ": stopping");
      close();
    }
  }

  private void serve(SocketChannel channel) {
    long began = System.nanoTime();
    String command = "?";
    int exit = -1;
    try (channel) {
      if (!sameUser(channel)) {
        log("refused a connection of another user");
        return;
      }
      DataInputStream in =
          new DataInputStream(new BufferedInputStream(Channels.newInputStream(channel)));
      DataOutputStream out =
          new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(channel)));
      if (in.readInt() != DaemonProtocol.MAGIC) {
        log("refused a request of another protocol");
        return;
      }
      byte kind = in.readByte();
      if (kind == DaemonProtocol.STOP) {
        command = "daemon stop";
        DaemonProtocol.writeString(
            out, "lockstep: the CLI daemon (pid " + ProcessHandle.current().pid() + ") stopped");
        out.flush();
        exit = 0;
        Thread stop = new Thread(this::close, "lockstep-daemon-stop");
        stop.start();
        return;
      }
      if (kind == DaemonProtocol.PING) {
        command = "daemon status";
        DaemonProtocol.writeString(out, status());
        out.flush();
        exit = 0;
        return;
      }
      String[] args = new String[in.readInt()];
      for (int i = 0; i < args.length; i++) {
        args[i] = DaemonProtocol.readString(in);
      }
      command = args.length == 0 ? "" : args[0];
      String cwd = DaemonProtocol.readString(in);
      int variables = in.readInt();
      Map<String, String> env = new HashMap<>();
      for (int i = 0; i < variables; i++) {
        env.put(DaemonProtocol.readString(in), DaemonProtocol.readString(in));
      }
      boolean console = in.readBoolean();
      Charset outCharset = Charset.forName(DaemonProtocol.readString(in));
      Charset errCharset = Charset.forName(DaemonProtocol.readString(in));
      exit = run(args, env, cwd, console, outCharset, errCharset, out);
    } catch (IOException | RuntimeException e) {
      log(command + ": the request failed: " + e);
    } finally {
      served.incrementAndGet();
      lastRequest = System.nanoTime();
      active.decrementAndGet();
      log(command + " exit " + exit + " in " + (System.nanoTime() - began) / 1_000_000 + " ms");
    }
  }

  /** Runs one command as the CLI runs it, its output framed onto {@code socket}; its exit code. */
  private int run(
      String[] args,
      Map<String, String> env,
      String cwd,
      boolean console,
      Charset outCharset,
      Charset errCharset,
      DataOutputStream socket)
      throws IOException {
    // As picocli makes its writers for System.out and System.err, in the caller's charsets.
    PrintWriter out =
        new PrintWriter(
            new BufferedWriter(
                new OutputStreamWriter(new Frames(socket, DaemonProtocol.OUT), outCharset)),
            true);
    PrintWriter err =
        new PrintWriter(
            new BufferedWriter(
                new OutputStreamWriter(new Frames(socket, DaemonProtocol.ERR), errCharset)),
            true);
    int exit;
    try {
      exit =
          new Invocation(env, cwd, console, stubs)
              .run(() -> LockstepCommand.execute(out, err, args));
    } catch (RuntimeException | Error e) {
      err.println("lockstep: unexpected error: " + Common.oneLine(e) + "; run with --verbose");
      exit = 1;
    }
    out.flush();
    err.flush();
    synchronized (socket) {
      socket.writeByte(DaemonProtocol.EXIT);
      socket.writeInt(exit);
      socket.flush();
    }
    return exit;
  }

  /** One stream of a request's output, written to its socket as frames as it is flushed. */
  private static final class Frames extends OutputStream {
    private final DataOutputStream socket;
    private final byte kind;

    Frames(DataOutputStream socket, byte kind) {
      this.socket = socket;
      this.kind = kind;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return;
      }
      synchronized (socket) {
        socket.writeByte(kind);
        socket.writeInt(len);
        socket.write(b, off, len);
        socket.flush();
      }
    }
  }

  /**
   * The caller is this daemon's own user (the directory's 0700 already says so; belt and braces).
   */
  private static boolean sameUser(SocketChannel channel) {
    try {
      if (!channel.supportedOptions().contains(jdk.net.ExtendedSocketOptions.SO_PEERCRED)) {
        return true;
      }
      jdk.net.UnixDomainPrincipal peer =
          channel.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED);
      return peer.user().getName().equals(System.getProperty("user.name"));
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private String status() {
    return "lockstep: the CLI daemon, pid "
        + ProcessHandle.current().pid()
        + ", on "
        + socket
        + " since "
        + started.truncatedTo(ChronoUnit.SECONDS)
        + ": "
        + served.get()
        + " requests, "
        + stubs.size()
        + " Temporal connections; stops after "
        + spoken(idle)
        + " without requests";
  }

  /**
   * A {@code lockstep list} in the environment the daemon was started from (the first caller's),
   * its output dropped: it loads and compiles what every command needs (picocli, the Temporal
   * client, gRPC and Temporal's protobuf descriptors, Jackson) and leaves a warm connection for the
   * next request with the same settings, instead of the first request paying for it. A read: it
   * changes nothing; a failure (no Temporal) is only logged.
   */
  void warmUp(Map<String, String> env) {
    long began = System.nanoTime();
    PrintWriter none = new PrintWriter(OutputStream.nullOutputStream());
    int exit =
        new Invocation(env, System.getProperty("user.dir"), false, stubs)
            .run(() -> LockstepCommand.execute(none, none, "list"));
    log(
        "warmed up (list, exit "
            + exit
            + ") in "
            + (System.nanoTime() - began) / 1_000_000
            + " ms");
  }

  /** Waits until the daemon has stopped. */
  void awaitClosed() throws InterruptedException {
    closed.await();
  }

  boolean isOpen() {
    return closed.getCount() > 0;
  }

  /** Stops listening, removes the socket, releases the lock; requests still running finish. */
  @Override
  public synchronized void close() {
    if (closed.getCount() == 0) {
      return;
    }
    try {
      server.close();
    } catch (IOException e) {
      // closing
    }
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      log("cannot remove " + socket + ": " + e.getMessage());
    }
    watch.shutdownNow();
    requests.shutdown();
    try {
      requests.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    stubs.close();
    try {
      lock.release();
      lockChannel.close();
    } catch (IOException e) {
      // the process ends
    }
    log("stopped");
    closed.countDown();
  }

  private void log(String line) {
    log.println(Instant.now().truncatedTo(ChronoUnit.MILLIS) + " " + line);
    log.flush();
  }

  private static void closeQuietly(SocketChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // gone
    }
  }

  private static final Pattern IDLE = Pattern.compile("(\\d+)\\s*(ms|s|m|h)?");

  /** An idle time as {@code LOCKSTEP_CLI_DAEMON_IDLE} writes it: 2h, 30m, 90s, 500ms. */
  static String spoken(Duration d) {
    long ms = d.toMillis();
    if (ms % 3_600_000 == 0 && ms > 0) {
      return ms / 3_600_000 + "h";
    }
    if (ms % 60_000 == 0 && ms > 0) {
      return ms / 60_000 + "m";
    }
    if (ms % 1_000 == 0) {
      return ms / 1_000 + "s";
    }
    return ms + "ms";
  }

  /** {@code LOCKSTEP_CLI_DAEMON_IDLE}: 90s, 30m, 2h, 500ms, or seconds; the default otherwise. */
  static Duration idle(String value) {
    if (value == null || value.isBlank()) {
      return DEFAULT_IDLE;
    }
    Matcher m = IDLE.matcher(value.trim());
    if (!m.matches()) {
      return null;
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "s" : m.group(2);
    return switch (unit) {
      case "ms" -> Duration.ofMillis(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofSeconds(n);
    };
  }

  /**
   * {@code java -cp lockstep-cli.jar dev.lockstep.starter.Daemon}, as the launcher starts it
   * (detached, when a short command found none): serves until idle or stopped. Its log is {@code
   * cli-ID.log} beside the socket.
   */
  public static void main(String[] args) throws Exception {
    Map<String, String> env = System.getenv();
    Path jar = Path.of(Daemon.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path dir = DaemonProtocol.runDirectory(env);
    String id = DaemonProtocol.buildId(jar);
    Path logFile = DaemonProtocol.log(dir, id);
    if (Files.exists(logFile) && Files.size(logFile) > 1 << 20) {
      Files.delete(logFile);
    }
    PrintStream log =
        new PrintStream(new FileOutputStream(logFile.toFile(), true), true, StandardCharsets.UTF_8);
    System.setOut(log);
    System.setErr(log);
    Duration idle = idle(env.get("LOCKSTEP_CLI_DAEMON_IDLE"));
    if (idle == null) {
      log.println(
          "LOCKSTEP_CLI_DAEMON_IDLE must be like 90s, 30m or 2h, not '"
              + env.get("LOCKSTEP_CLI_DAEMON_IDLE")
              + "': "
              + DEFAULT_IDLE);
      idle = DEFAULT_IDLE;
    }
    Daemon daemon =
        listen(DaemonProtocol.socket(dir, id), DaemonProtocol.lock(dir, id), idle, jar, log);
    if (daemon == null) {
      log.println(Instant.now() + " another daemon of this build runs: not starting a second");
      System.exit(0);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(daemon::close, "lockstep-daemon-exit"));
    Thread warmUp = new Thread(() -> daemon.warmUp(env), "lockstep-daemon-warm-up");
    warmUp.setDaemon(true);
    warmUp.start();
    daemon.awaitClosed();
    System.exit(0);
  }
}
