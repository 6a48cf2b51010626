/**
 * The discrete autoencoder of apps/autoencoder (its Autoencoder class, from
 * @simplex-vq/autoencoder/model), smaller so it trains at a watchable pace in a page, on the MNIST
 * slice shipped with the site: 448 digits to train on, the last 64 held out for the pictures and
 * the code-usage figures.
 */
import { Autoencoder, meanPixelLogit, type ModelConfig } from '@simplex-vq/autoencoder/model';
import { Adam, parseCheckpoint, restoreCheckpoint } from '@simplex-vq/nn';
import { Generator, noGrad, tensor, type Tensor } from '@simplex-vq/tensor';
import { CodeUsageTracker, hasCodebook, isMethod, type Method, type UsageStats } from '@simplex-vq/vq';
import { pushThinned } from './chart.js';
import type { MnistSlice } from './mnist-format.js';
import { Rate } from './rate.js';

export const HELD_OUT = 64;
export const BATCH = 16;
const LATENT = 49; // a 7×7 grid of vectors per digit

export const AE_METHODS: Array<{ method: Method; title: string }> = [
  { method: 'knn-ce', title: 'KNN-CE (the paper)' },
  { method: 'knn-l2', title: 'KNN-L2' },
  { method: 'perplexity', title: 'perplexity' },
  { method: 'smooth', title: 'smooth, no regularizer' },
  { method: 'ste', title: 'STE (VQ-VAE)' },
  { method: 'ste+restart', title: 'STE + dead-code restart' },
  { method: 'gumbel', title: 'Gumbel-softmax' },
  { method: 'simvq', title: 'SimVQ' },
  { method: 'fsq', title: 'FSQ (no codebook)' },
];

/** The page's model: apps/autoencoder's, with fewer channels and codes (its CLI default is C = 32, M = 256, 32 hidden). */
export function pageModelConfig(method: Method): ModelConfig {
  return { method, init: hasCodebook(method) ? 'data' : 'none', dim: 8, codebookSize: 32, groups: 1, hidden: 16, k: 4, shards: 1 };
}

export interface Evaluation {
  /** Mean squared error of the held-out digits with hard codes (eval mode). */
  mse: number;
  usage: UsageStats;
  /** Reconstructions of the first digits, [n·28·28]. */
  reconstructions: Float32Array;
  /** Codes of the first digits, [n·49]. */
  codes: Int32Array;
}

function digits(slice: MnistSlice, from: number, count: number): Tensor {
  const size = slice.height * slice.width;
  return tensor(slice.images.slice(from * size, (from + count) * size), { shape: [count, 1, slice.height, slice.width] });
}

/** Runs `model` in eval mode on the held-out digits: MSE, code usage, and the first `show` reconstructions and code maps. */
export function evaluate(model: Autoencoder, slice: MnistSlice, show = 8): Evaluation {
  const x = digits(slice, slice.count - HELD_OUT, HELD_OUT);
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() => {
      const out = model.forward(x);
      const q = model.quantizer;
      const tracker = new CodeUsageTracker(q.codebookSize, q.groups);
      const indices = out.quantizer.indices.reshape(q.groups === 1 ? [-1] : [-1, q.groups]);
      tracker.update(indices, { rowsPerSample: LATENT, ...(out.quantizer.probs ? { probs: out.quantizer.probs } : {}) });
      const mse = out.reconstruction.sub(x).square().mean().item();
      const pixels = slice.height * slice.width;
      const codes = indices.data() as Int32Array;
      return {
        mse,
        usage: tracker.result().overall,
        reconstructions: (out.reconstruction.data() as Float32Array).slice(0, show * pixels),
        codes: codes.slice(0, show * LATENT * q.groups).filter((_, i) => i % q.groups === 0),
      };
    });
  } finally {
    if (wasTraining) model.train();
  }
}

export class AutoencoderTrainer {
  method: Method;
  model!: Autoencoder;
  optimizer!: Adam;
  step = 0;
  loss = NaN;
  batchUsage = NaN;
  evaluation: Evaluation | null = null;
  readonly history: Array<{ step: number; codeUsage: number; mse: number }> = [];
  readonly steps = new Rate(4000);
  private order: Uint32Array = new Uint32Array(0);
  private cursor = 0;
  private rng = new Generator(0);

  constructor(readonly slice: MnistSlice, method: Method = 'knn-ce') {
    this.method = method;
    this.reset();
  }

