package dev.lockstep.starter;

import dev.lockstep.workflows.PayloadEncryption;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code lockstep codec-server --codec-keys PATHS [--listen HOST:PORT] [--cors-origin ORIGIN]...}:
 * the remote codec endpoint for Temporal's Web UI and CLI, with the keys the worker uses.
 */
@Command(
    name = "codec-server",
    mixinStandardHelpOptions = true,
    description = {
      "Serves Temporal's remote codec endpoints (POST /encode, POST /decode) with the payload",
      "keys, so the Temporal Web UI (Settings > Codec Server) and `temporal --codec-endpoint`",
      "show Lockstep's encrypted plans and statuses. Runs until stopped (Ctrl-C).",
      "Anyone who can reach it can decrypt: keep it on localhost or behind your own auth proxy."
    })
class CodecServerCommand extends Common {
  @Option(
      names = "--listen",
      paramLabel = "HOST:PORT",
      defaultValue = "127.0.0.1:8081",
      description = "Where to listen (default: ${DEFAULT-VALUE}).")
  String listen;

  @Option(
      names = "--cors-origin",
      paramLabel = "ORIGIN",
      description =
          "A Web UI origin allowed to call it from a browser, e.g. http://localhost:8233"
              + " (repeatable; default: LOCKSTEP_CODEC_CORS_ORIGINS, comma-separated).")
  List<String> corsOrigins = new ArrayList<>();

  /** Set by tests: counted down once listening, with the port in {@link #port}. */
  CountDownLatch listening;

  volatile int port;

  /** Set by tests: the server stops when this is counted down. */
  CountDownLatch stop = new CountDownLatch(1);

  @Override
  int run() {
    String keys = codecKeys();
    if (keys == null) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "codec-server needs the payload keys: --codec-keys PATHS or LOCKSTEP_CODEC_KEYS");
    }
    PayloadEncryption codec;
    try {
      codec = PayloadEncryption.fromFiles(keys, codecKeyId());
    } catch (IllegalArgumentException e) {
      throw new CliFailure(CliFailure.BAD_INPUT, e.getMessage(), e);
    }
    InetSocketAddress address = address(listen);
    List<String> origins = new ArrayList<>(corsOrigins);
    String env = System.getenv("LOCKSTEP_CODEC_CORS_ORIGINS");
    if (origins.isEmpty() && env != null && !env.isBlank()) {
      for (String o : env.split(",")) {
        if (!o.isBlank()) {
          origins.add(o.trim());
        }
      }
    }
    for (String origin : origins) {
      if (!origin.equals("*") && !origin.matches("https?://[^/\\s]+")) {
        throw new CliFailure(
            CliFailure.BAD_INPUT,
            "--cors-origin must be scheme://host[:port] (as a browser sends it), not '"
                + origin
                + "'");
      }
    }
    try (CodecServer server = CodecServer.start(address, codec, origins)) {
      port = server.port();
      out()
          .println(
              "lockstep codec-server on http://"
                  + address.getHostString()
                  + ":"
                  + port
                  + " (keys "
                  + codec.currentKeyId()
                  + " and older; CORS: "
                  + (origins.isEmpty() ? "none" : String.join(", ", origins))
                  + ")");
      out().flush();
      if (listening != null) {
        listening.countDown();
      }
      Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
      stop.await();
    } catch (IOException e) {
      throw new CliFailure(
          CliFailure.FAILED, "cannot listen on " + listen + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  private static InetSocketAddress address(String text) {
    int colon = text.lastIndexOf(':');
    try {
      int p = Integer.parseInt(text.substring(colon + 1));
      if (colon < 1 || p < 0 || p > 65535) {
        throw new NumberFormatException();
      }
      return new InetSocketAddress(text.substring(0, colon), p);
    } catch (NumberFormatException e) {
      throw new CliFailure(
          CliFailure.BAD_INPUT,
          "--listen must be HOST:PORT, e.g. 127.0.0.1:8081, not '" + text + "'");
    }
  }
}
