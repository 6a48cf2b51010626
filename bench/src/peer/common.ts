/**
 * What every part of the peer benchmark shares: the model's settings, the names of the engines,
 * the record a child process reports, the inputs file they all read, and small numeric helpers.
 *
 * The peer benchmark times ONE TRAINING STEP of the discrete autoencoder of apps/autoencoder
 * (method knn-ce: the smoothed quantizer with the KNN-CE regularizer, K = 1; Adam) on several
 * engines. Every engine starts from the same weights and trains on the same batch: both come from
 * one safetensors file (the "inputs file") written by simplex-vq's engine before anything else runs.
 *
 *   inputs file tensors    param.<name>   the model's initial state dict (our layouts, PyTorch's:
 *                                         conv [out, in, kh, kw], transposed conv [in, out, kh, kw])
 *                          x.<B>          one MNIST batch [B, 1, 28, 28] per batch size B
 *                          ref.grad.<name>   gradients of the loss at the check batch (simplex-vq, 1 thread)
 *                          ref.after.<name>  the parameters after one Adam step from there
 *               metadata   config (JSON), checkBatch, ref.loss / ref.recon / ref.commitment / ref.knn
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '@simplex-vq/autoencoder/config';

const { codebookSize, dim, groups, hidden, k, shards, lr } = DEFAULTS;

/**
 * The model and optimizer settings: apps/autoencoder's own defaults (its config.ts) for method
 * knn-ce, Adam with betas (0.9, 0.999) and eps 1e-8 as PyTorch; the smoothed quantizer's
 * commitment weight β (its default for distance logits) and the KNN weight λ, which the peers
 * need spelled out.
 */
export const MODEL = { method: 'knn-ce', codebookSize, dim, groups, hidden, k, shards, lr, commitment: 0.25, knnWeight: 1, seed: 0 } as const;

export const ENGINES = ['ours-1', 'ours-pool', 'ours-gpujs', 'tfjs-cpu', 'tfjs-wasm', 'torch-1', 'torch-2'] as const;
export type EngineId = (typeof ENGINES)[number];

/** Short engine names for the scripts' tables (bench:scaling, bench:rounds). */
export const SHORT_LABEL: Record<'ours-1' | 'ours-pool' | 'ours-gpujs' | 'torch-1' | 'torch-2', string> = {
  'ours-1': 'simplex-vq, 1 thread',
  'ours-pool': 'simplex-vq, pool',
  'ours-gpujs': 'simplex-vq, gpujs',
  'torch-1': 'PyTorch, 1 thread',
  'torch-2': 'PyTorch, 2 threads',
};

export const isEngine = (s: string): s is EngineId => (ENGINES as readonly string[]).includes(s);

/** What one child process reports (one JSON line on stdout, prefixed by RESULT_PREFIX). */
export interface EngineReport {
  engine: EngineId;
  /** What it ran on (backend, threads, gpu.js target, library versions). */
  describe: string;
  batch: number;
  /** Set when the engine could not train the model: the error it gave. */
  error: string | null;
  /**
   * Wall-clock figures of the timed steps, and the CPU time a timed step took (mean; user + system
   * time of every thread of the process), which varies less than wall time on a shared machine.
   */
  timing: Timing | null;
  /** The process's peak resident set size (high-water mark), in MB. */
  peakRssMb: number | null;
  /** The loss of the first (warm-up) step, a sanity figure. */
  firstLoss: number | null;
  /** Present in --check mode: the comparison with simplex-vq's reference step. */
  check: CheckReport | null;
  /**
   * With --knn-alone (bench:scaling): the KNN-CE term alone, forward + backward on a random
   * [N, M] matrix of log-probabilities of the step's size (N = batch · 49 rows, M codes), timed
   * like the step after it. Absent otherwise.
   */
  knn?: { rows: number; codes: number; timing: Timing } | null;
  /** With --memory-steps (bench:memory): the resident memory of a training run. Absent otherwise. */
  memory?: MemoryReport | null;
}

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
  warmupRuns: number;
  samplesMs: number[];
  cpuMsPerStep: number;
}

/**
 * The resident memory of a run of `steps` training steps on one batch (bench:memory). Every
 * figure is in MB (2^20 bytes) and read from /proc/self/status (VmRSS now, VmHWM the peak).
 */
export interface MemoryReport {
  steps: number;
  /** After the engine's libraries, backend and the inputs file are loaded; before the model is built. */
  rssLoadedMb: number;
  /** After the first training step: the runtime, the model, Adam's state and one step's buffers. */
  rssAfterFirstMb: number;
  /** The high-water mark after the first step (the first step itself may peak above what it leaves). */
  peakAfterFirstMb: number;
  /** After the last step. */
  rssEndMb: number;
  /** The high-water mark of the whole process at the end of the run. */
  peakRssMb: number;
  /** [step, VmRSS MB] after steps 1, 2, 5, 10, 20, 50, … and the last. */
  rssCurve: Array<[number, number]>;
  /** Wall and CPU (every thread) seconds of the steps. */
  seconds: number;
  cpuSeconds: number;
  lastLoss: number;
}

