package dev.lockstep.kubesim.api;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The OpenAPI documents kubectl downloads before {@code apply} and {@code create} (to validate what
 * it sends): {@code /openapi/v2}, as protobuf (what client-go asks for and can only parse) or JSON,
 * and the {@code /openapi/v3} index. They describe no types, so kubectl's client-side schema
 * validation, finding no schema for a kind, lets the object through, as it does for a kind a server
 * does not describe; and they declare no {@code fieldValidation} parameter, so kubectl does not ask
 * for server-side field validation, which kubesim does not do.
 */
public final class OpenApi {
  static final String PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

  private OpenApi() {}

  /** A document and its content type. */
  public record Document(String contentType, byte[] body) {}

  /** The document served at a path, if it is an OpenAPI one. */
  public static Optional<Document> document(String path, String accept) {
    String p =
        path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
    if (p.equals("/openapi/v2")) {
      if (accept != null && accept.contains("protobuf")) {
        return Optional.of(new Document(PROTOBUF, v2Protobuf()));
      }
      String json =
          "{\"swagger\":\"2.0\",\"info\":{\"title\":\"Kubernetes\",\"version\":\""
              + Discovery.VERSION
              + "\"},\"paths\":{},\"definitions\":{}}";
      return Optional.of(new Document("application/json", bytes(json)));
    }
    if (p.equals("/openapi/v3")) {
      return Optional.of(new Document("application/json", bytes("{\"paths\":{}}")));
    }
    return Optional.empty();
  }

  /**
   * gnostic's {@code openapi_v2.Document}: swagger (1) "2.0", info (2) {title (1), version (2)},
   * empty paths (8) and definitions (9).
   */
  static byte[] v2Protobuf() {
    ByteArrayOutputStream info = new ByteArrayOutputStream();
    field(info, 1, bytes("Kubernetes"));
    field(info, 2, bytes(Discovery.VERSION));
    ByteArrayOutputStream document = new ByteArrayOutputStream();
    field(document, 1, bytes("2.0"));
    field(document, 2, info.toByteArray());
    field(document, 8, new byte[0]);
    field(document, 9, new byte[0]);
    return document.toByteArray();
  }

  /** A length-delimited protobuf field. */
  private static void field(ByteArrayOutputStream out, int number, byte[] value) {
    varint(out, (number << 3) | 2);
    varint(out, value.length);
    out.writeBytes(value);
  }

  private static void varint(ByteArrayOutputStream out, int value) {
    while ((value & ~0x7f) != 0) {
      out.write((value & 0x7f) | 0x80);
      value >>>= 7;
    }
    out.write(value);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
