package dev.lockstep.starter;

/** A command that ends with an exit code and one line saying what to do next. */
final class CliFailure extends RuntimeException {
  static final int FAILED = 1;
  static final int BAD_INPUT = 2;
  static final int REFUSED = 3;
  static final int UNREACHABLE = 4;

  private final int code;

  CliFailure(int code, String message) {
    super(message);
    this.code = code;
  }

  CliFailure(int code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  int code() {
    return code;
  }
}
