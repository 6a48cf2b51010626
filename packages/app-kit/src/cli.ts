/**
 * Command dispatch for a multi-command CLI: `prog <command> [options]`, with `--help` for the
 * program and for each command, options parsed strictly (node:util parseArgs) and checked against
 * what the command accepts, and the exit codes users and scripts rely on: 0 done; 2 bad input (a
 * bad option value or command line, or a file the definition's `inputErrors` refuse, such as a
 * damaged checkpoint), in one line that names the option or file; 1 a run that stopped (RunError,
 * one line) or a bug. A bug prints one line saying what failed, where, and where to report it;
 * the stack only with SIMPLEX_DEBUG=1 in the environment (which adds it to every error).
 */
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, RunError, RunFileError, UsageError } from './errors.js';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
export type OptionValues = Record<string, string | boolean | undefined>;

export interface Command {
  /** Text printed by `<command> --help`. */
  help: string;
  /** Long option names (without --) this command accepts; `help` is always accepted. */
  options: readonly string[];
  run: (values: OptionValues) => Promise<void> | void;
}

export interface CliDefinition {
  /** Program name, used in messages. */
  name: string;
  /** Text printed by `--help` and on a missing or unknown command. */
  help: string;
  /** Every option any command takes (each command lists the ones it accepts). */
  spec: OptionSpec;
  commands: Record<string, Command>;
  /**
   * More error classes that mean bad input rather than a bug (exit 2, their message in one line),
   * e.g. nn's CheckpointError for a damaged checkpoint.
   */
  inputErrors?: ReadonlyArray<abstract new (...args: never[]) => Error>;
  /** Where to report a bug, shown with an unexpected error (default: the project's issues). */
  reportTo?: string;
}

/** Where bugs go unless a CLI says otherwise. */
export const REPORT_TO = "the simplex-vq repository's issues";

/**
 * `--steps -3` as `--steps=-3`: parseArgs refuses a value that starts with '-' as ambiguous, so a
 * negative number would never reach the option's validator, which says what values it takes.
 */
function joinNegativeValues(spec: OptionSpec, argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = /^--([^=]+)$/.exec(argv[i]!)?.[1];
    const next = argv[i + 1];
    if (name !== undefined && spec[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity$|inf$|NaN$)/i.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(argv[i]!);
  }
  return out;
}

/** Parses `argv` for `command`: strict, no positionals, only the command's options. */
export function parseCommandLine(def: CliDefinition, command: string, argv: string[]): OptionValues {
  let values: OptionValues;
  try {
    ({ values } = parseArgs({ args: joinNegativeValues(def.spec, argv), options: { ...def.spec, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }) as { values: OptionValues });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const accepted = def.commands[command]!.options;
  for (const key of Object.keys(values)) {
    if (key !== 'help' && !accepted.includes(key)) throw new UsageError(`option --${key} does not apply to '${command}'`);
  }
  return values;
}

interface Streams {
  out: (s: string) => void;
  err: (s: string) => void;
}

const STD: Streams = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function runCli(def: CliDefinition, argv: string[], io: Streams = STD, env: Record<string, string | undefined> = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.out(def.help);
    return command ? 0 : 2;
  }
  const cmd = def.commands[command];
  if (!cmd) {
    io.err(`${def.name}: unknown command '${command}'; the commands are ${Object.keys(def.commands).join(', ')} (see '${def.name} --help')\n`);
    return 2;
  }
  try {
    const values = parseCommandLine(def, command, rest);
    if (values.help) {
      io.out(cmd.help);
      return 0;
    }
    await cmd.run(values);
    return 0;
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const debug = env.SIMPLEX_DEBUG !== undefined && env.SIMPLEX_DEBUG !== '' && env.SIMPLEX_DEBUG !== '0';
    const stack = debug && e.stack ? `${e.stack}\n` : '';
    const prefix = `${def.name} ${command}:`;
    if (e instanceof UsageError || e instanceof ConfigError) {
      io.err(`${prefix} ${oneLine(e.message)} (see '${def.name} ${command} --help')\n${stack}`);
      return 2;
    }
    if (e instanceof RunFileError || (def.inputErrors ?? []).some((c) => e instanceof c)) {
      io.err(`${prefix} ${oneLine(e.message)}\n${stack}`);
      return 2;
    }
    if (e instanceof RunError) {
      io.err(`${prefix} ${oneLine(e.message)}\n${stack}`);
      return 1;
    }
    const where = whereThrown(e);
    io.err(
      `${prefix} unexpected error: ${oneLine(`${e.name}: ${e.message}`)}${where ? ` (at ${where})` : ''}; this is a bug, please report it with the command line to ${def.reportTo ?? REPORT_TO}${debug ? '' : ' (SIMPLEX_DEBUG=1 prints the stack)'}\n${stack}`,
    );
    return 1;
  }
}

/** A message on one line: a CLI's answer to bad input is one line. */
const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();

/** `file.js:12:5` of the first stack frame, or null. */
export function whereThrown(e: Error): string | null {
  for (const line of (e.stack ?? '').split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (m) return `${basename(m[1]!)}:${m[2]}:${m[3]}`;
  }
  return null;
}

/** The string value of an option, or undefined (booleans never reach string options). */
export const str = (v: OptionValues, key: string): string | undefined => (typeof v[key] === 'string' ? (v[key] as string) : undefined);
