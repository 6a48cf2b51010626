/**
 * What the bench:memory and bench:scaling scripts share: reading their options (with a clear
 * message and exit code 2 for a bad one), the machine and load lines of their reports, and
 * markdown tables.
 */
import * as os from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command-line option: the script prints the message and its help, and exits with 2. */
export class OptionError extends Error {}

/**
 * parseArgs with the script's help: --help prints it and exits 0; an unknown option, a missing
 * value or an OptionError thrown by `read` prints the problem and the help and exits 2.
 */
export function readOptions<T>(script: string, help: string, options: NonNullable<ParseArgsConfig['options']>, read: (values: Record<string, string | boolean | undefined>) => T): T {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', default: false } }, strict: true, allowPositionals: false });
    if (values.help) {
      process.stdout.write(help);
      process.exit(0);
    }
    return read(values as Record<string, string | boolean | undefined>);
  } catch (e) {
    // parseArgs's own errors (unknown option, missing value, stray argument) carry ERR_PARSE_ARGS_* codes.
    const parseError = typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code.startsWith('ERR_PARSE_ARGS');
    if (!(e instanceof OptionError) && !parseError) throw e;
    process.stderr.write(`${script}: ${(e as Error).message}\n\n${help}`);
    process.exit(2);
  }
}

export function positiveInt(option: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new OptionError(`--${option}: expected a positive integer, got '${value}'`);
  return n;
}

export function nonNegativeNumber(option: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0) || !Number.isFinite(n)) throw new OptionError(`--${option}: expected a number ≥ 0, got '${value}'`);
  return n;
}

/** A comma-separated list of distinct positive integers, in the order given. */
export function positiveIntList(option: string, value: string): number[] {
  const list = value.split(',').map((v) => positiveInt(option, v.trim()));
  if (new Set(list).size !== list.length) throw new OptionError(`--${option}: '${value}' lists a value twice`);
  return list;
}

/** A comma-separated list of names, each one of `allowed`, in the order given. */
export function nameList<T extends string>(option: string, value: string, allowed: readonly T[]): T[] {
  const list = value.split(',').map((v) => v.trim()).filter(Boolean);
  if (list.length === 0) throw new OptionError(`--${option}: expected at least one of ${allowed.join(', ')}`);
  for (const v of list) if (!(allowed as readonly string[]).includes(v)) throw new OptionError(`--${option}: unknown '${v}'; choose from ${allowed.join(', ')}`);
  if (new Set(list).size !== list.length) throw new OptionError(`--${option}: '${value}' lists a value twice`);
  return list as T[];
}

/** The 1, 5 and 15-minute load averages, as `uptime` prints them. */
export const loadAverage = (l: number[] = os.loadavg()): string => l.map((v) => v.toFixed(2)).join(' ');

/** One line naming the machine: CPU, cores, memory, Node. */
export function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; node ${process.version}`;
}

/** A markdown table with aligned columns ('r': right-aligned, for numbers). */
export function table(headers: string[], rows: string[][], align: Array<'l' | 'r'> = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (c: string, i: number) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!));
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** Milliseconds with three significant figures or so. */
export const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

/** Collects the report's lines while printing them, for the .md file written at the end. */
export function reportWriter(): { say: (line?: string) => void; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    say: (line = '') => {
      lines.push(line);
      process.stdout.write(`${line}\n`);
    },
  };
}
