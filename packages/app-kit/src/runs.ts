/**
 * Runs of an experiment grid (methods × seeds × ...): each in its own directory holding
 * config.json, metrics.json (once finished) and checkpoint.safetensors. Running a grid again reuses
 * finished runs whose settings match and resumes interrupted ones, so an interrupted comparison
 * continues where it stopped. Also: mean ± sample standard deviation over seeds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './errors.js';

export type PriorRun<M> =
  | { status: 'finished'; metrics: M }
  | { status: 'interrupted' }
  | { status: 'new' }
  | { status: 'conflict'; differences: string[] };

/**
 * What `dir` holds for a run with `config`: finished (same settings, with its metrics: reuse
 * them), interrupted (same settings and a checkpoint: resume it), new (nothing there, or only a run
 * that stopped before its first checkpoint: train from scratch), or conflict — a finished or
 * checkpointed run with other settings, which a caller must not overwrite (`differences` names the
 * keys that differ). Keys in `ignore` (e.g. how often to checkpoint) never make settings differ;
 * `normalize` turns the saved config into the current form (e.g. fills fields added since it was
 * written with their defaults), so an older run still matches.
 */
export function priorRun<M>(dir: string, config: object, ignore: readonly string[] = [], normalize: (saved: Record<string, unknown>) => object = (c) => c): PriorRun<M> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) return { status: 'new' };
  const metricsPath = join(dir, 'metrics.json');
  const checkpointPath = join(dir, 'checkpoint.safetensors');
  const valuable = existsSync(metricsPath) || existsSync(checkpointPath);
  let prior: Record<string, unknown>;
  try {
    prior = normalize(JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>) as Record<string, unknown>;
  } catch (e) {
    if (!valuable) return { status: 'new' };
    return { status: 'conflict', differences: [`config.json unreadable (${(e as Error).message})`] };
  }
  const differences = configDifferences(prior, config as Record<string, unknown>, ignore);
  if (differences.length > 0) return valuable ? { status: 'conflict', differences } : { status: 'new' };
  if (existsSync(metricsPath)) {
    try {
      return { status: 'finished', metrics: JSON.parse(readFileSync(metricsPath, 'utf8')) as M };
    } catch (e) {
      return { status: 'conflict', differences: [`metrics.json unreadable (${(e as Error).message})`] };
    }
  }
  return existsSync(checkpointPath) ? { status: 'interrupted' } : { status: 'new' };
}

/** The keys (but `ignore`) whose values differ between two configs, as `key: <a> there, <b> now` (or the given names of a and b). */
export function configDifferences(a: Record<string, unknown>, b: Record<string, unknown>, ignore: readonly string[], names: readonly [string, string] = ['there', 'now']): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !ignore.includes(k)).sort();
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => `${k}: ${JSON.stringify(a[k])} ${names[0]}, ${JSON.stringify(b[k])} ${names[1]}`);
}

/** The error a comparison raises rather than overwrite a run made with other settings. */
export function runConflictError(dir: string, differences: string[]): ConfigError {
  return new ConfigError('out', `${dir} holds a run made with other settings (${differences.join('; ')}); choose another --out, or delete that folder to train it again`);
}

export interface GridRun<C> {
  /** Shown in progress messages, e.g. `knn-ce-seed0`. */
  name: string;
  dir: string;
  config: C;
}

export interface GridOptions<C, M> {
  runs: GridRun<C>[];
  /** Config keys that never make settings differ (e.g. how often to checkpoint). */
  ignore?: readonly string[];
  /** Brings a saved config into the current form (see priorRun). */
  normalize?: (saved: Record<string, unknown>) => object;
  /** Called before each run with its name, position, the total, and whether it is reused. */
  onRun?: (name: string, index: number, total: number, reused: boolean) => void;
  /** Trains one run (resuming it from its checkpoint when `resume`) and returns its metrics. */
  train: (run: GridRun<C>, resume: boolean) => Promise<M>;
}

/**
 * Runs a grid of experiment runs one after another: a finished run with the same settings is
 * reused, an interrupted one resumed, the rest trained. Every folder is checked before anything is
 * trained, so a folder holding a run made with other settings stops the grid (a ConfigError naming
 * it and what differs) without a run trained or a file overwritten; and each folder again just
 * before its turn, so a run that another process (a second sweep into the same folder) finished
 * meanwhile is reused. Two processes that reach the same unfinished run at once both train it:
 * there is no lock, so split the work between them (by method, say), not share it.
 */
export async function runGrid<C extends object, M>(o: GridOptions<C, M>): Promise<M[]> {
  const priors = o.runs.map((r) => priorRun<M>(r.dir, r.config, o.ignore, o.normalize));
  priors.forEach((p, i) => {
    if (p.status === 'conflict') throw runConflictError(o.runs[i]!.dir, p.differences);
  });
  const results: M[] = [];
  for (let i = 0; i < o.runs.length; i++) {
    const run = o.runs[i]!;
    // Looked at again just before the run, since another process may have run it meanwhile (a
    // second sweep into the same folder): a run finished since the start is reused, not retrained.
    const prior = i === 0 ? priors[0]! : priorRun<M>(run.dir, run.config, o.ignore, o.normalize);
    if (prior.status === 'conflict') throw runConflictError(run.dir, prior.differences);
    o.onRun?.(run.name, i, o.runs.length, prior.status === 'finished');
    results.push(prior.status === 'finished' ? prior.metrics : await o.train(run, prior.status === 'interrupted'));
  }
  return results;
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
