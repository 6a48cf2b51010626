/**
 * Training checkpoints: one safetensors file holding everything a run needs to continue exactly.
 *
 *   tensors        the model's state dict under its own names (so `safetensors.torch.load_file`
 *                  gives the weights directly), and the optimizer's state tensors as
 *                  `optimizer.state.<param index>.<key>` (e.g. `optimizer.state.3.expAvg`)
 *   __metadata__   format     "simplex-vq.checkpoint/1"
 *                  step       the training step, as a decimal string
 *                  config     the run's configuration, JSON
 *                  optimizer  JSON: type, parameter groups (hyperparameters, current lr), step counts
 *                  scheduler  JSON: the LambdaLR state
 *                  rng        JSON: the state of each generator (the model's, e.g. Dropout's, and
 *                             those passed in `rng`, e.g. the data sampler's)
 *
 * This file works on bytes and runs anywhere (a page, a worker, Node): `serializeCheckpoint`
 * makes the bytes, `parseCheckpoint` validates them (see safetensors.ts), checks that every float
 * holds a finite value and, given targets, restores them, raising a CheckpointError naming the
 * file and the tensor. A checkpoint holding NaN or ±Inf is never serialized: it could not be
 * resumed. Files (atomic writes, `saveCheckpoint`/`loadCheckpoint`) are in node/index.ts, the
 * package's `@simplex-vq/nn/node` entry.
 */
import { Tensor, type Generator } from '@simplex-vq/tensor';
import { CheckpointError, StateDictError } from './errors.js';
import type { Module, StateDict } from './module.js';
import type { Optimizer, OptimizerStateDict, ParamState } from './optim/optimizer.js';
import type { LambdaLR, LRSchedulerState } from './optim/schedule.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'simplex-vq.checkpoint/1';
const OPT_PREFIX = 'optimizer.state.';
const RESERVED = new Set(['format', 'step', 'config', 'optimizer', 'scheduler', 'rng']);

/** A generator's state in JSON (the Box–Muller spare, NaN when absent, becomes null). */
type GeneratorState = Array<number | null>;

export interface CheckpointContents {
  model: Module;
  optimizer?: Optimizer<{ lr: number }>;
  scheduler?: LambdaLR;
  step?: number;
  /** Anything JSON can hold: the run's configuration. */
  config?: unknown;
  /** Generators outside the model whose state the run depends on (data order, noise). */
  rng?: Record<string, Generator>;
  /** More metadata strings (names other than the reserved ones above). */
  metadata?: Record<string, string>;
}

export interface LoadedCheckpoint {
  modelState: StateDict;
  optimizerState: OptimizerStateDict | null;
  /** The optimizer's class name when saved, e.g. 'AdamW'. */
  optimizerType: string | null;
  schedulerState: LRSchedulerState | null;
  step: number | null;
  config: unknown;
  /** Generator states by name: the model's (dotted names) under `model`, the others under `extra`. */
  rng: { model: Record<string, number[]>; extra: Record<string, number[]> };
  /** All metadata strings as stored. */
  metadata: Record<string, string>;
}

export interface CheckpointTargets {
  model?: Module;
  optimizer?: Optimizer<{ lr: number }>;
  scheduler?: LambdaLR;
  rng?: Record<string, Generator>;
}

const toJsonState = (g: Generator): GeneratorState => g.getState().map((v) => (Number.isNaN(v) ? null : v));
const fromJsonState = (s: GeneratorState): number[] => s.map((v) => (v === null ? NaN : v));

/** The first element of a float tensor that is NaN or ±Inf, as a phrase; null when all are finite. */
function nonFinite(t: Tensor): string | null {
  if (t.dtype !== 'float32') return null;
  const data = t.data();
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) return `holds ${data[i]} at element ${i} of ${data.length}${t.shape.length > 1 ? ` (index [${unravel(i, t.shape).join(', ')}])` : ''}`;
  }
  return null;
}

const unravel = (i: number, shape: readonly number[]): number[] => {
  const out: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    out.unshift(i % shape[d]!);
    i = Math.floor(i / shape[d]!);
  }
  return out;
};

