package dev.lockstep.console;

import io.micronaut.http.HttpHeaders;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.cookie.Cookie;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * Who is asking, and whether they may steer: the name an authenticating proxy put in a trusted
 * header, or the dev stack's fixed name; with neither (or {@code --read-only}) the console only
 * shows. Steering is a POST that must carry the token of its session's cookie (double submit) and
 * come from the console's own origin, so another site cannot steer with a visitor's proxy session.
 *
 * @param identity who asks, as recorded in the audit, or null when read-only
 * @param source where the name came from (a header's name, or {@code --dev-user})
 * @param readOnlyWhy why steering is off, or null when it is on
 */
record Access(String identity, String source, String readOnlyWhy) {
  /** The cookie that holds a session's steering token. */
  static final String CSRF_COOKIE = "lockstep_csrf";

  /** The form field that must repeat it. */
  static final String CSRF_FIELD = "csrf";

  private static final SecureRandom RANDOM = new SecureRandom();

  boolean canSteer() {
    return readOnlyWhy == null;
  }

  static Access of(ConsoleSettings settings, HttpHeaders headers) {
    if (settings.readOnly()) {
      return new Access(
          null, null, "this console is read-only (--read-only): steer with the lockstep CLI");
    }
    if (settings.devUser() != null) {
      return new Access(settings.devUser(), "--dev-user", null);
    }
    String user = clean(headers.get(settings.userHeader()));
    if (user != null) {
      return new Access(user, settings.userHeader(), null);
    }
    String email = clean(headers.get(settings.emailHeader()));
    if (email != null) {
      return new Access(email, settings.emailHeader(), null);
    }
    return new Access(
        null,
        null,
        "read-only: no one is signed in (no authenticating proxy set "
            + settings.userHeader()
            + " or "
            + settings.emailHeader()
            + ", and the console was not started with --dev-user)");
  }

  /** A header's name as a person could read it, or null when absent or not a plausible name. */
  private static String clean(String value) {
    if (value == null) {
      return null;
    }
    String v = value.trim();
    if (v.isEmpty() || v.length() > 256 || v.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
      return null;
    }
    return v;
  }

  /** The session's token from its cookie, or null when it has none (or a malformed one). */
  static String token(HttpRequest<?> request) {
    return request
        .getCookies()
        .findCookie(CSRF_COOKIE)
        .map(Cookie::getValue)
        .filter(v -> v.matches("[A-Za-z0-9_-]{43}"))
        .orElse(null);
  }

  static String newToken() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  static Cookie cookie(String token) {
    return Cookie.of(CSRF_COOKIE, token)
        .httpOnly(true)
        .path("/")
        .sameSite(io.micronaut.http.cookie.SameSite.Strict);
  }

  /**
   * Why a steering POST is refused as a possible cross-site request, or null when it is the
   * console's own form: the token it carries is its session's, and its Origin (else its Referer),
   * when present, is the console's own host.
   */
  static String forgeryProblem(HttpRequest<?> request, String formToken) {
    String token = token(request);
    if (token == null
        || formToken == null
        || !MessageDigest.isEqual(
            token.getBytes(StandardCharsets.US_ASCII),
            formToken.getBytes(StandardCharsets.US_ASCII))) {
      return "the form's security token is missing or out of date: reload the page and try again";
    }
    HttpHeaders headers = request.getHeaders();
    String from = headers.get(HttpHeaders.ORIGIN);
    if (from == null) {
      from = headers.get(HttpHeaders.REFERER);
    }
    if (from == null) {
      return null;
    }
    String authority;
    try {
      authority = URI.create(from.trim()).getRawAuthority();
    } catch (IllegalArgumentException e) {
      authority = null;
    }
    if (authority != null
        && (authority.equalsIgnoreCase(headers.get(HttpHeaders.HOST))
            || authority.equalsIgnoreCase(headers.get("X-Forwarded-Host")))) {
      return null;
    }
    return "the request came from another site (" + from + "): steer from the console's own page";
  }
}
