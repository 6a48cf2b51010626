/**
 * Training that produces NaN or ±Inf stops instead of training on (and instead of saving a
 * checkpoint that could never be resumed): the loop checks the step's losses every step and the
 * whole state before each checkpoint, and a RunError says at which step, what was not finite, and
 * which checkpoint is kept.
 */
import type { Tensor } from '@simplex-vq/tensor';
import { RunError } from './errors.js';

/** The last checkpoint a run saved (step null: none yet) and a hint for the message. */
export interface LastCheckpoint {
  step: number | null;
  file: string;
  /** What to try, e.g. 'a smaller --lr'. */
  hint?: string;
}

/** The first of `values`, in their order, that is NaN or ±Infinity, as [name, value]; null when all are finite. */
export function firstNonFinite(values: Record<string, number>): [string, number] | null {
  for (const [name, v] of Object.entries(values)) if (!Number.isFinite(v)) return [name, v];
  return null;
}

/** The first tensor holding NaN or ±Infinity, with the flat index and value of its first such element; null when all are finite. */
export function firstNonFiniteTensor(tensors: Iterable<readonly [string, Tensor]>): { name: string; index: number; value: number; size: number } | null {
  for (const [name, t] of tensors) {
    if (t.dtype !== 'float32') continue;
    const data = t.data();
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return { name, index: i, value: data[i]!, size: data.length };
  }
  return null;
}

function diverged(step: number, what: string, last: LastCheckpoint): RunError {
  const kept = last.step === null ? `no checkpoint had been saved yet` : `the last good checkpoint (step ${last.step}) is kept in ${last.file}; nothing after it was saved`;
  return new RunError(`training diverged at step ${step}: ${what}; ${kept}${last.hint ? `; try ${last.hint}` : ''}`);
}

/** Throws a RunError if a step's figures (e.g. { loss, recon }) hold NaN or ±Inf, naming the first. */
export function checkStepFinite(step: number, values: Record<string, number>, last: LastCheckpoint): void {
  const bad = firstNonFinite(values);
  if (bad) throw diverged(step, `${bad[0]} is ${bad[1]}`, last);
}

/** Throws a RunError if any tensor (model state, optimizer state) holds NaN or ±Inf, naming it; call before saving a checkpoint. */
export function checkStateFinite(step: number, tensors: Iterable<readonly [string, Tensor]>, last: LastCheckpoint): void {
  const bad = firstNonFiniteTensor(tensors);
  if (bad) throw diverged(step, `tensor "${bad.name}" holds ${bad.value} (element ${bad.index} of ${bad.size})`, last);
}
