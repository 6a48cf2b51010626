/**
 * Option values: validators that turn command-line strings into numbers and lists, each throwing a
 * ConfigError that names the option (in its kebab-case command-line spelling) and the bad value.
 */
import { ConfigError } from './errors.js';

/** `codebookSize` → `codebook-size`: a config key as the user types it. */
export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** An integer in [min, max]; `key` is the config key (camelCase) or the option name. */
export function intOption(key: string, value: unknown, min: number, max = Infinity): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    const range = max < Infinity ? ` in [${min}, ${max}]` : ` ≥ ${min}`;
    throw new ConfigError(kebab(key), `expected an integer${range}, got '${String(value)}'`);
  }
  return n;
}

/** A finite number accepted by `check`; `what` describes the accepted values for the message. */
export function numberOption(key: string, value: unknown, check: (n: number) => boolean, what: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || !check(n)) throw new ConfigError(kebab(key), `expected ${what}, got '${String(value)}'`);
  return n;
}

/** One of a fixed set of strings. */
export function choiceOption<T extends string>(key: string, value: unknown, choices: readonly T[]): T {
  const s = String(value);
  if (!(choices as readonly string[]).includes(s)) {
    throw new ConfigError(kebab(key), `expected one of ${choices.map((c) => `'${c}'`).join(', ')}, got '${s}'`);
  }
  return s as T;
}

/** A comma-separated list of distinct items, each mapped (and validated) by `map`. */
export function listOption<T>(option: string, raw: string, map: (item: string) => T): T[] {
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new ConfigError(option, `expected a comma-separated list, got '${raw}'`);
  const values = items.map(map);
  values.forEach((v, i) => {
    const j = values.findIndex((w) => JSON.stringify(w) === JSON.stringify(v));
    if (j !== i) throw new ConfigError(option, `'${items[i]}' is given twice${items[j] === items[i] ? '' : ` (as '${items[j]}')`}`);
  });
  return values;
}

/** A comma-separated list of distinct integers in [min, max]. */
export function intListOption(option: string, raw: string, min: number, max = Infinity): number[] {
  return listOption(option, raw, (s) => {
    const n = s.trim() === '' ? NaN : Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(option, `'${s}' is not an integer ${max < Infinity ? `in [${min}, ${max}]` : `≥ ${min}`}`);
    return n;
  });
}
