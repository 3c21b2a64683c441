package dev.lockstep.kubesim.hollow;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.Signature;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Base64;

/**
 * A self-signed serving certificate for the hollow nodes' kubelet API, made in memory at start (as
 * a kubelet without {@code --tls-cert-file} makes its own). An API server started without {@code
 * --kubelet-certificate-authority}, as the kit's is, does not verify it. The JDK cannot write a
 * certificate through a public API, and Vert.x's own self-signed one needs BouncyCastle or JDK
 * internals, so the few DER structures of an X.509 v1 certificate are written here.
 *
 * @param certificatePem the certificate, PEM
 * @param privateKeyPem its RSA key, PKCS#8 PEM
 */
public record ServingCertificate(String certificatePem, String privateKeyPem) {
  private static final byte[] SHA256_WITH_RSA = {
    0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x0b
  };
  private static final byte[] COMMON_NAME = {0x55, 0x04, 0x03};
  private static final DateTimeFormatter UTC_TIME = DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'");

  /** A new key and a certificate for {@code commonName}, valid from an hour ago for ten years. */
  public static ServingCertificate create(String commonName) {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048);
      KeyPair keys = generator.generateKeyPair();
      byte[] algorithm = seq(oid(SHA256_WITH_RSA), new byte[] {0x05, 0x00});
      byte[] name =
          seq(set(seq(oid(COMMON_NAME), tlv(0x0c, commonName.getBytes(StandardCharsets.UTF_8)))));
      ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
      byte[] validity =
          seq(
              tlv(0x17, UTC_TIME.format(now.minusHours(1)).getBytes(StandardCharsets.US_ASCII)),
              tlv(0x17, UTC_TIME.format(now.plusYears(10)).getBytes(StandardCharsets.US_ASCII)));
      byte[] serial =
          tlv(0x02, new BigInteger(63, new SecureRandom()).add(BigInteger.ONE).toByteArray());
      byte[] tbs = seq(serial, algorithm, name, validity, name, keys.getPublic().getEncoded());
      Signature signer = Signature.getInstance("SHA256withRSA");
      signer.initSign(keys.getPrivate());
      signer.update(tbs);
      byte[] signature = signer.sign();
      byte[] bits = new byte[signature.length + 1];
      System.arraycopy(signature, 0, bits, 1, signature.length);
      byte[] certificate = seq(tbs, algorithm, tlv(0x03, bits));
      return new ServingCertificate(
          pem("CERTIFICATE", certificate), pem("PRIVATE KEY", keys.getPrivate().getEncoded()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("no serving certificate: " + e.getMessage(), e);
    }
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }

  private static byte[] oid(byte[] encoded) {
    return tlv(0x06, encoded);
  }

  private static byte[] seq(byte[]... parts) {
    return tlv(0x30, parts);
  }

  private static byte[] set(byte[]... parts) {
    return tlv(0x31, parts);
  }

  private static byte[] tlv(int tag, byte[]... parts) {
    ByteArrayOutputStream content = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      content.writeBytes(part);
    }
    int length = content.size();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(tag);
    if (length < 0x80) {
      out.write(length);
    } else {
      byte[] digits = BigInteger.valueOf(length).toByteArray();
      int skip = digits[0] == 0 ? 1 : 0;
      out.write(0x80 | (digits.length - skip));
      out.write(digits, skip, digits.length - skip);
    }
    out.writeBytes(content.toByteArray());
    return out.toByteArray();
  }
}
