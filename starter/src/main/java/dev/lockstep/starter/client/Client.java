package dev.lockstep.starter.client;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.SocketChannel;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * The {@code lockstep} client of the resident CLI daemon (issue 19): the launcher runs it for the
 * short commands; it hands the command line, the working directory, the environment and whether
 * this is a terminal to the daemon of this CLI jar's build over its Unix domain socket, and prints
 * what the daemon's run of the command prints, exiting with its code. JDK only, a few classes, so
 * that it starts in about a tenth of a second.
 *
 * <p>Exit {@link DaemonProtocol#NO_DAEMON} when no daemon answers (a stale socket, of a daemon that
 * was killed, is removed) and {@link DaemonProtocol#NOT_FOR_DAEMON} for a command line the daemon
 * does not take: the launcher then runs the command as before. The jar of the CLI is {@code
 * -Dlockstep.cli.jar}.
 */
public final class Client {
  private Client() {}

  public static void main(String[] args) {
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true);
    PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true);
    System.exit(run(args, System.getenv(), out, err));
  }

  static int run(String[] args, Map<String, String> env, OutputStream out, OutputStream err) {
    String jar = System.getProperty("lockstep.cli.jar");
    boolean daemonCommand = args.length > 0 && args[0].equals("daemon");
    if (jar == null || (!daemonCommand && !DaemonProtocol.forDaemon(args, env))) {
      return DaemonProtocol.NOT_FOR_DAEMON;
    }
    Path socket;
    Path lock;
    try {
      Path dir = DaemonProtocol.runDirectory(env);
      String id = DaemonProtocol.buildId(Path.of(jar));
      socket = DaemonProtocol.socket(dir, id);
      lock = DaemonProtocol.lock(dir, id);
    } catch (IOException | RuntimeException e) {
      if (daemonCommand) {
        line(err, "lockstep: no CLI daemon: " + e.getMessage());
        return 1;
      }
      return DaemonProtocol.NOT_FOR_DAEMON;
    }
    if (daemonCommand) {
      return daemon(args, socket, lock, out, err);
    }
    return call(
        socket,
        lock,
        args,
        env,
        System.getProperty("user.dir"),
        System.console() != null,
        picocliCharset("sun.stdout.encoding"),
        picocliCharset("sun.stderr.encoding"),
        out,
        err);
  }

  /** {@code lockstep daemon stop|status}. */
  public static int daemon(
      String[] args, Path socket, Path lock, OutputStream out, OutputStream err) {
    if (args.length != 2 || !(args[1].equals("stop") || args[1].equals("status"))) {
      line(err, "lockstep: usage: lockstep daemon stop|status");
      return 2;
    }
    SocketChannel channel = connect(socket, lock);
    if (channel == null) {
      line(args[1].equals("stop") ? out : err, "lockstep: no CLI daemon is running");
      return args[1].equals("stop") ? 0 : 1;
    }
    try (channel) {
      DataOutputStream o = new DataOutputStream(Channels.newOutputStream(channel));
      o.writeInt(DaemonProtocol.MAGIC);
      o.writeByte(args[1].equals("stop") ? DaemonProtocol.STOP : DaemonProtocol.PING);
      o.flush();
      line(out, DaemonProtocol.readString(new DataInputStream(Channels.newInputStream(channel))));
      return 0;
    } catch (IOException e) {
      line(err, "lockstep: the CLI daemon did not answer: " + e.getMessage());
      return 1;
    }
  }

  /** The command through the daemon at {@code socket}: its exit code, or NO_DAEMON. */
  public static int call(
      Path socket,
      Path lock,
      String[] args,
      Map<String, String> env,
      String cwd,
      boolean console,
      String stdoutCharset,
      String stderrCharset,
      OutputStream out,
      OutputStream err) {
    SocketChannel channel = connect(socket, lock);
    if (channel == null) {
      return DaemonProtocol.NO_DAEMON;
    }
    try (channel) {
      DataOutputStream o =
          new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(channel)));
      o.writeInt(DaemonProtocol.MAGIC);
      o.writeByte(DaemonProtocol.RUN);
      o.writeInt(args.length);
      for (String a : args) {
        DaemonProtocol.writeString(o, a);
      }
      DaemonProtocol.writeString(o, cwd);
      o.writeInt(env.size());
      for (Map.Entry<String, String> e : env.entrySet()) {
        DaemonProtocol.writeString(o, e.getKey());
        DaemonProtocol.writeString(o, e.getValue());
      }
      o.writeBoolean(console);
      DaemonProtocol.writeString(o, stdoutCharset);
      DaemonProtocol.writeString(o, stderrCharset);
      o.flush();
      DataInputStream in =
          new DataInputStream(new BufferedInputStream(Channels.newInputStream(channel)));
      while (true) {
        byte kind = in.readByte();
        if (kind == DaemonProtocol.EXIT) {
          return in.readInt();
        }
        int n = in.readInt();
        byte[] bytes = in.readNBytes(n);
        OutputStream to = kind == DaemonProtocol.OUT ? out : err;
        to.write(bytes);
        to.flush();
      }
    } catch (EOFException e) {
      line(err, "lockstep: the CLI daemon ended before it answered (its log: " + log(socket) + ")");
      return 1;
    } catch (IOException e) {
      line(
          err,
          "lockstep: the CLI daemon failed: " + e.getMessage() + " (its log: " + log(socket) + ")");
      return 1;
    }
  }

  private static Path log(Path socket) {
    return socket.resolveSibling(socket.getFileName().toString().replaceFirst("\\.sock$", ".log"));
  }

  /**
   * A connection to the daemon, or null when none answers. A socket file nobody listens on, while
   * no daemon holds the build's lock, is a daemon's that was killed: removed, so that the next
   * daemon binds anew.
   */
  public static SocketChannel connect(Path socket, Path lock) {
    try {
      return SocketChannel.open(UnixDomainSocketAddress.of(socket));
    } catch (IOException e) {
      if (Files.exists(socket)) {
        removeIfStale(socket, lock);
      }
      return null;
    }
  }

  private static void removeIfStale(Path socket, Path lock) {
    try (FileChannel c =
        FileChannel.open(lock, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      FileLock held = c.tryLock();
      if (held != null) {
        try {
          Files.deleteIfExists(socket);
        } finally {
          held.release();
        }
      }
    } catch (IOException | OverlappingFileLockException e) {
      // a daemon holds the lock (starting, or this very process): not stale
    }
  }

  /** The charset picocli writes stdout or stderr in: the JVM's property, else the default. */
  private static String picocliCharset(String property) {
    String name = System.getProperty(property);
    if (name != null) {
      try {
        return Charset.forName(name.equalsIgnoreCase("cp65001") ? "UTF-8" : name).name();
      } catch (RuntimeException e) {
        // picocli falls back to the default too
      }
    }
    return Charset.defaultCharset().name();
  }

  private static void line(OutputStream to, String text) {
    try {
      to.write((text + System.lineSeparator()).getBytes(StandardCharsets.UTF_8));
      to.flush();
    } catch (IOException e) {
      // nowhere to say it
    }
  }
}