/** The bytes of a checkpoint (what saveCheckpoint writes). `file` names it in errors; a tensor holding NaN or ±Inf is refused. */
export function serializeCheckpoint(c: CheckpointContents, file = '<checkpoint>'): Uint8Array {
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(c.model.stateDict())) {
    if (k.startsWith('optimizer.')) throw new CheckpointError(file, k, 'model keys must not start with "optimizer." (reserved for the optimizer state)');
    tensors[k] = t;
  }
  const metadata: Record<string, string> = { format: CHECKPOINT_FORMAT };
  for (const [k, v] of Object.entries(c.metadata ?? {})) {
    if (RESERVED.has(k)) throw new CheckpointError(file, undefined, `metadata name "${k}" is reserved`);
    metadata[k] = v;
  }
  if (c.step !== undefined) metadata.step = String(c.step);
  if (c.config !== undefined) {
    try {
      metadata.config = JSON.stringify(c.config);
    } catch (e) {
      throw new CheckpointError(file, undefined, `config cannot be stored as JSON (${(e as Error).message})`);
    }
  }
  if (c.optimizer) {
    const sd = c.optimizer.stateDict();
    const scalars: Record<string, Record<string, number>> = {};
    for (const [i, s] of Object.entries(sd.state)) {
      for (const [k, v] of Object.entries(s)) {
        if (v instanceof Tensor) tensors[`${OPT_PREFIX}${i}.${k}`] = v;
        else (scalars[i] ??= {})[k] = v;
      }
    }
    metadata.optimizer = JSON.stringify({ type: c.optimizer.constructor.name, paramGroups: sd.paramGroups, scalars });
  }
  if (c.scheduler) metadata.scheduler = JSON.stringify(c.scheduler.stateDict());
  const rng = {
    model: Object.fromEntries(c.model.namedGenerators().map(([n, g]) => [n, toJsonState(g)])),
    extra: Object.fromEntries(Object.entries(c.rng ?? {}).map(([n, g]) => [n, toJsonState(g)])),
  };
  metadata.rng = JSON.stringify(rng);
  for (const [name, t] of Object.entries(tensors)) {
    const bad = nonFinite(t);
    if (bad) throw new CheckpointError(file, name, `${bad}; a checkpoint is never written with a value that is not finite`);
  }
  return serializeSafetensors(tensors, metadata);
}

/**
 * Parses checkpoint bytes (from a file, a fetch or an upload) and, for each target given,
 * restores it: the model's parameters, buffers and generators, the optimizer's state and
 * hyperparameters, the scheduler, and the named generators in `rng`. Bytes that do not fit (a
 * missing or unexpected tensor, another shape, another optimizer) raise a CheckpointError naming
 * `file` and the tensor; a failed restore leaves the optimizer and scheduler as they were.
 */
