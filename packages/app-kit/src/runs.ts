/**
 * Runs of an experiment grid (methods × seeds × ...): each in its own directory holding
 * config.json, metrics.json (once finished) and checkpoint.safetensors. Running a grid again reuses
 * finished runs whose settings match and resumes interrupted ones, so an interrupted comparison
 * continues where it stopped. Also: mean ± sample standard deviation over seeds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type PriorRun<M> = { status: 'finished'; metrics: M } | { status: 'interrupted' } | { status: 'new' };

/**
 * What `dir` holds for a run with `config`: finished (with its metrics), interrupted (same settings
 * and a checkpoint: resume it) or new (nothing there, or different settings: train from scratch).
 * Keys in `ignore` (e.g. how often to checkpoint) do not make settings differ.
 */
export function priorRun<M>(dir: string, config: object, ignore: readonly string[] = []): PriorRun<M> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) return { status: 'new' };
  let prior: Record<string, unknown>;
  try {
    prior = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  } catch {
    return { status: 'new' };
  }
  if (!sameSettings(prior, config as Record<string, unknown>, ignore)) return { status: 'new' };
  const metricsPath = join(dir, 'metrics.json');
  if (existsSync(metricsPath)) return { status: 'finished', metrics: JSON.parse(readFileSync(metricsPath, 'utf8')) as M };
  return existsSync(join(dir, 'checkpoint.safetensors')) ? { status: 'interrupted' } : { status: 'new' };
}

function sameSettings(a: Record<string, unknown>, b: Record<string, unknown>, ignore: readonly string[]): boolean {
  const strip = (o: Record<string, unknown>) => JSON.stringify(Object.fromEntries(Object.entries(o).filter(([k]) => !ignore.includes(k)).sort(([x], [y]) => (x < y ? -1 : 1))));
  return strip(a) === strip(b);
}

export interface Aggregate {
  /** The group's key (e.g. the method). */
  key: string;
  n: number;
  mean: Record<string, number>;
  /** Sample standard deviation (0 for a single run). */
  spread: Record<string, number>;
}

/** Mean and sample standard deviation of `fields`, per group of results sharing `keyOf`. */
export function aggregate<R>(results: readonly R[], keyOf: (r: R) => string, fields: readonly (keyof R & string)[]): Aggregate[] {
  const keys = [...new Set(results.map(keyOf))];
  return keys.map((key) => {
    const rs = results.filter((r) => keyOf(r) === key);
    const mean: Record<string, number> = {}, spread: Record<string, number> = {};
    for (const f of fields) {
      const v = rs.map((r) => Number(r[f]));
      const mu = v.reduce((s, x) => s + x, 0) / v.length;
      mean[f] = mu;
      spread[f] = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mu) ** 2, 0) / (v.length - 1)) : 0;
    }
    return { key, n: rs.length, mean, spread };
  });
}

/** `mean ± sd` with `digits` decimals, or just the mean for one run; '–' for NaN. */
export function meanCell(mu: number, sd: number, digits: number, n: number): string {
  if (Number.isNaN(mu)) return '–';
  return n > 1 ? `${mu.toFixed(digits)} ± ${sd.toFixed(digits)}` : mu.toFixed(digits);
}

/** Every n-th row (and the last), so charts of long runs stay light. */
export function thin<T>(rows: readonly T[], max = 400): T[] {
  if (rows.length <= max) return [...rows];
  const step = Math.ceil(rows.length / max);
  return rows.filter((_, i) => i % step === 0 || i === rows.length - 1);
}
