package dev.lockstep.console;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** Escaping: everything the console shows from an upgrade is text, never markup. */
final class Html {
  private Html() {}

  /** {@code value} as HTML text or attribute value; null is empty. */
  static String esc(Object value) {
    if (value == null) {
      return "";
    }
    String s = String.valueOf(value);
    StringBuilder out = new StringBuilder(s.length() + 16);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> out.append(c);
      }
    }
    return out.toString();
  }

  /** A path segment, percent-encoded. */
  static String seg(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** {@code WAITING_FOR_RESUME} as words: {@code waiting for resume}. */
  static String words(Object constant) {
    return constant == null
        ? "unknown"
        : String.valueOf(constant).toLowerCase(Locale.ROOT).replace('_', ' ');
  }
}
