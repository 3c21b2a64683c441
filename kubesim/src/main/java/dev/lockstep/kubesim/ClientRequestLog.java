package dev.lockstep.kubesim;

import io.fabric8.kubernetes.client.http.AsyncBody;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.http.Interceptor;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * A {@link RequestLog} kept by a client instead of the server: a fabric8 interceptor that records
 * every request its client sends and the status answered. Against a real API server (which keeps no
 * log a test can read) it answers the same questions as kubesim's own log for the requests of one
 * client, e.g. "did the worker write anything?". Add it with {@code new
 * KubernetesClientBuilder().withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("log",
 * log))}.
 */
public final class ClientRequestLog implements Interceptor {
  private final RequestLog log;

  public ClientRequestLog(int capacity) {
    this.log = new RequestLog(capacity);
  }

  /** What the client sent, in the order answered. */
  public RequestLog log() {
    return log;
  }

  @Override
  public void after(
      HttpRequest request,
      HttpResponse<?> response,
      AsyncBody.Consumer<List<ByteBuffer>> consumer) {
    URI uri = request.uri();
    String query = uri.getRawQuery() == null ? "" : uri.getRawQuery();
    String pathAndQuery = uri.getRawPath() + (query.isEmpty() ? "" : "?" + query);
    Parsed parsed = Parsed.of(uri.getRawPath());
    boolean watch = query.contains("watch=true") || query.contains("watch=1");
    String method = request.method();
    String verb =
        parsed == null
            ? method.toLowerCase()
            : switch (method) {
              case "GET" -> watch ? "watch" : parsed.name.isEmpty() ? "list" : "get";
              case "POST" -> "create";
              case "PUT" -> "update";
              case "PATCH" -> "patch";
              case "DELETE" -> parsed.name.isEmpty() ? "deletecollection" : "delete";
              default -> method.toLowerCase();
            };
    log.add(
        new RequestRecord(
            log.nextSeq(),
            Instant.now(),
            method,
            pathAndQuery,
            verb,
            parsed == null ? "" : parsed.resource,
            parsed == null ? "" : parsed.namespace,
            parsed == null ? "" : parsed.name,
            response.code(),
            0,
            "",
            query.contains("dryRun="),
            false));
  }

  /** {@code /api/v1/namespaces/NS/pods/NAME/log}: resource "pods/log", namespace, name. */
  private record Parsed(String resource, String namespace, String name) {
    static Parsed of(String path) {
      List<String> parts = Arrays.stream(path.split("/")).filter(s -> !s.isEmpty()).toList();
      int i;
      if (parts.size() >= 3 && parts.get(0).equals("api")) {
        i = 2;
      } else if (parts.size() >= 4 && parts.get(0).equals("apis")) {
        i = 3;
      } else {
        return null;
      }
      String namespace = "";
      if (parts.get(i).equals("namespaces") && parts.size() >= i + 3) {
        namespace = parts.get(i + 1);
        i += 2;
      }
      String resource = parts.get(i);
      String name = parts.size() > i + 1 ? parts.get(i + 1) : "";
      if (parts.size() > i + 2) {
        resource = resource + "/" + parts.get(i + 2);
      }
      if (resource.equals("namespaces") && !name.isEmpty() && namespace.isEmpty()) {
        return new Parsed(resource, "", name);
      }
      // pods/NAME:PORT/proxy/...: the object is the pod, without the port.
      int colon = name.indexOf(':');
      return new Parsed(resource, namespace, colon < 0 ? name : name.substring(0, colon));
    }
  }
}
