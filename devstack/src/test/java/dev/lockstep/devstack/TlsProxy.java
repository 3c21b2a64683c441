package dev.lockstep.devstack;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * A TLS-terminating proxy in front of a plaintext Temporal, as a production Temporal (or Temporal
 * Cloud) presents itself: TLS with ALPN {@code h2}, a client certificate required and checked
 * against its CA; what comes through the handshake is relayed byte for byte to the server on
 * loopback.
 */
final class TlsProxy implements AutoCloseable {
  private final SSLServerSocket server;
  private final int targetPort;
  private final List<Socket> open = new CopyOnWriteArrayList<>();

  private TlsProxy(SSLServerSocket server, int targetPort) {
    this.server = server;
    this.targetPort = targetPort;
  }

  static TlsProxy start(SSLContext context, int targetPort) throws IOException {
    SSLServerSocket server =
        (SSLServerSocket)
            context
                .getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
    SSLParameters parameters = server.getSSLParameters();
    parameters.setNeedClientAuth(true);
    parameters.setApplicationProtocols(new String[] {"h2"});
    server.setSSLParameters(parameters);
    TlsProxy proxy = new TlsProxy(server, targetPort);
    Thread accept = new Thread(proxy::accept, "tls-proxy-accept");
    accept.setDaemon(true);
    accept.start();
    return proxy;
  }

  int port() {
    return server.getLocalPort();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        SSLSocket client = (SSLSocket) server.accept();
        open.add(client);
        Thread connection = new Thread(() -> serve(client), "tls-proxy-connection");
        connection.setDaemon(true);
        connection.start();
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void serve(SSLSocket client) {
    try {
      client.startHandshake(); // a missing or untrusted client certificate fails here
      Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
      open.add(upstream);
      Thread up = new Thread(() -> pump(client, upstream), "tls-proxy-up");
      up.setDaemon(true);
      up.start();
      pump(upstream, client);
    } catch (IOException e) {
      closeQuietly(client);
    }
  }

  private static void pump(Socket from, Socket to) {
    byte[] buffer = new byte[16 * 1024];
    try (InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        out.write(buffer, 0, n);
        out.flush();
      }
    } catch (IOException e) {
      // one side closed
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    open.forEach(TlsProxy::closeQuietly);
  }
}
