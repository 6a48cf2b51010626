/**
 * Multi-head self-attention (torch.nn.MultiheadAttention with query = key = value, batch first):
 *
 *   [q k v] = x W_inᵀ + b_in,  split into h heads of size d = embedDim / h
 *   head_i  = softmax(q_i k_iᵀ / √d + mask) v_i
 *   y       = concat(head_1 … head_h) W_outᵀ + b_out
 *
 * Masked keys (padding, or the future with `isCausal`) get a score of −1e9 before the softmax, so
 * their weight underflows to exactly 0. A finite value rather than −∞ keeps a row whose keys are
 * all masked finite (uniform weights) instead of NaN.
 */
import { ShapeError, defaultGenerator, mm, tensor, zeros, type Generator, type Tensor } from '@simplex-vq/tensor';
import { Dropout } from './dropout.js';
import { xavierUniform } from './init.js';
import { Linear } from './linear.js';
import { Module, Parameter } from './module.js';

/** The score given to masked keys. */
export const MASKED_SCORE = -1e9;

export interface MultiheadSelfAttentionOptions {
  /** Dropout on the attention weights, in training (default 0). */
  dropout?: number;
  /** Biases on the input and output projections (default true). */
  bias?: boolean;
  /** Generator for the initial values and the dropout seed (default: the global one). */
  generator?: Generator;
}

export interface AttentionForwardOptions {
  /** [B, T], int32 or float: non-zero (1) marks a padded position, which no query attends to. */
  keyPaddingMask?: Tensor;
  /** Each position attends only to itself and earlier ones. */
  isCausal?: boolean;
}

export class MultiheadSelfAttention extends Module {
  readonly headDim: number;
  /** [3·embedDim, embedDim]: the q, k and v projections stacked (PyTorch's in_proj_weight). */
  declare readonly inProjWeight: Tensor;
  declare readonly inProjBias: Tensor | null;
  declare readonly outProj: Linear;
  declare readonly dropout: Dropout;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    opts: MultiheadSelfAttentionOptions = {},
  ) {
    super();
    if (!Number.isInteger(numHeads) || numHeads < 1 || embedDim % numHeads !== 0) {
      throw new ShapeError('MultiheadSelfAttention', `embedDim = ${embedDim} must be divisible by numHeads = ${numHeads}`);
    }
    this.headDim = embedDim / numHeads;
    const generator = opts.generator ?? defaultGenerator();
    const bias = opts.bias ?? true;
    // PyTorch's initialization: xavier-uniform input projection, zero biases.
    this.registerParameter('inProjWeight', new Parameter(xavierUniform(zeros([3 * embedDim, embedDim]), { generator })));
    this.registerParameter('inProjBias', bias ? new Parameter(zeros([3 * embedDim])) : null);
    this.registerModule('outProj', new Linear(embedDim, embedDim, { bias, generator }));
    if (this.outProj.bias) this.outProj.bias.assign(this.outProj.bias.zerosLike());
    this.registerModule('dropout', new Dropout(opts.dropout ?? 0, { seed: generator.nextUint32() }));
  }

  /** x [B, T, embedDim] → [B, T, embedDim]. */
  override forward(x: Tensor, opts: AttentionForwardOptions = {}): Tensor {
    if (x.ndim !== 3 || x.shape[2] !== this.embedDim) {
      throw new ShapeError('MultiheadSelfAttention', `expected x [B, T, ${this.embedDim}], got [${x.shape.join(', ')}]`);
    }
    const [B, T] = x.shape as [number, number, number];
    const H = this.numHeads, d = this.headDim;
    let qkv = mm(x, this.inProjWeight, false, true);
    if (this.inProjBias) qkv = qkv.add(this.inProjBias);
    const heads = qkv.reshape([B, T, 3, H, d]).permute([2, 0, 3, 1, 4]); // [3, B, H, T, d]
    const [q, k, v] = [0, 1, 2].map((i) => heads.slice(0, i, i + 1).squeeze(0)) as [Tensor, Tensor, Tensor];
    let scores = mm(q, k, false, true).mul(1 / Math.sqrt(d)); // [B, H, T, T]
    const keep = this.keepMask(B, T, opts);
    if (keep) scores = scores.where(keep, MASKED_SCORE);
    const weights = this.dropout.forward(scores.softmax(-1));
    const out = weights.matmul(v).permute([0, 2, 1, 3]).reshape([B, T, this.embedDim]);
    return this.outProj.forward(out);
  }

  /** int32 1 where a query may attend to a key, broadcastable to [B, H, T, T]; null if all may. */
  private keepMask(B: number, T: number, opts: AttentionForwardOptions): Tensor | null {
    let keep: Tensor | null = null;
    const pad = opts.keyPaddingMask;
    if (pad) {
      if (pad.ndim !== 2 || pad.shape[0] !== B || pad.shape[1] !== T) {
        throw new ShapeError('MultiheadSelfAttention', `keyPaddingMask must be [${B}, ${T}], got [${pad.shape.join(', ')}]`);
      }
      keep = pad.eq(0).reshape([B, 1, 1, T]);
    }
    if (opts.isCausal) {
      const tri = new Int32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) tri[i * T + j] = 1;
      const causal = tensor(tri, { shape: [1, 1, T, T] });
      keep = keep ? keep.mul(causal) : causal;
    }
    return keep;
  }

  override extraRepr(): string {
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}`;
  }
}
