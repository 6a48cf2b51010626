/**
 * One training run: data, model, the training loop with checkpoints, and the evaluation.
 *
 * A run lives in a directory: config.json (written first), history.csv (one row per step),
 * checkpoint.safetensors (every `checkpointEvery` steps and at the end, written atomically), and
 * at the end metrics.json and the report. `resume` continues from the checkpoint bit for bit:
 * model, optimizer, the quantizer's generator and the data order are all restored, and history
 * rows after the checkpoint's step are dropped. Everything a resume reads (config.json, the
 * checkpoint, which must be this run's, and history.csv up to its step) is checked before any
 * file of the folder is written; a run that stopped before its first checkpoint starts again from
 * step 0. Training that produces NaN or Inf stops (a RunError) without saving it.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, noGrad, setBackend, tensor, type Tensor } from '@simplex-vq/tensor';
import { Adam, CheckpointError, restoreCheckpoint, type LoadedCheckpoint } from '@simplex-vq/nn';
import { loadCheckpoint, removeStaleTempFiles, saveCheckpoint, writeFileAtomic } from '@simplex-vq/nn/node';
import { CodeUsageTracker } from '@simplex-vq/vq';
import { Batcher, gatherImages, loadMnist, type ImageSet } from '@simplex-vq/datasets';
import { RUN_CONFIG, RunFileError, checkRunCheckpoint, checkStateFinite, checkStepFinite, makeFolder, useCpuBackend, type CheckedRunState, type LastCheckpoint } from '@simplex-vq/app-kit';
import { NOT_IDENTITY, normalizeSavedConfig, type TrainConfig } from './config.js';
import { Autoencoder, meanPixelLogit } from './model.js';

/** The fields of metrics.json: the settings that identify the run, the evaluation, and the speed. */
export interface RunMetrics extends Evaluation {
  method: string;
  /** Codebook initialization ('none' for fsq and lfq). */
  init: string;
  /** The codes the quantizer has (M; for fsq and lfq the size of their grid, ≈ M). */
  codebookSize: number;
  /** KNN vertex subset (fraction or count), or null for every vertex. */
  vertexSubset: number | null;
  dim: number;
  groups: number;
  k: number;
  steps: number;
  seed: number;
  batchSize: number;
  trainSeconds: number;
  stepsPerSecond: number;
  /** The backend the run trained on (and, for gpu.js, its target). */
  backend: string;
}

export interface StepInfo {
  step: number;
  steps: number;
  loss: number;
  recon: number;
  quantizerLoss: number;
  batchUsage: number;
}

export interface TrainOptions {
  /** Continue the run in `dir` from its checkpoint. */
  resume?: boolean;
  onStep?: (info: StepInfo) => void;
  /** Called with the phase name when a long phase starts ('evaluate'). */
  onPhase?: (phase: string) => void;
  /** Called once with a description of the backend the run uses (which gpu.js target, threads). */
  onBackend?: (description: string) => void;
  /** Notes worth a line: a resume that starts over, temporary files removed. */
  log?: (message: string) => void;
}

const HISTORY_HEADER = 'step,loss,recon,quantizer_loss,batch_usage,seconds';

export interface RunResult {
  metrics: RunMetrics;
  model: Autoencoder;
  config: TrainConfig;
  test: ImageSet;
}

async function useBackend(name: 'cpu' | 'gpujs', threads: number | 'auto'): Promise<string> {
  if (name === 'gpujs') {
    const { createGpuJsBackend } = await import('@simplex-vq/backend-gpujs');
    const b = createGpuJsBackend();
    setBackend(b);
    return b.describe();
  }
  return useCpuBackend(threads);
}

/** Images at `idx` as a [B, 1, 28, 28] tensor. */
export function batchTensor(set: ImageSet, idx: ArrayLike<number>): Tensor {
  return tensor(gatherImages(set, idx), { shape: [idx.length, 1, set.height, set.width] });
}

/** Training images of the fixed MNIST split (loadMnist().train.count), known before it is loaded. */
const MNIST_TRAIN = 9000;

/** A saved config.json in today's form; a RunFileError if it is not one. */
export function readSavedConfig(dir: string, saved?: Record<string, unknown>): TrainConfig {
  const path = join(dir, RUN_CONFIG);
  try {
    return normalizeSavedConfig(saved ?? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>));
  } catch (e) {
    throw new RunFileError(path, `is not a run's settings (${(e as Error).message})`);
  }
}

