package dev.lockstep.workflows;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.temporal.api.common.v1.Payload;
import io.temporal.common.converter.CodecDataConverter;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.payload.codec.PayloadCodec;
import io.temporal.payload.codec.PayloadCodecException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM encryption of every payload Lockstep gives Temporal (plans, identities, reasons, hook
 * commands, statuses), so Temporal stores them only encrypted. Client-side, in the data converter
 * of the worker and the CLI; no workflow code uses it.
 *
 * <p>An encrypted payload is the original payload (metadata and data) serialized, encrypted with a
 * random 96-bit nonce, as {@code nonce || ciphertext+tag}; its own metadata says {@code encoding:
 * binary/encrypted}, the cipher and the key id, which is also authenticated (GCM additional data).
 * Payloads without that encoding (written before encryption was turned on) pass through as they
 * are, so runs started in clear text finish once it is on.
 *
 * <p>Keys: named by id; new payloads are encrypted with the declared key, else the last id in sort
 * order (name them by date, e.g. {@code 2026-11}); every payload decrypts with the key its metadata
 * names. Rotation is adding a key: payloads written before it keep decrypting.
 */
public final class PayloadEncryption implements PayloadCodec {
  public static final String ENCODING = "binary/encrypted";
  public static final String CIPHER = "AES/GCM/NoPadding";
  static final String METADATA_ENCODING = "encoding";
  static final String METADATA_CIPHER = "encryption-cipher";
  static final String METADATA_KEY_ID = "encryption-key-id";
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;

  private final Map<String, SecretKeySpec> keys;
  private final String current;
  private final SecureRandom random = new SecureRandom();

  /**
   * @param keys key id to 32 bytes
   * @param current the id of the key that encrypts new payloads; null for the last id in order
   */
  public PayloadEncryption(Map<String, byte[]> keys, String current) {
    if (keys.isEmpty()) {
      throw new IllegalArgumentException("no codec keys given");
    }
    TreeMap<String, SecretKeySpec> sorted = new TreeMap<>();
    keys.forEach(
        (id, key) -> {
          if (key.length != 32) {
            throw new IllegalArgumentException(
                "codec key '" + id + "' has " + key.length + " bytes; AES-256 needs 32");
          }
          sorted.put(id, new SecretKeySpec(key, "AES"));
        });
    if (current != null && !sorted.containsKey(current)) {
      throw new IllegalArgumentException(
          "codec key id '" + current + "' is not among the keys given: " + sorted.keySet());
    }
    this.keys = sorted;
    this.current = current != null ? current : sorted.lastKey();
  }

  /** The id of the key new payloads are encrypted with. */
  public String currentKeyId() {
    return current;
  }

  /**
   * Reads keys from files and directories (a mounted Kubernetes Secret: one file per key, the file
   * name its id; hidden entries such as {@code ..data} are skipped). A file holds the key as base64
   * of 32 bytes (what {@code openssl rand -base64 32} prints) or as the 32 raw bytes.
   *
   * @param paths comma-separated files and directories ({@code LOCKSTEP_CODEC_KEYS}, {@code
   *     --codec-keys})
   * @param current the key id for new payloads ({@code LOCKSTEP_CODEC_KEY_ID}, {@code
   *     --codec-key-id}), or null
   * @throws IllegalArgumentException one line naming the file and what is wrong with it
   */
  public static PayloadEncryption fromFiles(String paths, String current) {
    Map<String, byte[]> keys = new TreeMap<>();
    for (String part : paths.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      Path path = Path.of(part.trim());
      if (Files.isDirectory(path)) {
        try (Stream<Path> files = Files.list(path)) {
          for (Path file : files.sorted().toList()) {
            String name = file.getFileName().toString();
            if (!name.startsWith(".") && Files.isRegularFile(file)) {
              keys.put(name, read(file));
            }
          }
        } catch (IOException e) {
          throw new IllegalArgumentException("cannot list codec keys in " + path + ": " + e, e);
        }
      } else if (Files.isRegularFile(path)) {
        keys.put(path.getFileName().toString(), read(path));
      } else {
        throw new IllegalArgumentException("codec keys: no file or directory " + path);
      }
    }
    if (keys.isEmpty()) {
      throw new IllegalArgumentException("codec keys: no key file in " + paths);
    }
    return new PayloadEncryption(keys, current == null || current.isBlank() ? null : current);
  }

