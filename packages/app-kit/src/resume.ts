/**
 * Resuming a run from its folder: which options a resumed run still takes, and the history.csv
 * rows that belong to its checkpoint. Both are checked before anything in the folder is written,
 * so a refused resume leaves every file as it was.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OptionValues } from './cli.js';
import { ConfigError, RunFileError } from './errors.js';
import { RUN_CONFIG } from './folders.js';
import { configDifferences } from './runs.js';

/** What a resumed run may still be told: how many steps in all, and how many threads (not part of its identity). */
export const RESUME_OPTIONS: readonly string[] = ['steps', 'threads'];

/** Refuses options given with `--resume` that a resumed run would ignore: its settings are its folder's. */
export function refuseWithResume(values: OptionValues, allowed: readonly string[] = RESUME_OPTIONS): void {
  const others = Object.keys(values).filter((k) => k !== 'resume' && k !== 'help' && !allowed.includes(k) && values[k] !== undefined);
  if (others.length > 0) {
    throw new ConfigError('resume', `a resumed run keeps its settings; only ${allowed.map((o) => `--${o}`).join(' and ')} may be given with it (got --${others.join(', --')})`);
  }
}

/**
 * The text of a run's history.csv (header `header`, one row per step, the step first) cut to the
 * checkpoint's `step`: the rows 1 … step must all be there, in order. Rows after it (written before
 * a crash beat the next checkpoint) are dropped, as they will be computed again. A file that
 * disagrees with the checkpoint raises a RunFileError naming it and the step.
 */
export function historyUpTo(path: string, header: string, step: number): string {
  if (!existsSync(path)) {
    if (step === 0) return `${header}\n`;
    throw new RunFileError(path, `is missing, but the checkpoint is at step ${step}`);
  }
  const lines = readFileSync(path, 'utf8').split('\n');
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== header) throw new RunFileError(path, `does not start with the header '${header}' (not this run's history?)`);
  const columns = header.split(',').length;
  const kept: string[] = [];
  for (let i = 1; i < lines.length && kept.length < step; i++) {
    const fields = lines[i]!.split(',');
    const at = Number(fields[0]);
    if (fields.length !== columns || !Number.isInteger(at)) throw new RunFileError(path, `line ${i + 1} is not a row of ${columns} values starting with a step: '${lines[i]!.slice(0, 60)}'`);
    if (at !== kept.length + 1) throw new RunFileError(path, `line ${i + 1} is step ${at} where step ${kept.length + 1} was expected; the checkpoint is at step ${step}`);
    kept.push(lines[i]!);
  }
  if (kept.length < step) throw new RunFileError(path, `ends at step ${kept.length}, but the checkpoint is at step ${step}`);
  return [header, ...kept].join('\n') + '\n';
}

/** What a checkpoint says of its run besides the tensors: the fields `checkRunCheckpoint` reads. */
export interface CheckpointRecord {
  config?: unknown;
  step?: number | null;
  metadata: Record<string, string>;
}

/** A checkpoint's run state, checked against the run's folder: its step, data order, time trained and history. */
export interface CheckedRunState {
  step: number;
  batcher: { epoch: number; position: number };
  trainSeconds: number;
  /** history.csv cut to the checkpoint's step (see historyUpTo). */
  history: string;
}

/**
 * Checks a run's loaded checkpoint against its other files before anything is written: saved with
 * the same settings as config.json (`config`, compared after `normalize`, `ignore` aside), at a
 * step the run can reach, with data-order metadata ("batcher": a position of at most
 * `positions.max`, when given) and a time trained, and with history.csv holding every step up to
 * it. Each failure goes to `fail` (the app's error naming the checkpoint file).
 */
export function checkRunCheckpoint<C extends { steps: number }>(
  dir: string,
  checkpoint: CheckpointRecord,
  config: C,
  o: { normalize: (raw: Record<string, unknown>) => C; ignore: readonly string[]; historyHeader: string; positions: { what: string; max?: number }; fail: (message: string) => never },
): CheckedRunState {
  const { fail } = o;
  if (checkpoint.config === undefined) fail('holds no config: not a checkpoint of this app');
  let saved: C;
  try {
    saved = o.normalize(checkpoint.config as Record<string, unknown>);
  } catch (e) {
    return fail(`holds settings that are not valid (${(e as Error).message})`);
  }
  const differences = configDifferences({ ...saved }, { ...config }, [...o.ignore, 'steps'], ['in the checkpoint', `in ${RUN_CONFIG}`]);
  if (differences.length > 0) fail(`was saved by a run with other settings than ${join(dir, RUN_CONFIG)} (${differences.join('; ')}): it is not this run's checkpoint`);
  const step = checkpoint.step ?? fail('holds no step');
  if (step > config.steps) fail(`is at step ${step}, beyond the run's ${config.steps} steps in ${RUN_CONFIG}`);
  let batcher: { epoch: number; position: number };
  try {
    batcher = JSON.parse(checkpoint.metadata.batcher ?? '') as { epoch: number; position: number };
  } catch {
    return fail('metadata "batcher" (the data order) is missing or not JSON');
  }
  const max = o.positions.max ?? Infinity;
  if (!Number.isInteger(batcher?.epoch) || batcher.epoch < 0 || !Number.isInteger(batcher.position) || batcher.position < 0 || batcher.position > max) {
    fail(`metadata "batcher" ${JSON.stringify(batcher)} is not a position in ${o.positions.what}`);
  }
  const trainSeconds = Number(checkpoint.metadata.trainSeconds ?? 0);
  if (!Number.isFinite(trainSeconds) || trainSeconds < 0) fail(`metadata "trainSeconds" is not a duration: "${checkpoint.metadata.trainSeconds}"`);
  const history = historyUpTo(join(dir, 'history.csv'), o.historyHeader, step);
  return { step, batcher, trainSeconds, history };
}
