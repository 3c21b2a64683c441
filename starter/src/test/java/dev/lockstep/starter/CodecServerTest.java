package dev.lockstep.starter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.JsonFormat;
import dev.lockstep.workflows.PayloadEncryption;
import io.temporal.api.common.v1.Payload;
import io.temporal.api.common.v1.Payloads;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The remote codec endpoint as the Temporal Web UI calls it. */
class CodecServerTest {
  private static final String UI = "http://localhost:8233";

  private static byte[] key(int seed) {
    byte[] k = new byte[32];
    java.util.Arrays.fill(k, (byte) seed);
    return k;
  }

  private static final Payload CLEAR =
      Payload.newBuilder()
          .putMetadata("encoding", ByteString.copyFromUtf8("json/plain"))
          .setData(ByteString.copyFromUtf8("{\"identity\":\"alice\",\"reason\":\"CVE-1\"}"))
          .build();

  private static HttpResponse<String> post(int port, String path, String body, String origin)
      throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .header("Content-Type", "application/json")
            .header("X-Namespace", "default")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (origin != null) {
      request.header("Origin", origin);
    }
    return HttpClient.newHttpClient().send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void decodesWhatTheWorkerEncryptedAndAnswersTheUisPreflight() throws Exception {
    PayloadEncryption worker = new PayloadEncryption(Map.of("2026-11", key(1)), null);
    PayloadEncryption rotated =
        new PayloadEncryption(Map.of("2026-11", key(1), "2026-12", key(2)), null);
    Payloads sealed = Payloads.newBuilder().addAllPayloads(worker.encode(List.of(CLEAR))).build();
    try (CodecServer server =
        CodecServer.start(new InetSocketAddress("127.0.0.1", 0), rotated, List.of(UI))) {
      String body = JsonFormat.printer().print(sealed);
      assertThat(body).doesNotContain("alice");

      HttpResponse<String> decoded = post(server.port(), "/decode", body, UI);
      assertEquals(200, decoded.statusCode());
      assertEquals(UI, decoded.headers().firstValue("Access-Control-Allow-Origin").orElse(null));
      Payloads.Builder back = Payloads.newBuilder();
      JsonFormat.parser().merge(decoded.body(), back);
      assertThat(back.getPayloadsList()).containsExactly(CLEAR);

      // The namespace-templated path of `temporal --codec-endpoint http://host/{namespace}`.
      HttpResponse<String> encoded =
          post(
              server.port(),
              "/default/encode",
              JsonFormat.printer().print(Payloads.newBuilder().addPayloads(CLEAR)),
              null);
      assertEquals(200, encoded.statusCode());
      assertThat(encoded.body()).doesNotContain("CVE-1");
      Payloads.Builder again = Payloads.newBuilder();
      JsonFormat.parser().merge(encoded.body(), again);
      assertThat(rotated.decode(again.getPayloadsList())).containsExactly(CLEAR);

      HttpResponse<String> preflight =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + server.port() + "/decode"))
                      .header("Origin", UI)
                      .header("Access-Control-Request-Method", "POST")
                      .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertEquals(204, preflight.statusCode());
      assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers").orElse(""))
          .contains("X-Namespace");

      HttpResponse<String> stranger = post(server.port(), "/decode", body, "http://evil.example");
      assertThat(stranger.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
      assertEquals(404, post(server.port(), "/keys", "{}", null).statusCode());
      assertEquals(400, post(server.port(), "/decode", "not json", null).statusCode());
    }
  }

  @Test
  void aPayloadOfAnUnknownKeyIsA400NamingTheKey() throws Exception {
    PayloadEncryption other = new PayloadEncryption(Map.of("old", key(3)), null);
    Payloads sealed = Payloads.newBuilder().addAllPayloads(other.encode(List.of(CLEAR))).build();
    try (CodecServer server =
        CodecServer.start(
            new InetSocketAddress("127.0.0.1", 0),
            new PayloadEncryption(Map.of("new", key(4)), null),
            List.of())) {
      HttpResponse<String> r =
          post(server.port(), "/decode", JsonFormat.printer().print(sealed), null);
      assertEquals(400, r.statusCode());
      assertThat(r.body()).contains("codec key 'old'");
    }
  }
}
