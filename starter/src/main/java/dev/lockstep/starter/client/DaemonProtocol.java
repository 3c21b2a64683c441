package dev.lockstep.starter.client;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the resident CLI daemon and its client share (JDK only: the client's jar holds nothing
 * else): where the socket lives, which command lines the daemon answers, and the frames on the
 * socket.
 *
 * <p>A request is {@link #MAGIC}, a kind ({@link #RUN}, {@link #STOP}, {@link #PING}); for a run:
 * the arguments, the working directory, the whole environment, whether {@code System.console()} is
 * there, and the charsets of stdout and stderr (as picocli chooses them). The answer is a sequence
 * of frames: {@link #OUT} or {@link #ERR} with bytes, then {@link #EXIT} with the code.
 */
public final class DaemonProtocol {
  private DaemonProtocol() {}

  /** The first int of a request; a daemon of another protocol version closes the connection. */
  public static final int MAGIC = 0x4c4b5301;

  public static final byte RUN = 1;
  public static final byte STOP = 2;
  public static final byte PING = 3;

  public static final byte OUT = 1;
  public static final byte ERR = 2;
  public static final byte EXIT = 3;

  /** The client's exit code when no daemon answered: the launcher runs the command as before. */
  public static final int NO_DAEMON = 75;

  /** The client's exit code for a command line the daemon does not take (run as before). */
  public static final int NOT_FOR_DAEMON = 76;

  /**
   * The commands the daemon runs: short ones that neither read stdin, nor prompt, nor follow a run.
   */
  static final Set<String> COMMANDS =
      Set.of(
          "status",
          "list",
          "resume",
          "pause",
          "cancel",
          "rollback",
          "retry",
          "abandon",
          "history",
          "audit");

  /** Options that make a command print help, print a version, or follow a run (run as before). */
  private static final Set<String> NOT_SHORT =
      Set.of("--help", "-h", "--version", "-V", "--watch", "-w", "--wait");

  /** Settings that name files: taken by the daemon only when absolute (see {@link #forDaemon}). */
  private static final List<String> FILE_FLAGS =
      List.of("--tls-cert-path", "--tls-key-path", "--tls-ca-path", "--codec-keys");

  private static final List<String> FILE_VARIABLES =
      List.of("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA", "LOCKSTEP_CODEC_KEYS");

  /**
   * Whether the daemon runs this command line in this environment. Not when {@code
   * LOCKSTEP_CLI_DAEMON=off}; not for a command that is not short, for help or version, {@code
   * --watch} or {@code --wait}; not for picocli's {@code @FILE} arguments or a relative path in a
   * file setting: the daemon's working directory is not the caller's, and rather than print a path
   * other than the one given in a message, such a call runs as before.
   */
  public static boolean forDaemon(String[] args, Map<String, String> env) {
    if ("off".equalsIgnoreCase(String.valueOf(env.get("LOCKSTEP_CLI_DAEMON")).trim())) {
      return false;
    }
    if (args.length == 0 || !COMMANDS.contains(args[0])) {
      return false;
    }
    for (int i = 1; i < args.length; i++) {
      String a = args[i];
      if (NOT_SHORT.contains(a) || a.startsWith("@")) {
        return false;
      }
      if (shortCluster(a)) {
        return false;
      }
      for (String flag : FILE_FLAGS) {
        if (a.equals(flag) && i + 1 < args.length && !absolute(args[i + 1])) {
          return false;
        }
        if (a.length() > flag.length()
            && a.startsWith(flag)
            && a.charAt(flag.length()) == '='
            && !absolute(a.substring(flag.length() + 1))) {
          return false;
        }
      }
    }
    for (String variable : FILE_VARIABLES) {
      String value = env.get(variable);
      if (value != null && !value.isBlank() && !absolute(value)) {
        return false;
      }
    }
    return true;
  }

  /**
   * A cluster of short options with help, version or watch in it ({@code -hV}, {@code -wo...}), as
   * picocli may read it. No regular expression: the client's start would pay for its classes.
   */
  private static boolean shortCluster(String a) {
    if (a.length() < 3 || a.charAt(0) != '-') {
      return false;
    }
    boolean named = false;
    for (int i = 1; i < a.length(); i++) {
      char c = a.charAt(i);
      if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')) {
        return false;
      }
      named |= c == 'h' || c == 'V' || c == 'w';
    }
    return named;
  }

  /** Every comma-separated path in {@code value} is absolute. */
  private static boolean absolute(String value) {
    for (String part : value.split(",")) {
      if (!part.isBlank() && !Path.of(part.trim()).isAbsolute()) {
        return false;
      }
    }
    return true;
  }

  /**
   * The per-user directory of the sockets, mode 0700: {@code $XDG_RUNTIME_DIR/lockstep}, else
   * {@code ~/.lockstep/run}. Made when missing; an existing one of ours is set to 0700; one that is
   * not ours is refused (IOException), so no other user's socket is ever trusted.
   */
  public static Path runDirectory(Map<String, String> env) throws IOException {
    String xdg = env.get("XDG_RUNTIME_DIR");
    Path dir =
        xdg != null
                && !xdg.isBlank()
                && Path.of(xdg).isAbsolute()
                && Files.isDirectory(Path.of(xdg))
            ? Path.of(xdg, "lockstep")
            : Path.of(System.getProperty("user.home"), ".lockstep", "run");
    Set<PosixFilePermission> owner = PosixFilePermissions.fromString("rwx------");
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir.getParent());
      try {
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(owner));
      } catch (java.nio.file.FileAlreadyExistsException e) {
        // another process made it first
      }
    }
    String me = System.getProperty("user.name");
    String holder = Files.getOwner(dir).getName();
    if (!holder.equals(me)) {
      throw new IOException(dir + " belongs to " + holder + ", not to " + me);
    }
    if (!Files.getPosixFilePermissions(dir).equals(owner)) {
      Files.setPosixFilePermissions(dir, owner);
    }
    return dir;
  }

  /**
   * The name of the CLI jar's build: a rebuilt (or moved) jar has another, so it never talks to a
   * daemon running the old one. From the jar's path, size and modification time.
   */
  public static String buildId(Path jar) throws IOException {
    Path real = jar.toAbsolutePath().normalize();
    BasicFileAttributes a = Files.readAttributes(real, BasicFileAttributes.class);
    // FNV-1a, 64 bits: a name, not a secret; MessageDigest would cost the client's start ~50 ms.
    long hash = 0xcbf29ce484222325L;
    hash = fnv(hash, real.toString());
    hash = fnv(hash, Long.toString(a.size()));
    hash = fnv(hash, Long.toString(a.lastModifiedTime().toMillis()));
    String hex = Long.toHexString(hash);
    return "0000000000000000".substring(hex.length()).concat(hex);
  }

  private static long fnv(long hash, String text) {
    for (int i = 0; i < text.length(); i++) {
      hash ^= text.charAt(i);
      hash *= 0x100000001b3L;
    }
    return (hash ^ '|') * 0x100000001b3L;
  }

  /** The daemon's socket for the build {@code id}. */
  public static Path socket(Path runDirectory, String id) {
    return runDirectory.resolve("cli-".concat(id).concat(".sock"));
  }

  /** The lock the daemon of build {@code id} holds while it lives (one daemon per build). */
  public static Path lock(Path runDirectory, String id) {
    return runDirectory.resolve("cli-".concat(id).concat(".lock"));
  }

  /** The daemon's log. */
  public static Path log(Path runDirectory, String id) {
    return runDirectory.resolve("cli-".concat(id).concat(".log"));
  }

  public static void writeString(DataOutputStream out, String s) throws IOException {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    out.writeInt(bytes.length);
    out.write(bytes);
  }

  public static String readString(DataInputStream in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > 16 << 20) {
      throw new IOException("bad frame length " + n);
    }
    return new String(in.readNBytes(n), StandardCharsets.UTF_8);
  }
}
