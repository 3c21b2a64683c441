package dev.lockstep.console;

/**
 * How a phase or a unit's state looks: a colour class and a symbol, always beside the state's name
 * in words (colour alone says nothing to a screen reader or a colour-blind reader).
 */
enum Tone {
  OK("ok", "\u2713"),
  ACTIVE("active", "\u25B6"),
  WAITING("waiting", "\u23F8"),
  BAD("bad", "\u2717"),
  QUIET("quiet", "\u2022");

  final String css;
  final String symbol;

  Tone(String css, String symbol) {
    this.css = css;
    this.symbol = symbol;
  }

  /** The tone of a phase as {@code status} and {@code list} name it. */
  static Tone ofPhase(String phase) {
    if (phase == null) {
      return QUIET;
    }
    return switch (phase) {
      case "COMPLETED" -> OK;
      case "WAITING_FOR_RESUME", "PAUSED", "HELD" -> WAITING;
      case "FAILED",
          "ROLLED_BACK",
          "CANCELLED",
          "ABANDONED",
          "ROLLING_BACK",
          "TERMINATED",
          "TIMED_OUT" ->
          BAD;
      case "PENDING" -> QUIET;
      default -> ACTIVE;
    };
  }

  /** The tone of a unit's state. */
  static Tone ofUnit(String state) {
    if (state == null) {
      return QUIET;
    }
    return switch (state) {
      case "UPGRADED" -> OK;
      case "UPGRADING", "VERIFYING" -> ACTIVE;
      case "FAILED", "ROLLING_BACK", "ROLLED_BACK" -> BAD;
      default -> QUIET;
    };
  }

  /** The tone of a step's state. */
  static Tone ofStep(String state) {
    if (state == null) {
      return QUIET;
    }
    return switch (state) {
      case "DONE" -> OK;
      case "RUNNING" -> ACTIVE;
      case "FAILED" -> BAD;
      default -> QUIET;
    };
  }

  /** A badge: the symbol and the words, coloured. */
  String badge(String constant) {
    return "<span class=\"badge "
        + css
        + "\"><span aria-hidden=\"true\">"
        + symbol
        + "</span> "
        + Html.esc(Html.words(constant))
        + "</span>";
  }
}
