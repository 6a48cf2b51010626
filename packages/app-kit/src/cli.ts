/**
 * Command dispatch for a multi-command CLI: `prog <command> [options]`, with `--help` for the
 * program and for each command, options parsed strictly (node:util parseArgs) and checked against
 * what the command accepts, and the exit codes users and scripts rely on: 0 done, 2 bad command
 * line (the message names the option), 1 anything else (with the stack).
 */
import { parseArgs } from 'node:util';
import { ConfigError, UsageError } from './errors.js';

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
}

/** Parses `argv` for `command`: strict, no positionals, only the command's options. */
export function parseCommandLine(def: CliDefinition, command: string, argv: string[]): OptionValues {
  let values: OptionValues;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...def.spec, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }) as { values: OptionValues });
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
export async function runCli(def: CliDefinition, argv: string[], io: Streams = STD): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.out(def.help);
    return command ? 0 : 2;
  }
  const cmd = def.commands[command];
  if (!cmd) {
    io.err(`${def.name}: unknown command '${command}'\n\n${def.help}`);
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
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.err(`${def.name} ${command}: ${err.message}\nRun '${def.name} ${command} --help' for the options.\n`);
      return 2;
    }
    io.err(`${def.name} ${command}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

/** The string value of an option, or undefined (booleans never reach string options). */
export const str = (v: OptionValues, key: string): string | undefined => (typeof v[key] === 'string' ? (v[key] as string) : undefined);