export interface CheckReport {
  /** The four parts of the loss on the check batch, as this engine computed them. */
  loss: number;
  recon: number;
  commitment: number;
  knn: number;
  /** |loss − ref| / |ref|. */
  lossRelErr: number;
  /** The worst of the same for recon, commitment and knn (a small term could hide in the total). */
  partsRelErr: number;
  /** Worst over the parameters of max|g − ref| / max|ref| (null: not computed, e.g. no backward). */
  gradRelErr: number | null;
  /** The parameter with that worst gradient error. */
  gradWorst: string | null;
  /** Worst over the parameters of max|θ₁ − ref| / max|ref| after one Adam step. */
  afterRelErr: number | null;
  afterWorst: string | null;
  /** Error message when the backward pass failed (tfjs-backend-wasm). */
  backwardError: string | null;
}

export const RESULT_PREFIX = 'PEER-RESULT ';

/** Tolerances of the equivalence check: the loss must agree to LOSS_TOL (the figure). */
export const LOSS_TOL = 1e-4;
/** Gradients and post-step weights are float32 sums in a different order: looser, and reported. */
export const GRAD_TOL = 1e-3;
export const AFTER_TOL = 1e-3;

/** bench/ (this file is bench/dist/peer/common.js once built). */
export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** max |a − ref| / max |ref| (both float32 arrays of one tensor). */
export function relError(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) return Number.POSITIVE_INFINITY;
  let err = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - ref[i]!);
    err = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(err, d);
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return scale === 0 ? err : err / scale;
}

/** The worst relError over named arrays (against `ref.<prefix><name>` arrays). */
export function worstRelError(got: Record<string, Float32Array>, ref: Record<string, Float32Array>): { err: number; worst: string } {
  let err = 0, worst = '';
  for (const [name, r] of Object.entries(ref)) {
    const g = got[name];
    const e = g ? relError(g, r) : Number.POSITIVE_INFINITY;
    if (e > err || worst === '') {
      err = e;
      worst = name;
    }
  }
  return { err, worst };
}

/** The relative errors of the loss and of its worst part against the reference in the inputs file's metadata. */
export function lossErrors(parts: { loss: number; recon: number; commitment: number; knn: number }, metadata: Record<string, string>) {
  const rel = (key: 'loss' | 'recon' | 'commitment' | 'knn') => {
    const ref = Number(metadata[`ref.${key}`]);
    return ref === 0 ? Math.abs(parts[key]) : Math.abs(parts[key] - ref) / Math.abs(ref);
  };
  return { lossRelErr: rel('loss'), partsRelErr: Math.max(rel('recon'), rel('commitment'), rel('knn')) };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

// --- the inputs file -----------------------------------------------------------------------------

export interface RawTensor {
  shape: number[];
  data: Float32Array;
}

export interface InputsFile {
  tensors: Record<string, RawTensor>;
  metadata: Record<string, string>;
}

/**
 * Reads a safetensors file into plain Float32Arrays, without any engine (the TF.js children must
 * not load simplex-vq's tensor package just to read a file). F32 only: that is all the inputs file holds.
 */
export function readInputs(file: string): InputsFile {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const tensors: Record<string, RawTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (e.dtype !== 'F32') throw new Error(`${file}: tensor ${name} has dtype ${e.dtype}, expected F32`);
    const [begin, end] = e.data_offsets;
    const copy = new Uint8Array(end - begin);
    copy.set(bytes.subarray(8 + n + begin, 8 + n + end));
    tensors[name] = { shape: e.shape, data: new Float32Array(copy.buffer) };
  }
  return { tensors, metadata };
}

/** The tensors under `prefix`, with the prefix removed from their names. */
export function withPrefix(file: InputsFile, prefix: string): Record<string, RawTensor> {
  const out: Record<string, RawTensor> = {};
  for (const [name, t] of Object.entries(file.tensors)) if (name.startsWith(prefix)) out[name.slice(prefix.length)] = t;
  return out;
}

/**
 * A `Vm…:  <n> kB` line of /proc/self/status in MB, or null where there is no /proc (not Linux).
 */
function procStatusMb(key: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${key}:\\s*(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Peak RSS of this process so far, in MB: the kernel's high-water mark of its memory (VmHWM).
 *
 * Not getrusage's ru_maxrss where VmHWM is there: on Linux a process started by exec keeps in
 * ru_maxrss the high-water mark of the process it was forked from, so a child of a large parent
 * (a test runner, say) would report the parent's peak. VmHWM belongs to the new program alone.
 */
export const peakRssMb = (): number => procStatusMb('VmHWM') ?? process.resourceUsage().maxRSS / 1024;

/** Resident memory of this process now, in MB. */
export const rssMb = (): number => procStatusMb('VmRSS') ?? process.memoryUsage.rss() / 2 ** 20;
