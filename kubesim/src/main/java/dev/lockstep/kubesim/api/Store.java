package dev.lockstep.kubesim.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The object store: fabric8's mock server in CRUD mode, addressed by type, namespace and name.
 * Everything above it (admission, patches, selectors, subresources) is kubesim's.
 */
public final class Store {
  static final ObjectMapper JSON = new ObjectMapper();

  private final KubernetesCrudDispatcher crud = new KubernetesCrudDispatcher();

  KubernetesCrudDispatcher crud() {
    return crud;
  }

  /** The canonical path of an object, or of the collection when {@code name} is null. */
  public static String path(ResourceType type, String namespace, String name) {
    StringBuilder path = new StringBuilder();
    path.append(type.group().isEmpty() ? "/api/" : "/apis/" + type.group() + "/");
    path.append(type.version());
    if (type.namespaced() && namespace != null) {
      path.append("/namespaces/").append(namespace);
    }
    path.append('/').append(type.plural());
    if (name != null) {
      path.append('/').append(name);
    }
    return path.toString();
  }

  public Optional<ObjectNode> get(ResourceType type, String namespace, String name) {
    MockResponse response = crud.handleGet(path(type, namespace, name));
    if (response.code() != 200) {
      return Optional.empty();
    }
    return Optional.of(parse(body(response)));
  }

  /** All objects of a type, in one namespace or (namespace null) in all. */
  public List<ObjectNode> list(ResourceType type, String namespace) {
    return listWithVersion(type, namespace).items();
  }

  /** A list and the store's resourceVersion at the time it was read. */
  public record Listing(List<ObjectNode> items, String resourceVersion) {}

  Listing listWithVersion(ResourceType type, String namespace) {
    MockResponse response = crud.handleGet(path(type, namespace, null));
    ObjectNode list = parse(body(response));
    List<ObjectNode> result = new ArrayList<>();
    list.path("items").forEach(item -> result.add((ObjectNode) item));
    return new Listing(result, list.path("metadata").path("resourceVersion").asText("0"));
  }

  ObjectNode create(ResourceType type, String namespace, ObjectNode object) {
    return write(HttpMethod.POST, path(type, namespace, null), object, type);
  }

  ObjectNode update(ResourceType type, String namespace, String name, ObjectNode object) {
    return write(HttpMethod.PUT, path(type, namespace, name), object, type);
  }

  ObjectNode updateStatus(ResourceType type, String namespace, String name, ObjectNode object) {
    return write(HttpMethod.PUT, path(type, namespace, name) + "/status", object, type);
  }

  /** Removes an object; returns false when it was not there. */
  boolean delete(ResourceType type, String namespace, String name) {
    return crud.handleDelete(path(type, namespace, name)).code() == 200;
  }

  private ObjectNode write(HttpMethod method, String path, ObjectNode object, ResourceType type) {
    byte[] bytes = object.toString().getBytes(StandardCharsets.UTF_8);
    RecordedRequest request =
        new RecordedRequest(
            "HTTP/1.1",
            method,
            path,
            Headers.builder().add("Content-Type", "application/json").build(),
            new Buffer(bytes));
    MockResponse response =
        method == HttpMethod.POST ? crud.handleCreate(request) : crud.handleUpdate(request);
    int code = response.code();
    String name = object.path("metadata").path("name").asText();
    if (code == 409) {
      throw method == HttpMethod.POST
          ? ApiException.alreadyExists(type, name)
          : ApiException.conflict(type, name);
    }
    if (code == 404) {
      throw ApiException.notFound(type, name);
    }
    if (code >= 300) {
      throw new ApiException(code, "Invalid", body(response));
    }
    return parse(body(response));
  }

  private static String body(MockResponse response) {
    return response.getBody() == null ? "" : response.getBody().readUtf8();
  }

  static ObjectNode parse(String json) {
    try {
      return (ObjectNode) JSON.readTree(json);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
