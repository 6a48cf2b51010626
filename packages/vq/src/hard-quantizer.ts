/**
 * What the nearest-code quantizers share (VectorQuantizer for `ste` and `ste-ema`, SimVQ): each
 * row takes the code nearest to it, and the output is that code; they differ in how the codebook
 * is stored and learned.
 *
 *   k = argmin_m ‖z − E_m‖²                    (cosine: z and every E_m l2-normalized first,
 *                                               i.e. the code of largest cosine similarity)
 *   forward: E_k;   gradient to z:  g          estimator 'ste' (straight-through, q = z + sg(E_k − z))
 *                                   λRᵀg       estimator 'rotation' (rotation-trick.ts)
 *   loss = β‖z − sg(E_k)‖²  +  w_c‖sg(z) − E_k‖²  +  w_o·L_orth(E)
 *          commitment         codebook (not for    orthogonal regularization
 *          (trains z)         EMA codebooks)       (orthogonal-regularizer.ts)
 *
 * With `cosine` the quantizer works on the unit sphere (Yu et al., 2022, "Vector-quantized image
 * modeling with improved VQGAN"; vector-quantize-pytorch's `use_cosine_sim`): the output is the
 * unit-norm code, whatever the norm of z, and the commitment and codebook terms compare unit
 * vectors. The stored entries keep their norms; effectiveCodebook() gives them normalized.
 */
import { ShapeError, noGrad, type Generator, type Tensor } from '@simplex-vq/tensor';
import { CodebookQuantizer, type CodebookOptions } from './codebook.js';
import { orthogonalRegularizer } from './orthogonal-regularizer.js';
import { l2normalize, squaredDistances, type QuantizerOutput } from './quantizer.js';
import { rotateTo } from './rotation-trick.js';

/** How the decoder's gradient reaches z through a hard code: 'ste' (unchanged) or 'rotation' (the rotation trick). */
export type GradientEstimator = 'ste' | 'rotation';

export interface HardQuantizerOptions extends CodebookOptions {
  /** Commitment weight β (default 0.25). */
  commitment?: number;
  /** Weight w_c of the codebook loss ‖sg(z) − E_k‖² (default 1; EMA codebooks have none). */
  codebookWeight?: number;
  /** The gradient to z: 'ste' (default) or 'rotation'. */
  estimator?: GradientEstimator;
  /** Cosine-similarity codes: z and the codes l2-normalized before the lookup (default false). */
  cosine?: boolean;
  /** Weight w_o of the orthogonal regularization of the codebook (default 0: off). */
  orthogonalWeight?: number;
  generator?: Generator;
}

export abstract class HardQuantizer extends CodebookQuantizer {
  readonly commitment: number;
  readonly codebookWeight: number;
  readonly estimator: GradientEstimator;
  readonly cosine: boolean;
  readonly orthogonalWeight: number;

  constructor(opts: HardQuantizerOptions) {
    super(opts);
    const name = this.constructor.name;
    this.commitment = opts.commitment ?? 0.25;
    this.codebookWeight = opts.codebookWeight ?? 1;
    this.estimator = opts.estimator ?? 'ste';
    this.cosine = opts.cosine ?? false;
    this.orthogonalWeight = opts.orthogonalWeight ?? 0;
    for (const [k, v] of Object.entries({ commitment: this.commitment, codebookWeight: this.codebookWeight, orthogonalWeight: this.orthogonalWeight })) {
      if (!(v >= 0) || !Number.isFinite(v)) throw new ShapeError(name, `${k} must be a finite number ≥ 0, got ${v}`);
    }
    if (this.estimator !== 'ste' && this.estimator !== 'rotation') throw new ShapeError(name, `estimator must be 'ste' or 'rotation', got '${String(this.estimator)}'`);
  }

  /** The stored entries, [G, M, d] (before the normalization of `cosine`). */
  protected abstract codebookEntries(): Tensor;

  /** Whether the codebook learns from the codebook loss (false for EMA codebooks). */
  protected get learnsFromLoss(): boolean {
    return true;
  }

  /** In training, after the batch is assigned: the EMA update (zg [G, N, d], idx [G, N]). */
  protected afterAssignment(_zg: Tensor, _idx: Tensor): void {}

  /** The codebook lookups use, [G, M, d]: the entries, l2-normalized with `cosine`. */
  effectiveCodebook(): Tensor {
    const entries = this.codebookEntries();
    return this.cosine ? l2normalize(entries) : entries;
  }

  override forward(input: Tensor): QuantizerOutput {
    const lead = input.shape.slice(0, -1);
    const rows = this.split(this.rows(input)); // [G, N, d]
    const zg = this.cosine ? l2normalize(rows) : rows;
    this.initFromData(zg);
    const nearest = () => noGrad(() => squaredDistances(zg.detach(), this.effectiveCodebook()).argmin(-1));
    let idx = nearest();
    // Codes unused by recent batches (this one included) restart on rows of this batch.
    if (this.reviveDeadCodes(zg, idx)) idx = nearest();
    const codebook = this.effectiveCodebook();
    const e = this.lookup(codebook, idx); // [G, N, d]
    // As in the reference VQ-VAE: this batch is quantized with the codebook it was assigned
    // with; an EMA update it contributes takes effect from the next step.
    if (this.training) this.afterAssignment(zg, idx);
    const stats: Record<string, number> = {};
    const commit = zg.sub(e.detach()).square().mean();
    let loss = commit.mul(this.commitment);
    stats.commitment = commit.item();
    if (this.learnsFromLoss) {
      const codebookLoss = zg.detach().sub(e).square().mean();
      loss = loss.add(codebookLoss.mul(this.codebookWeight));
      stats.codebook = codebookLoss.item();
    }
    if (this.orthogonalWeight > 0 && this.training) {
      const orth = orthogonalRegularizer(codebook);
      loss = loss.add(orth.mul(this.orthogonalWeight));
      stats.orthogonal = orth.item();
    }
    const q = this.estimator === 'rotation' ? rotateTo(zg, e) : zg.add(e.sub(zg).detach());
    stats.batchUsage = this.batchUsage(idx);
    return { quantized: this.merge(q).reshape(input.shape), indices: this.shapeIndices(idx, lead), loss, stats };
  }
}