  get trainCount(): number {
    return this.slice.count - HELD_OUT;
  }

  reset(method = this.method): void {
    this.method = method;
    const s = this.slice;
    const images = s.images.subarray(0, this.trainCount * s.height * s.width);
    const bias = meanPixelLogit({ images, labels: new Int32Array(this.trainCount), count: this.trainCount, height: s.height, width: s.width });
    this.model = new Autoencoder({ ...pageModelConfig(method), outputBias: bias }, new Generator(0));
    this.model.train();
    this.optimizer = new Adam(this.model.parameters(), { lr: 2e-3 });
    this.rng = new Generator(1);
    this.order = new Uint32Array(0);
    this.cursor = 0;
    this.step = 0;
    this.loss = NaN;
    this.batchUsage = NaN;
    this.evaluation = null;
    this.history.length = 0;
    this.steps.reset();
  }

  /** The next batch of training digits, in a shuffled order renewed every epoch. */
  private batch(): Tensor {
    if (this.cursor + BATCH > this.order.length) {
      this.order = Uint32Array.from({ length: this.trainCount }, (_, i) => i);
      for (let i = this.order.length - 1; i > 0; i--) {
        const j = Math.floor(this.rng.random() * (i + 1));
        [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
      }
      this.cursor = 0;
    }
    const size = this.slice.height * this.slice.width;
    const data = new Float32Array(BATCH * size);
    for (let b = 0; b < BATCH; b++) {
      const i = this.order[this.cursor + b]!;
      data.set(this.slice.images.subarray(i * size, (i + 1) * size), b * size);
    }
    this.cursor += BATCH;
    return tensor(data, { shape: [BATCH, 1, this.slice.height, this.slice.width] });
  }

  /** Trains until `budgetMs` has passed (at least one step). */
  train(budgetMs: number): void {
    const t0 = performance.now();
    do {
      this.optimizer.zeroGrad();
      const { loss, quantizer } = this.model.trainingLoss(this.batch());
      loss.backward();
      this.optimizer.step();
      this.step++;
      this.steps.tick();
      this.loss = loss.item();
      this.batchUsage = quantizer.stats.batchUsage ?? NaN;
    } while (performance.now() - t0 < budgetMs);
  }

  evaluate(): Evaluation {
    this.evaluation = evaluate(this.model, this.slice);
    pushThinned(this.history, { step: this.step, codeUsage: this.evaluation.usage.codeUsage, mse: this.evaluation.mse });
    return this.evaluation;
  }
}

export interface LoadedModel {
  model: Autoencoder;
  config: ModelConfig;
  step: number | null;
  file: string;
}

const num = (c: Record<string, unknown>, key: string, fallback?: number): number => {
  const v = c[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`its config has no number "${key}"`);
  return v;
};

/**
 * A checkpoint written by `simplex-ae train` (checkpoint.safetensors): the model is built from the
 * config saved in its metadata and its weights restored. Errors say what does not fit.
 */
export function loadAutoencoderCheckpoint(bytes: Uint8Array, file: string): LoadedModel {
  const loaded = parseCheckpoint(bytes, file);
  const c = loaded.config as Record<string, unknown> | null;
  if (!c || typeof c !== 'object') throw new Error(`${file}: no run configuration in its metadata; is it a checkpoint of simplex-ae train?`);
  const method = String(c.method);
  if (!isMethod(method)) throw new Error(`${file}: unknown method "${method}" in its config`);
  const init = c.init === 'none' || c.init === 'data' || c.init === 'normal' ? c.init : 'normal';
  const config: ModelConfig = {
    method,
    init,
    initStd: typeof c.initStd === 'number' ? c.initStd : undefined,
    restartThreshold: typeof c.restartThreshold === 'number' ? c.restartThreshold : undefined,
    dim: num(c, 'dim'),
    codebookSize: num(c, 'codebookSize'),
    groups: num(c, 'groups', 1),
    levels: typeof c.levels === 'number' ? c.levels : undefined,
    hidden: num(c, 'hidden'),
    k: num(c, 'k', 1),
    shards: num(c, 'shards', 1),
    vertexSubset: typeof c.vertexSubset === 'number' ? c.vertexSubset : undefined,
  };
  const model = new Autoencoder(config, new Generator(typeof c.seed === 'number' ? c.seed : 0));
  restoreCheckpoint(loaded, { model }, file);
  model.eval();
  return { model, config, step: loaded.step, file };
}