/**
 * The checkpoint of the run in `dir`, checked against its other files before anything is written:
 * saved with the same settings as config.json (`config`), at a step the run can have reached,
 * with data-order metadata, and with history.csv holding every step up to it. Returns it with the
 * history text to keep.
 */
function checkedCheckpoint(dir: string, config: TrainConfig): CheckedRunState & { loaded: LoadedCheckpoint } {
  const path = join(dir, 'checkpoint.safetensors');
  const loaded = loadCheckpoint(path); // the file itself: structure, dtypes, finite values
  const fail = (message: string): never => {
    throw new CheckpointError(path, undefined, message);
  };
  const state = checkRunCheckpoint(dir, loaded, config, { normalize: normalizeSavedConfig, ignore: NOT_IDENTITY, historyHeader: HISTORY_HEADER, positions: { what: `${MNIST_TRAIN} training images`, max: MNIST_TRAIN }, fail });
  return { loaded, ...state };
}

/** Trains (or resumes) the run in `dir`, evaluates it, and returns its metrics. */
export async function trainRun(dir: string, cfgIn: TrainConfig, opts: TrainOptions = {}): Promise<RunResult> {
  const ckptPath = join(dir, 'checkpoint.safetensors');
  const historyPath = join(dir, 'history.csv');
  let config = cfgIn;
  const resuming = opts.resume === true;
  if (resuming) {
    const saved = readSavedConfig(dir);
    config = { ...saved, steps: cfgIn.steps > saved.steps ? cfgIn.steps : saved.steps, threads: cfgIn.threads };
  }
  const backendName = await useBackend(config.backend, config.threads);
  opts.onBackend?.(backendName);
  // A resume reads and checks everything before it writes anything: the files first, then their fit to the model.
  const checked = resuming && existsSync(ckptPath) ? checkedCheckpoint(dir, config) : null;

  const { train, test } = loadMnist();
  if (train.count !== MNIST_TRAIN) throw new Error(`the MNIST split has ${train.count} training images, not ${MNIST_TRAIN}`);
  const model = new Autoencoder({ ...config, outputBias: config.outputBias === 'data' ? meanPixelLogit(train) : undefined }, new Generator(config.seed));
  const optimizer = new Adam(model.parameters(), { lr: config.lr });
  const batcher = new Batcher(train.count, config.batchSize, { seed: config.seed });
  let start = 0;
  let trainSeconds = 0;
  let history = `${HISTORY_HEADER}\n`;
  if (checked) {
    const c = checked;
    restoreCheckpoint(c.loaded, { model, optimizer }, ckptPath);
    start = c.step;
    batcher.setState(c.batcher);
    trainSeconds = c.trainSeconds;
    history = c.history; // rows after the checkpoint's step are computed again
  } else if (resuming) {
    opts.log?.(`${dir} has no checkpoint yet (the run stopped before its first, due at step ${Math.min(config.checkpointEvery, config.steps)}): starting from step 0`);
  }
  makeFolder(dir, 'out');
  const stale = removeStaleTempFiles(dir);
  if (stale.length > 0) opts.log?.(`removed ${stale.length} temporary file(s) of an interrupted write: ${stale.join(', ')}`);
  writeFileAtomic(join(dir, RUN_CONFIG), new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  writeFileSync(historyPath, history);

  const save = (step: number) =>
    saveCheckpoint(ckptPath, {
      model,
      optimizer,
      step,
      config,
      metadata: { batcher: JSON.stringify(batcher.getState()), trainSeconds: String(trainSeconds) },
    });

  const last: LastCheckpoint = { step: resuming && start > 0 ? start : null, file: ckptPath, hint: 'a smaller --lr' };
  model.train();
  let pending: string[] = [];
  for (let step = start + 1; step <= config.steps; step++) {
    const t0 = performance.now();
    const x = batchTensor(train, batcher.next());
    optimizer.zeroGrad();
    const { loss, recon, quantizer } = model.trainingLoss(x);
    loss.backward();
    optimizer.step();
    trainSeconds += (performance.now() - t0) / 1000;
    const info: StepInfo = { step, steps: config.steps, loss: loss.item(), recon: recon.item(), quantizerLoss: quantizer.loss.item(), batchUsage: quantizer.stats.batchUsage ?? NaN };
    checkStepFinite(step, { 'the quantizer loss': info.quantizerLoss, 'the reconstruction MSE': info.recon, 'the loss': info.loss }, last);
    pending.push([step, info.loss, info.recon, info.quantizerLoss, info.batchUsage, trainSeconds.toFixed(3)].join(','));
    opts.onStep?.(info);
    if (step % config.checkpointEvery === 0 || step === config.steps) {
      checkStateFinite(step, stateTensors(model, optimizer), last);
      appendFileSync(historyPath, pending.join('\n') + '\n');
      pending = [];
      save(step);
      last.step = step;
    }
  }

  opts.onPhase?.('evaluate');
  const ev = evaluate(model, test, config.evalImages);
  const stepsRun = config.steps;
  const metrics: RunMetrics = {
    method: config.method,
    init: config.init,
    codebookSize: model.quantizer.codebookSize,
    vertexSubset: config.vertexSubset ?? null,
    dim: config.dim,
    groups: config.groups,
    k: config.k,
    steps: stepsRun,
    seed: config.seed,
    batchSize: config.batchSize,
    ...ev,
    trainSeconds,
    stepsPerSecond: trainSeconds > 0 ? stepsRun / trainSeconds : 0,
    backend: backendName,
  };
  writeFileAtomic(join(dir, 'metrics.json'), new TextEncoder().encode(`${JSON.stringify(metrics, null, 2)}\n`));
  return { metrics, model, config, test };
}

/** Every tensor a checkpoint would hold, by its name there: the model's state and the optimizer's. */
export function stateTensors(model: Autoencoder, optimizer: Adam): Array<[string, Tensor]> {
  const out: Array<[string, Tensor]> = Object.entries(model.stateDict());
  for (const [i, s] of Object.entries(optimizer.stateDict().state)) for (const [k, v] of Object.entries(s)) if (typeof v !== 'number') out.push([`optimizer.state.${i}.${k}`, v]);
  return out;
}

/** Test-set figures (see evaluate()). */
export interface Evaluation {
  /** Fraction of codes used on the test set, in [0, 1]. */
  codeUsage: number;
  perplexityOfMean: number;
  perplexityOfMeanSoft: number | null;
  individualPerplexity: number;
  perSampleCodeUsage: number;
  mseHard: number;
  mseSoft: number;
  psnrHard: number;
  psnrSoft: number;
  histogram: number[];
}

const psnr = (mse: number) => 10 * Math.log10(1 / Math.max(mse, 1e-12));

/**
 * Test-set figures with hard codes (eval mode), and the soft reconstruction q = p·E for
 * quantizers that give probabilities (the gap measures the train/inference mismatch; for hard
 * quantizers the two coincide).
 */
export function evaluate(model: Autoencoder, test: ImageSet, images: number, batch = 100): Evaluation {
  const q = model.quantizer;
  const tracker = new CodeUsageTracker(q.codebookSize, q.groups);
  let hardSum = 0, softSum = 0, seen = 0;
  model.eval();
  noGrad(() => {
    const codebook = q.effectiveCodebook(); // [G, M, d]
    for (let start = 0; start < images; start += batch) {
      const idx = Array.from({ length: Math.min(batch, images - start) }, (_, i) => start + i);
      const x = batchTensor(test, idx);
      const { reconstruction, quantizer: out } = model.forward(x);
      const n = idx.length;
      hardSum += reconstruction.sub(x).square().mean().item() * n;
      const flat = out.indices.reshape(q.groups === 1 ? [-1] : [-1, q.groups]);
      tracker.update(flat, { probs: out.probs, rowsPerSample: 49 });
      if (out.probs) {
        const p = out.probs.reshape([-1, q.groups, q.codebookSize]).permute([1, 0, 2]); // [G, N, M]
        const soft = p.matmul(codebook).permute([1, 0, 2]).reshape([n, 7, 7, q.dim]).permute([0, 3, 1, 2]);
        softSum += model.decoder.forward(soft).sigmoid().sub(x).square().mean().item() * n;
      } else {
        softSum += reconstruction.sub(x).square().mean().item() * n;
      }
      seen += n;
    }
  });
  model.train();
  const r = tracker.result().overall;
  const mseHard = hardSum / seen, mseSoft = softSum / seen;
  return {
    codeUsage: r.codeUsage,
    perplexityOfMean: r.perplexityOfMean,
    perplexityOfMeanSoft: r.perplexityOfMeanSoft,
    individualPerplexity: r.individualPerplexity,
    perSampleCodeUsage: r.perSampleCodeUsage,
    mseHard,
    mseSoft,
    psnrHard: psnr(mseHard),
    psnrSoft: psnr(mseSoft),
    histogram: r.histogram,
  };
}
