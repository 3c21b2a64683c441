package dev.lockstep.starter;

import dev.lockstep.workflows.TemporalConnection;
import io.grpc.ConnectivityState;
import io.temporal.serviceclient.WorkflowServiceStubs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The CLI daemon's warm connections to Temporal (its service stubs: the gRPC channel), one per
 * connection setting: the address, TLS and its files (path, size and modification time, so a
 * renewed certificate makes a new connection), the server name and the API key's SHA-256 (the key
 * itself is held only inside the stubs, in memory). A connection that is no longer ready (Temporal
 * restarted, stopped) is dropped and made anew, through the same check a command's own JVM runs, so
 * that it fails with the same line. At most {@link #SIZE}, the least recently used closed.
 */
final class StubsCache implements AutoCloseable {
  static final int SIZE = 8;

  private final LinkedHashMap<String, WorkflowServiceStubs> byKey =
      new LinkedHashMap<>(16, 0.75f, true);

  /** The stubs for {@code connection}: warm and ready, else from {@code connect}. */
  WorkflowServiceStubs get(TemporalConnection connection, Supplier<WorkflowServiceStubs> connect) {
    String key = key(connection);
    WorkflowServiceStubs warm;
    synchronized (this) {
      warm = byKey.get(key);
    }
    if (warm != null) {
      if (warm.getRawChannel().getState(false) == ConnectivityState.READY) {
        return warm;
      }
      synchronized (this) {
        byKey.remove(key, warm);
      }
      warm.shutdownNow();
    }
    WorkflowServiceStubs made = connect.get();
    List<WorkflowServiceStubs> evicted = new ArrayList<>();
    synchronized (this) {
      WorkflowServiceStubs before = byKey.put(key, made);
      if (before != null) {
        evicted.add(before);
      }
      Iterator<Map.Entry<String, WorkflowServiceStubs>> eldest = byKey.entrySet().iterator();
      while (byKey.size() > SIZE && eldest.hasNext()) {
        evicted.add(eldest.next().getValue());
        eldest.remove();
      }
    }
    // Graceful: a request still using one finishes its calls.
    evicted.forEach(WorkflowServiceStubs::shutdown);
    return made;
  }

  static String key(TemporalConnection c) {
    return String.join(
        "|",
        String.valueOf(c.address()),
        String.valueOf(c.usesTls()),
        file(c.tlsCert()),
        file(c.tlsKey()),
        file(c.tlsCa()),
        String.valueOf(c.tlsServerName()),
        c.apiKey() == null ? "-" : sha256(c.apiKey()));
  }

  private static String file(String path) {
    if (path == null) {
      return "-";
    }
    try {
      BasicFileAttributes a = Files.readAttributes(Path.of(path), BasicFileAttributes.class);
      return path + "@" + a.size() + "@" + a.lastModifiedTime().toMillis();
    } catch (IOException | RuntimeException e) {
      return path + "@?";
    }
  }

  private static String sha256(String secret) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  synchronized int size() {
    return byKey.size();
  }

  @Override
  public void close() {
    List<WorkflowServiceStubs> all;
    synchronized (this) {
      all = new ArrayList<>(byKey.values());
      byKey.clear();
    }
    all.forEach(WorkflowServiceStubs::shutdownNow);
  }
}