export function parseCheckpoint(bytes: Uint8Array, file = '<checkpoint>', targets: CheckpointTargets = {}): LoadedCheckpoint {
  const { tensors, metadata } = parseSafetensors(bytes, file);
  function fail(message: string, tensor?: string): never {
    throw new CheckpointError(file, tensor, message);
  }
  if (metadata.format !== undefined && metadata.format !== CHECKPOINT_FORMAT) {
    fail(`unsupported checkpoint format "${metadata.format}" (expected "${CHECKPOINT_FORMAT}")`);
  }
  const json = <T>(key: string): T | undefined => {
    if (metadata[key] === undefined) return undefined;
    try {
      return JSON.parse(metadata[key]) as T;
    } catch (e) {
      return fail(`metadata "${key}" is not valid JSON (${(e as Error).message})`);
    }
  };

  const modelState: StateDict = {};
  const optTensors: Array<[string, Tensor]> = [];
  for (const [k, t] of Object.entries(tensors)) {
    const bad = nonFinite(t);
    if (bad) fail(bad, k);
    if (k.startsWith(OPT_PREFIX)) optTensors.push([k, t]);
    else modelState[k] = t;
  }

  let optimizerState: OptimizerStateDict | null = null;
  const opt = json<{ type: string; paramGroups: OptimizerStateDict['paramGroups']; scalars: Record<string, Record<string, number>> }>('optimizer');
  if (opt) {
    if (!Array.isArray(opt.paramGroups) || typeof opt.scalars !== 'object' || opt.scalars === null) fail('metadata "optimizer" is malformed');
    const state: Record<number, ParamState> = {};
    for (const [i, s] of Object.entries(opt.scalars)) state[Number(i)] = { ...s };
    for (const [k, t] of optTensors) {
      const m = /^optimizer\.state\.(\d+)\.([^.]+)$/.exec(k);
      if (!m) fail('is not of the form optimizer.state.<index>.<name>', k);
      (state[Number(m![1])] ??= {})[m![2]!] = t;
    }
    optimizerState = { state, paramGroups: opt.paramGroups };
  } else if (optTensors.length > 0) {
    fail('optimizer state tensors without "optimizer" metadata', optTensors[0]![0]);
  }

  const stepText = metadata.step;
  let step: number | null = null;
  if (stepText !== undefined) {
    step = Number(stepText);
    if (!Number.isSafeInteger(step) || step < 0 || !/^\d+$/.test(stepText)) fail(`metadata "step" is not a non-negative integer: "${stepText}"`);
  }
  const rngJson = json<{ model?: Record<string, GeneratorState>; extra?: Record<string, GeneratorState> }>('rng') ?? {};
  const rngOf = (r: Record<string, GeneratorState> | undefined) => Object.fromEntries(Object.entries(r ?? {}).map(([n, s]) => [n, fromJsonState(s)]));
  const loaded: LoadedCheckpoint = {
    modelState,
    optimizerState,
    optimizerType: opt?.type ?? null,
    schedulerState: json<LRSchedulerState>('scheduler') ?? null,
    step,
    config: json('config'),
    rng: { model: rngOf(rngJson.model), extra: rngOf(rngJson.extra) },
    metadata,
  };
  restoreCheckpoint(loaded, targets, file);
  return loaded;
}

/**
 * Restores what a parsed checkpoint holds into `targets` (see parseCheckpoint), e.g. after the
 * caller has checked its config and step against the run's other files.
 */
export function restoreCheckpoint(loaded: LoadedCheckpoint, targets: CheckpointTargets, file = '<checkpoint>'): void {
  function fail(message: string, tensor?: string): never {
    throw new CheckpointError(file, tensor, message);
  }
  const { model, optimizer, scheduler, rng } = targets;
  // Check what can be checked without changing anything.
  if (optimizer) {
    if (!loaded.optimizerState) fail('has no optimizer state');
    if (loaded.optimizerType !== optimizer.constructor.name) fail(`holds the state of a ${loaded.optimizerType}, not of a ${optimizer.constructor.name}`);
  }
  if (scheduler && !loaded.schedulerState) fail('has no scheduler state');
  const modelGenerators = model?.namedGenerators() ?? [];
  for (const [n] of modelGenerators) if (!loaded.rng.model[n]) fail(`has no state for the model's generator "${n}"`);
  for (const n of Object.keys(rng ?? {})) if (!loaded.rng.extra[n]) fail(`has no state for generator "${n}"`);

  // Each loadStateDict checks everything before it writes; roll the first ones back if a later one fails.
  const optBackup = optimizer?.stateDict();
  const schedBackup = scheduler?.stateDict();
  try {
    if (optimizer) {
      try {
        optimizer.loadStateDict(loaded.optimizerState!);
      } catch (e) {
        if (e instanceof StateDictError) fail(e.message, e.key === undefined ? undefined : `optimizer.${e.key}`);
        throw e;
      }
    }
    if (scheduler) scheduler.loadStateDict(loaded.schedulerState!);
    if (model) {
      try {
        model.loadStateDict(loaded.modelState);
      } catch (e) {
        if (e instanceof StateDictError) fail(e.message, e.key);
        throw e;
      }
    }
  } catch (e) {
    if (optimizer && optBackup) optimizer.loadStateDict(optBackup);
    if (scheduler && schedBackup) scheduler.loadStateDict(schedBackup);
    throw e;
  }
  for (const [n, g] of modelGenerators) g.setState(loaded.rng.model[n]!);
  for (const [n, g] of Object.entries(rng ?? {})) g.setState(loaded.rng.extra[n]!);
}
