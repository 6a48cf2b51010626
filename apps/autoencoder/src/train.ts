/**
 * One training run: data, model, the training loop with checkpoints, and the evaluation.
 *
 * A run lives in a directory: config.json (written first), history.csv (one row per step),
 * checkpoint.safetensors (every `checkpointEvery` steps and at the end, written atomically), and
 * at the end metrics.json and the report. `resume` continues from the checkpoint bit for bit:
 * model, optimizer, the quantizer's generator and the data order are all restored, and history
 * rows after the checkpoint's step are dropped.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, noGrad, setBackend, tensor, type Tensor } from '@simplex-vq/tensor';
import { Adam, loadCheckpoint, saveCheckpoint, writeFileAtomic } from '@simplex-vq/nn';
import { CodeUsageTracker } from '@simplex-vq/vq';
import { Batcher, gatherImages, loadMnist, type ImageSet } from '@simplex-vq/datasets';
import { useCpuBackend } from '@simplex-vq/app-kit';
import { normalizeSavedConfig, type TrainConfig } from './config.js';
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

/** Trains (or resumes) the run in `dir`, evaluates it, and returns its metrics. */
export async function trainRun(dir: string, cfgIn: TrainConfig, opts: TrainOptions = {}): Promise<RunResult> {
  mkdirSync(dir, { recursive: true });
  const ckptPath = join(dir, 'checkpoint.safetensors');
  const historyPath = join(dir, 'history.csv');
  let config = cfgIn;
  if (opts.resume) {
    if (!existsSync(ckptPath)) throw new Error(`cannot resume: no checkpoint at ${ckptPath}`);
    const saved = normalizeSavedConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>);
    config = { ...saved, steps: cfgIn.steps > saved.steps ? cfgIn.steps : saved.steps, threads: cfgIn.threads };
  }
  writeFileAtomic(join(dir, 'config.json'), new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  const backendName = await useBackend(config.backend, config.threads);
  opts.onBackend?.(backendName);

  const { train, test } = loadMnist();
  const model = new Autoencoder({ ...config, outputBias: config.outputBias === 'data' ? meanPixelLogit(train) : undefined }, new Generator(config.seed));
  const optimizer = new Adam(model.parameters(), { lr: config.lr });
  const batcher = new Batcher(train.count, config.batchSize, { seed: config.seed });
  let start = 0;
  let trainSeconds = 0;
  if (opts.resume) {
    const loaded = loadCheckpoint(ckptPath, { model, optimizer });
    start = loaded.step ?? 0;
    const meta = loaded.metadata;
    batcher.setState(JSON.parse(meta.batcher ?? '{"epoch":0,"position":0}'));
    trainSeconds = Number(meta.trainSeconds ?? 0);
    // Keep the history up to the checkpoint; later rows are recomputed.
    const rows = existsSync(historyPath) ? readFileSync(historyPath, 'utf8').trim().split('\n').slice(1) : [];
    const kept = rows.filter((r) => Number(r.split(',')[0]) <= start);
    writeFileSync(historyPath, [HISTORY_HEADER, ...kept].join('\n') + '\n');
  } else {
    writeFileSync(historyPath, `${HISTORY_HEADER}\n`);
  }

  const save = (step: number) =>
    saveCheckpoint(ckptPath, {
      model,
      optimizer,
      step,
      config,
      metadata: { batcher: JSON.stringify(batcher.getState()), trainSeconds: String(trainSeconds) },
    });

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
    pending.push([step, info.loss, info.recon, info.quantizerLoss, info.batchUsage, trainSeconds.toFixed(3)].join(','));
    opts.onStep?.(info);
    if (step % config.checkpointEvery === 0 || step === config.steps) {
      appendFileSync(historyPath, pending.join('\n') + '\n');
      pending = [];
      save(step);
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
