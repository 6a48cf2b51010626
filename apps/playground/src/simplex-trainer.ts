/**
 * The live Figure 1: the toy model of `simplex-ae toy` (ToyModel from @simplex-vq/autoencoder/toy:
 * 350 points in three blobs, MLP encoder and decoder, a quantizer with M = 3 codes) trained a few
 * steps per animation frame. After each frame the p_n of the last step are read back once and
 * summarized with the metrics of @simplex-vq/vq (code usage, individual perplexity).
 */
import { ToyModel, TOY_BLOBS } from '@simplex-vq/autoencoder/toy';
import { CodeUsageTracker, type Method, type QuantizerOutput } from '@simplex-vq/vq';
import type { Tensor } from '@simplex-vq/tensor';
import { pushThinned } from './chart.js';
import { Rate } from './rate.js';

export interface SimplexMethod {
  method: Method;
  title: string;
  /** What a learner should see. */
  note: string;
  /** Whether K and the temperature apply. */
  knn?: boolean;
  smoothed?: boolean;
}

export const SIMPLEX_METHODS: SimplexMethod[] = [
  { method: 'smooth', title: 'smooth — no regularizer', smoothed: true, note: 'Nothing pushes the p_n anywhere: they settle wherever reconstruction likes, often inside the triangle, and codes can go unused.' },
  { method: 'perplexity', title: 'perplexity regularizer', smoothed: true, note: 'Maximizes the perplexity of the batch mean p̄: all three codes get used, but each p_n may stay spread over the triangle (individual perplexity well above 1).' },
  { method: 'knn-l2', title: 'KNN-L2 (the paper)', knn: true, smoothed: true, note: 'Each vertex pulls its K nearest p_n onto itself (squared distance): points move to the corners, every corner keeps points, individual perplexity falls toward 1.' },
  { method: 'knn-ce', title: 'KNN-CE (the paper, recommended)', knn: true, smoothed: true, note: 'As KNN-L2 with cross-entropy −log p_m as the distance: a stronger pull at the corners, so points reach the vertices faster.' },
  { method: 'gumbel', title: 'Gumbel-softmax', note: 'Soft samples with Gumbel noise; the dots are the softmax probabilities, whose temperature is annealed.' },
  { method: 'ste', title: 'STE (VQ-VAE)', note: 'A hard quantizer: every point is exactly at the vertex of its nearest code. Watch code usage: a code whose entry is never nearest stays dead.' },
  { method: 'ste+restart', title: 'STE + dead-code restart', note: 'Hard codes, and a code unused for a while is moved onto an encoder output: usage recovers.' },
  { method: 'simvq', title: 'SimVQ', note: 'Hard codes from a frozen random basis times a learned linear map.' },
  { method: 'fsq', title: 'FSQ', note: 'No codebook: each channel is rounded to a few levels (3 codes here). Points sit at the vertex of their level.' },
];

export interface SimplexSettings {
  method: Method;
  /** KNN: neighbours per vertex. */
  k: number;
  /** Smoothed quantizers: the softmax temperature. */
  temperature: number;
  lr: number;
  seed: number;
}

export const DEFAULT_SIMPLEX: SimplexSettings = { method: 'knn-ce', k: 8, temperature: 1, lr: 0.01, seed: 0 };

export interface SimplexSnapshot {
  step: number;
  method: Method;
  /** Fraction of the 3 codes that are some point's code. */
  codeUsage: number;
  /** Mean of exp H(p_n): 1 when every p_n is a vertex, 3 when all are the centre. */
  individualPerplexity: number;
  /** exp H of the mean p̄ (soft), or of the code histogram for hard quantizers. */
  perplexityOfMean: number;
  /** Mean of 1 − max p_n: 0 when every point is at a vertex. */
  meanVertexDistance: number;
  loss: number;
  histogram: number[];
}

/** Which blob each data row comes from (toyData's order). */
export const BLOB_OF_ROW: Uint8Array = (() => {
  const out = new Uint8Array(TOY_BLOBS.reduce((s, b) => s + b.size, 0));
  let row = 0;
  TOY_BLOBS.forEach((b, i) => out.fill(i, row, (row += b.size)));
  return out;
})();

export class SimplexTrainer {
  settings: SimplexSettings;
  model: ToyModel;
  step = 0;
  /** p_n of the last observed step, [N·3]. */
  points: Float32Array<ArrayBufferLike> = new Float32Array(0);
  snapshot: SimplexSnapshot | null = null;
  readonly history: Array<{ step: number; codeUsage: number; individualPerplexity: number; perplexityOfMean: number; loss: number }> = [];
  readonly steps = new Rate();
  private last: { loss: Tensor; out: QuantizerOutput } | null = null;
  private readonly tracker = new CodeUsageTracker(3);

  constructor(settings: SimplexSettings = DEFAULT_SIMPLEX) {
    this.settings = { ...settings };
    this.model = this.build();
  }

  private build(): ToyModel {
    const s = this.settings;
    return new ToyModel(s.method, { seed: s.seed, lr: s.lr, k: s.k, temperature: s.temperature });
  }

  /** New settings; anything but the learning rate starts the model again (on the current backend). */
  configure(next: Partial<SimplexSettings>, restart = false): void {
    const before = this.settings;
    this.settings = { ...before, ...next };
    const onlyLr = Object.keys(next).every((k) => k === 'lr');
    if (onlyLr && !restart) {
      for (const g of this.model.optimizer.paramGroups) g.lr = this.settings.lr;
      return;
    }
    this.reset();
  }

  reset(): void {
    this.model = this.build();
    this.step = 0;
    this.last = null;
    this.snapshot = null;
    this.points = new Float32Array(0);
    this.history.length = 0;
    this.steps.reset();
  }

  /** Trains until `budgetMs` has passed (at least one step). Returns the steps taken. */
  train(budgetMs: number): number {
    const t0 = performance.now();
    let n = 0;
    do {
      this.last = this.model.step();
      this.step++;
      n++;
      this.steps.tick();
    } while (performance.now() - t0 < budgetMs);
    return n;
  }

  /** Reads the last step's p_n and codes back from the backend and summarizes them. */
  observe(): SimplexSnapshot | null {
    if (!this.last) return this.snapshot;
    const { loss, out } = this.last;
    const indices = out.indices.data();
    const n = indices.length;
    let points: Float32Array;
    if (out.probs) {
      points = out.probs.data() as Float32Array;
    } else {
      // A hard quantizer: each point is the vertex of its code.
      points = new Float32Array(n * 3);
      for (let i = 0; i < n; i++) points[i * 3 + indices[i]!] = 1;
    }
    this.tracker.reset();
    this.tracker.update(out.indices, out.probs ? { probs: out.probs } : {});
    const stats = this.tracker.result().overall;
    let far = 0;
    for (let i = 0; i < n; i++) far += 1 - Math.max(points[i * 3]!, points[i * 3 + 1]!, points[i * 3 + 2]!);
    this.points = points;
    this.snapshot = {
      step: this.step,
      method: this.settings.method,
      codeUsage: stats.codeUsage,
      individualPerplexity: stats.individualPerplexity,
      perplexityOfMean: stats.perplexityOfMeanSoft ?? stats.perplexityOfMean,
      meanVertexDistance: far / n,
      loss: loss.item(),
      histogram: stats.histogram,
    };
    const { codeUsage, individualPerplexity, perplexityOfMean } = this.snapshot;
    pushThinned(this.history, { step: this.step, codeUsage, individualPerplexity, perplexityOfMean, loss: this.snapshot.loss });
    return this.snapshot;
  }
}
