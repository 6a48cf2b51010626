/**
 * Resuming a run from its folder: which options a resumed run still takes, and the history.csv
 * rows that belong to its checkpoint. Both are checked before anything in the folder is written,
 * so a refused resume leaves every file as it was.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { OptionValues } from './cli.js';
import { ConfigError, RunFileError } from './errors.js';

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
