package dev.lockstep.activities.helm;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * Helm 3's storage encoding of a release, as its Secrets driver reads and writes it: the release
 * JSON, gzipped (best compression), then base64. The Secret's {@code data.release} holds that text,
 * so the Kubernetes API shows it base64 once more. Decoding accepts an unzipped record too, as Helm
 * does.
 */
public final class ReleaseCodec {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final byte[] GZIP_MAGIC = {(byte) 0x1f, (byte) 0x8b, (byte) 0x08};

  private ReleaseCodec() {}

  /**
   * The release in a Secret's {@code data.release} value (as the API returns it: base64 of Helm's
   * own base64 text).
   */
  public static ObjectNode decodeSecretData(String secretData) {
    return decode(new String(base64(secretData), StandardCharsets.US_ASCII));
  }

  private static byte[] base64(String text) {
    try {
      return Base64.getDecoder().decode(text.trim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a Helm release record: " + e.getMessage(), e);
    }
  }

  /** The value for a Secret's {@code data.release} that Helm decodes as {@code release}. */
  public static String encodeSecretData(ObjectNode release) {
    return Base64.getEncoder().encodeToString(encode(release).getBytes(StandardCharsets.US_ASCII));
  }

  /** Helm's {@code decodeRelease}: base64, gunzip when it is gzip, JSON. */
  public static ObjectNode decode(String helmText) {
    byte[] bytes = base64(helmText);
    try {
      if (bytes.length > 3
          && bytes[0] == GZIP_MAGIC[0]
          && bytes[1] == GZIP_MAGIC[1]
          && bytes[2] == GZIP_MAGIC[2]) {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
          bytes = in.readAllBytes();
        }
      }
      return (ObjectNode) JSON.readTree(bytes);
    } catch (IOException e) {
      throw new IllegalArgumentException("not a Helm release record: " + e.getMessage(), e);
    } catch (ClassCastException e) {
      throw new IllegalArgumentException("not a Helm release record: not a JSON object", e);
    }
  }

  /** Helm's {@code encodeRelease}: JSON, gzip at best compression, base64. */
  public static String encode(ObjectNode release) {
    try {
      byte[] json = JSON.writeValueAsBytes(release);
      ByteArrayOutputStream buffer = new ByteArrayOutputStream();
      try (GZIPOutputStream out =
          new GZIPOutputStream(buffer) {
            {
              def.setLevel(Deflater.BEST_COMPRESSION);
            }
          }) {
        out.write(json);
      }
      return Base64.getEncoder().encodeToString(buffer.toByteArray());
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("release not serializable: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
