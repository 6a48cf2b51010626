/**
 * The VQ-VAE quantizer (the `ste` and `ste-ema` baselines): each row takes its nearest code, and
 * the straight-through estimator passes the decoder's gradient to the encoder unchanged:
 *
 *   q = z + sg(E_k − z)      (forward: E_k; backward: ∂q/∂z = I)
 *   loss = ‖sg(z) − E_k‖²  (codebook; replaced by EMA updates in ste-ema)  + β‖z − sg(E_k)‖²
 *
 * EMA (van den Oord et al., 2017, appendix): per code, running counts N_m and sums S_m of the
 * rows assigned to it; E_m = S_m / N_m (Laplace-smoothed). The options of every nearest-code
 * quantizer (hard-quantizer.ts: the rotation trick, cosine similarity, loss weights, orthogonal
 * regularization) and of every codebook (codebook.ts: k-means initialization, dead-code
 * replacement) apply.
 */
import { Generator, ShapeError, defaultGenerator, mm, noGrad, randn, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { Parameter } from '@simplex-vq/nn';
import { HardQuantizer, type HardQuantizerOptions } from './hard-quantizer.js';

export interface VectorQuantizerOptions extends HardQuantizerOptions {
  /** Update the codebook by exponential moving averages instead of its loss (ste-ema). */
  ema?: boolean;
  /** EMA decay (default 0.99). */
  decay?: number;
}

export class VectorQuantizer extends HardQuantizer {
  /** [G, M, d]: a parameter, or a buffer updated by EMA. */
  declare readonly codebook: Tensor;
  /** EMA state: counts [G, M] and sums [G, M, d]. */
  declare readonly emaCount: Tensor | null;
  declare readonly emaSum: Tensor | null;
  readonly ema: boolean;
  readonly decay: number;
  protected readonly generator: Generator;

  constructor(opts: VectorQuantizerOptions) {
    super(opts);
    this.generator = opts.generator ?? defaultGenerator();
    // Registered so checkpoints save its state (k-means and dead-code replacement draw from it).
    this.registerGenerator('sampler', this.generator);
    this.ema = opts.ema ?? false;
    this.decay = opts.decay ?? 0.99;
    if (this.ema && opts.codebookWeight !== undefined) throw new ShapeError('VectorQuantizer', 'codebookWeight does not apply with ema: an EMA codebook is not trained by a loss');
    if (this.ema && this.orthogonalWeight > 0) throw new ShapeError('VectorQuantizer', 'orthogonalWeight does not apply with ema: an EMA codebook is not trained by gradients, so the regularization could not move it');
    const { groups: G, codebookSize: M, groupDim: d } = this;
    const init = randn([G, M, d], { generator: this.generator }).mul(this.initStd);
    if (this.ema) {
      this.registerBuffer('codebook', init);
      this.registerBuffer('emaCount', zeros([G, M]).add(1));
      this.registerBuffer('emaSum', init.clone());
    } else {
      this.registerParameter('codebook', new Parameter(init));
      this.registerBuffer('emaCount', null);
      this.registerBuffer('emaSum', null);
    }
  }

  protected codebookEntries(): Tensor {
    return this.codebook;
  }

  protected override get learnsFromLoss(): boolean {
    return !this.ema;
  }

  protected override afterAssignment(zg: Tensor, idx: Tensor): void {
    if (this.ema) this.emaUpdate(zg, idx);
  }

  private emaUpdate(zg: Tensor, idx: Tensor): void {
    noGrad(() => {
      const onehot = idx.oneHot(this.codebookSize, 'float32'); // [G, N, M]
      const counts = onehot.sum(1); // [G, M]
      const sums = mm(onehot, zg.detach(), true, false); // [G, M, d]
      const d = this.decay;
      const count = this.emaCount!.mul(d).add(counts.mul(1 - d));
      const sum = this.emaSum!.mul(d).add(sums.mul(1 - d));
      this.emaCount!.assign(count);
      this.emaSum!.assign(sum);
      // Laplace smoothing keeps empty codes finite: N_m ← (N_m + ε) / (n + Mε) · n.
      const eps = 1e-5;
      const n = count.sum(1, true);
      const smoothed = count.add(eps).div(n.add(this.codebookSize * eps)).mul(n);
      this.codebook.assign(sum.div(smoothed.unsqueeze(-1)));
    });
  }

  /**
   * Sets entries (and, for EMA, their running sums so the next update keeps them). A restarted
   * code's EMA count becomes the restart threshold, as its usage does, so it has some inertia
   * instead of jumping to the mean of the next few rows it gets.
   */
  protected setEntries(values: Tensor, codes?: number[]): void {
    const book = this.mergeEntries(this.codebook, values, codes);
    this.codebook.assign(book);
    if (!this.ema) return;
    if (codes && this.restart) {
      const count = this.emaCount!.data().slice();
      for (const c of codes) count[c] = this.restart.threshold;
      this.emaCount!.assign(tensor(count, { shape: this.emaCount!.shape }));
    }
    this.emaSum!.assign(book.mul(this.emaCount!.unsqueeze(-1)));
  }
}

