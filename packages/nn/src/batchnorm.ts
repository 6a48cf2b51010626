/**
 * Batch normalization (Ioffe & Szegedy, 2015), as PyTorch's BatchNorm1d and BatchNorm2d: each
 * channel c is standardized over every axis but the channel axis (1), then scaled and shifted:
 *
 *   training:  y = (x − μ_B) / √(σ²_B + eps) · γ + β,   μ_B, σ²_B the batch's mean and biased variance
 *              running_mean ← (1 − m)·running_mean + m·μ_B
 *              running_var  ← (1 − m)·running_var  + m·σ²_B · n/(n − 1)   (unbiased, n values per channel)
 *   eval:      y = (x − running_mean) / √(running_var + eps) · γ + β
 *
 * m is `momentum` (0.1); with `momentum: null` the running statistics are the cumulative average
 * of every batch so far (m = 1/numBatchesTracked), as PyTorch's momentum=None. The running
 * statistics are buffers (runningMean, runningVar, numBatchesTracked: PyTorch's names in
 * camelCase), so they are saved in state dicts and checkpoints. The gradient in training flows
 * through μ_B and σ²_B (the batch statistics are functions of the batch); the running statistics
 * are updated without recording.
 */
import { ShapeError, noGrad, ones, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { Module, Parameter } from './module.js';

export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the new batch in the running statistics (default 0.1); null: cumulative average. */
  momentum?: number | null;
  /** Learn a per-channel scale γ (ones) and shift β (zeros) (default true). */
  affine?: boolean;
  /** Keep running statistics and use them in eval (default true); false: batch statistics always. */
  trackRunningStats?: boolean;
}

/** What BatchNorm1d and BatchNorm2d share; they differ only in the input ranks they accept. */
abstract class BatchNorm extends Module {
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  declare readonly weight: Tensor | null;
  declare readonly bias: Tensor | null;
  /** [C] */
  declare readonly runningMean: Tensor | null;
  /** [C] */
  declare readonly runningVar: Tensor | null;
  /** int32 [] */
  declare readonly numBatchesTracked: Tensor | null;
  /** The input ranks this layer accepts, and how to name them in an error. */
  protected abstract readonly ranks: readonly number[];
  protected abstract readonly layout: string;

  constructor(
    readonly numFeatures: number,
    opts: BatchNormOptions = {},
  ) {
    super();
    const name = this.constructor.name;
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new ShapeError(name, `numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = opts.eps ?? 1e-5;
    if (!(this.eps >= 0) || !Number.isFinite(this.eps)) throw new ShapeError(name, `eps must be a finite number ≥ 0, got ${this.eps}`);
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) throw new ShapeError(name, `momentum must be in [0, 1] or null, got ${this.momentum}`);
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    this.registerParameter('weight', this.affine ? new Parameter(ones([numFeatures])) : null);
    this.registerParameter('bias', this.affine ? new Parameter(zeros([numFeatures])) : null);
    const track = this.trackRunningStats;
    this.registerBuffer('runningMean', track ? zeros([numFeatures]) : null);
    this.registerBuffer('runningVar', track ? ones([numFeatures]) : null);
    this.registerBuffer('numBatchesTracked', track ? tensor(new Int32Array(1), { shape: [] }) : null);
  }

  /** Sets the running statistics back to mean 0, variance 1, no batches (PyTorch's reset_running_stats). */
  resetRunningStats(): void {
    if (!this.trackRunningStats) return;
    noGrad(() => {
      this.runningMean!.assign(zeros([this.numFeatures]));
      this.runningVar!.assign(ones([this.numFeatures]));
      this.numBatchesTracked!.assign(tensor(new Int32Array(1), { shape: [] }));
    });
  }

  override forward(x: Tensor): Tensor {
    const name = this.constructor.name;
    if (!this.ranks.includes(x.ndim) || x.shape[1] !== this.numFeatures) {
      throw new ShapeError(name, `expects input ${this.layout} with C = ${this.numFeatures}, got [${x.shape.join(', ')}]`);
    }
    const axes = [0, ...Array.from({ length: x.ndim - 2 }, (_, i) => i + 2)];
    // [1, C, 1, ...]: broadcasts a per-channel vector against x.
    const perChannel = (v: Tensor) => v.reshape([1, this.numFeatures, ...Array<number>(x.ndim - 2).fill(1)]);
    let y: Tensor;
    if (this.training || !this.trackRunningStats) {
      const n = x.size / this.numFeatures;
      if (this.training && n < 2) throw new ShapeError(name, `needs more than 1 value per channel in training, got input [${x.shape.join(', ')}]`);
      const mean = x.mean(axes, true);
      const centered = x.sub(mean);
      const variance = centered.square().mean(axes, true); // biased: what normalizes
      y = centered.div(variance.add(this.eps).sqrt());
      if (this.training && this.trackRunningStats) this.updateRunningStats(mean, variance, n);
    } else {
      y = x.sub(perChannel(this.runningMean!)).div(perChannel(this.runningVar!).add(this.eps).sqrt());
    }
    if (this.weight) y = y.mul(perChannel(this.weight));
    if (this.bias) y = y.add(perChannel(this.bias));
    return y;
  }

  /** running ← (1 − m)·running + m·batch, with the unbiased variance σ²·n/(n − 1). */
  private updateRunningStats(mean: Tensor, variance: Tensor, n: number): void {
    noGrad(() => {
      const count = this.numBatchesTracked!.item() + 1;
      this.numBatchesTracked!.assign(tensor(Int32Array.of(count), { shape: [] }));
      const m = this.momentum ?? 1 / count;
      const batchMean = mean.detach().reshape([this.numFeatures]);
      const unbiased = variance.detach().reshape([this.numFeatures]).mul(n / (n - 1));
      this.runningMean!.assign(this.runningMean!.mul(1 - m).add(batchMean.mul(m)));
      this.runningVar!.assign(this.runningVar!.mul(1 - m).add(unbiased.mul(m)));
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

/** Batch normalization of [N, C] or [N, C, L] inputs (statistics over N, or N and L). */
export class BatchNorm1d extends BatchNorm {
  protected readonly ranks = [2, 3] as const;
  protected readonly layout = '[N, C] or [N, C, L]';
}

/** Batch normalization of [N, C, H, W] inputs (statistics over N, H and W). */
export class BatchNorm2d extends BatchNorm {
  protected readonly ranks = [4] as const;
  protected readonly layout = '[N, C, H, W]';
}
