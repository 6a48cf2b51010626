/** The two errors a CLI reports with exit code 2: a bad option value, and a malformed command line. */

/** A bad value for an option; the message starts with the option's name (`--steps: ...`). */
export class ConfigError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`--${option}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** An unknown option, an option that does not apply to the command, a missing value. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
