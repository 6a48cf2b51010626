/**
 * The errors a CLI answers without a stack trace: a bad option value and a malformed command line
 * (exit 2), and a run that stopped for a reason the user can act on, e.g. training that diverged
 * (exit 1). Anything else is a bug (see runCli).
 */

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

/**
 * A run that could not go on although its input was valid: training produced NaN or Inf. The
 * message says at which step and what, and what was kept; the CLI exits 1 without a stack.
 */
export class RunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunError';
  }
}

/**
 * A file of a run that cannot be used as it is: a history.csv that disagrees with the checkpoint,
 * a config.json that is not a run's settings. Bad input (exit 2); the message starts with the file.
 */
export class RunFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'RunFileError';
  }
}