  private static byte[] read(Path file) {
    byte[] raw;
    try {
      raw = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read codec key " + file + ": " + e, e);
    }
    if (raw.length == 32) {
      return raw;
    }
    String text = new String(raw, StandardCharsets.US_ASCII).trim();
    try {
      byte[] decoded = Base64.getDecoder().decode(text);
      if (decoded.length == 32) {
        return decoded;
      }
    } catch (IllegalArgumentException notBase64) {
      // said below
    }
    // Never echo the file's content: it is a key.
    throw new IllegalArgumentException(
        "codec key "
            + file
            + " is neither 32 bytes nor base64 of 32 bytes (make one with `openssl rand -base64"
            + " 32`)");
  }

  /** The default data converter with this codec behind it. */
  public DataConverter dataConverter() {
    return new CodecDataConverter(DefaultDataConverter.STANDARD_INSTANCE, List.of(this));
  }

  /** The data converter for a key setting: plain when {@code paths} is null or blank. */
  public static DataConverter dataConverter(String paths, String current) {
    return paths == null || paths.isBlank()
        ? DefaultDataConverter.STANDARD_INSTANCE
        : fromFiles(paths, current).dataConverter();
  }

  @Override
  public List<Payload> encode(List<Payload> payloads) {
    List<Payload> out = new ArrayList<>(payloads.size());
    for (Payload p : payloads) {
      out.add(encrypt(p));
    }
    return out;
  }

  @Override
  public List<Payload> decode(List<Payload> payloads) {
    List<Payload> out = new ArrayList<>(payloads.size());
    for (Payload p : payloads) {
      out.add(decrypt(p));
    }
    return out;
  }

  private Payload encrypt(Payload payload) {
    byte[] nonce = new byte[NONCE_BYTES];
    random.nextBytes(nonce);
    try {
      Cipher cipher = Cipher.getInstance(CIPHER);
      cipher.init(Cipher.ENCRYPT_MODE, keys.get(current), new GCMParameterSpec(TAG_BITS, nonce));
      cipher.updateAAD(current.getBytes(StandardCharsets.UTF_8));
      byte[] sealed = cipher.doFinal(payload.toByteArray());
      return Payload.newBuilder()
          .putMetadata(METADATA_ENCODING, utf8(ENCODING))
          .putMetadata(METADATA_CIPHER, utf8(CIPHER))
          .putMetadata(METADATA_KEY_ID, utf8(current))
          .setData(
              ByteString.copyFrom(
                  ByteBuffer.allocate(nonce.length + sealed.length).put(nonce).put(sealed).array()))
          .build();
    } catch (GeneralSecurityException e) {
      throw new PayloadCodecException("cannot encrypt a payload: " + e.getMessage(), e);
    }
  }

  private Payload decrypt(Payload payload) {
    ByteString encoding = payload.getMetadataMap().get(METADATA_ENCODING);
    if (encoding == null || !ENCODING.equals(encoding.toStringUtf8())) {
      return payload; // written before encryption was on
    }
    ByteString id = payload.getMetadataMap().get(METADATA_KEY_ID);
    String keyId = id == null ? "" : id.toStringUtf8();
    SecretKeySpec key = keys.get(keyId);
    if (key == null) {
      throw new PayloadCodecException(
          "a payload is encrypted with codec key '"
              + keyId
              + "', which is not among the keys given ("
              + String.join(", ", keys.keySet())
              + "): add it to LOCKSTEP_CODEC_KEYS (--codec-keys)");
    }
    byte[] data = payload.getData().toByteArray();
    if (data.length < NONCE_BYTES + TAG_BITS / 8) {
      throw new PayloadCodecException("an encrypted payload is too short to be one");
    }
    try {
      Cipher cipher = Cipher.getInstance(CIPHER);
      cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, data, 0, NONCE_BYTES));
      cipher.updateAAD(keyId.getBytes(StandardCharsets.UTF_8));
      byte[] plain = cipher.doFinal(data, NONCE_BYTES, data.length - NONCE_BYTES);
      return Payload.parseFrom(plain);
    } catch (GeneralSecurityException | InvalidProtocolBufferException e) {
      throw new PayloadCodecException(
          "cannot decrypt a payload with codec key '"
              + keyId
              + "' (a different key under the same id?): "
              + e.getMessage(),
          e);
    }
  }

  private static ByteString utf8(String text) {
    return ByteString.copyFromUtf8(text);
  }
}
