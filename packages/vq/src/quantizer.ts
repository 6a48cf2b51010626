/**
 * What every quantizer shares: the output record, the grouping of channels for product
 * quantization, squared distances to a codebook, and hard lookups.
 *
 * Layout: the input z is [..., C]; it is flattened to N rows. With G groups each row is split into
 * G sub-vectors of C/G channels, each quantized with its own codebook of M entries. Internally the
 * groups lead ([G, N, d]) so one batched matmul serves them all.
 */
import { ShapeError, tensor, type Tensor } from '@simplex-vq/tensor';
import { Module } from '@simplex-vq/nn';

export interface QuantizerOutput {
  /** The quantized vectors, shaped like the input: soft (pE) or hard (straight-through) in training, hard codes in eval. */
  quantized: Tensor;
  /** Hard code of each row: int32 [...] for one group, [..., G] for several. */
  indices: Tensor;
  /** Probabilities over codes, [N, M] (or [N, G, M]), for smoothed and Gumbel quantizers. */
  probs?: Tensor;
  /** Their logarithms (from log-softmax). */
  logProbs?: Tensor;
  /** The quantizer's own loss (commitment, codebook, diversity, regularizer), already weighted. */
  loss: Tensor;
  /** Numbers worth logging (each term of the loss, the temperature, the batch's code usage). */
  stats: Record<string, number>;
}

/** Options every quantizer takes. */
export interface QuantizerBaseOptions {
  /** Channels C of the input vectors. */
  dim: number;
  /** Codebook entries M (per group). */
  codebookSize: number;
  /** Product quantization: G codebooks over C/G channels each (default 1). */
  groups?: number;
}

/** The base class: shape bookkeeping shared by every quantizer. */
export abstract class Quantizer extends Module {
  readonly dim: number;
  readonly codebookSize: number;
  /**
   * The codes each row is given, each from its own codebook of M entries: the columns of
   * `indices` and the rows of effectiveCodebook(). G for product quantization (one per channel
   * group); Q·G for a residual quantizer of Q stages.
   */
  readonly groups: number;
  /** Channels per channel group (C/G). */
  readonly groupDim: number;

  /**
   * `channelGroups`: how many parts the C channels are split into, when it differs from the
   * number of codes per row (a residual quantizer codes all C/G channels of a group Q times).
   */
  constructor(opts: QuantizerBaseOptions, channelGroups?: number) {
    super();
    const { dim, codebookSize } = opts;
    const groups = opts.groups ?? 1;
    const parts = channelGroups ?? groups;
    const name = this.constructor.name;
    for (const [k, v] of Object.entries({ dim, codebookSize, groups })) {
      if (!Number.isInteger(v) || v < 1) throw new ShapeError(name, `${k} must be a positive integer, got ${v}`);
    }
    if (dim % parts !== 0) throw new ShapeError(name, `dim = ${dim} channels cannot be split into ${parts} groups`);
    this.dim = dim;
    this.codebookSize = codebookSize;
    this.groups = groups;
    this.groupDim = dim / parts;
  }

  abstract override forward(z: Tensor): QuantizerOutput;

  /** The codebook actually used for lookups, [G, M, d]. */
  abstract effectiveCodebook(): Tensor;

  /** Flattens z [..., C] to [N, C], checking the channel count. */
  protected rows(z: Tensor): Tensor {
    if (z.ndim < 1 || z.shape[z.ndim - 1] !== this.dim) {
      throw new ShapeError(this.constructor.name, `expects input [..., ${this.dim}], got [${z.shape.join(', ')}]`);
    }
    return z.reshape([-1, this.dim]);
  }

  /** [N, C] → [G, N, d] */
  protected split(z: Tensor): Tensor {
    return z.reshape([z.shape[0]!, this.groups, this.groupDim]).permute([1, 0, 2]);
  }

  /** [G, N, d] → [N, C] */
  protected merge(q: Tensor): Tensor {
    return q.permute([1, 0, 2]).reshape([q.shape[1]!, this.dim]);
  }

  /** Indices [G, N] (int32) → the shape callers see: [...lead] or [...lead, G]. */
  protected shapeIndices(idx: Tensor, lead: readonly number[]): Tensor {
    const rowsFirst = idx.permute([1, 0]); // [N, G]
    return this.groups === 1 ? rowsFirst.reshape([...lead]) : rowsFirst.reshape([...lead, this.groups]);
  }

  /** Hard lookup: codebook [G, M, d], indices [G, N] → [G, N, d]. */
  protected lookup(codebook: Tensor, idx: Tensor): Tensor {
    const G = this.groups, M = this.codebookSize;
    const flat = G === 1 ? idx.reshape([-1]) : idx.add(groupOffsets(G, M, idx.shape[1]!)).reshape([-1]);
    return codebook.reshape([G * M, this.groupDim]).indexSelect(0, flat).reshape([G, idx.shape[1]!, this.groupDim]);
  }

  /** Fraction of the codes used by this batch (averaged over groups): a cheap health signal. */
  protected batchUsage(idx: Tensor): number {
    const v = idx.data();
    const n = idx.shape[1]!;
    let used = 0;
    for (let g = 0; g < this.groups; g++) used += new Set(v.subarray(g * n, (g + 1) * n)).size;
    return used / (this.groups * this.codebookSize);
  }
}

/** g·M for every entry of a [G, N] index tensor (int32), to index a [G·M, d] table. */
function groupOffsets(G: number, M: number, n: number): Tensor {
  const v = new Int32Array(G * n);
  for (let g = 0; g < G; g++) v.fill(g * M, g * n, (g + 1) * n);
  return tensor(v, { shape: [G, n] });
}


/**
 * Squared distances ‖z − e‖² between every row and every code, per group:
 * z [G, N, d], codebook [G, M, d] → [G, N, M], as ‖z‖² − 2 z·e + ‖e‖² (one batched matmul).
 */
export function squaredDistances(z: Tensor, codebook: Tensor): Tensor {
  const zz = z.square().sum(-1, true); // [G, N, 1]
  const ee = codebook.square().sum(-1).unsqueeze(1); // [G, 1, M]
  return zz.sub(z.matmul(codebook.mT).mul(2)).add(ee);
}

/** Each row (last axis) divided by its l2 norm; rows of norm below `eps` are divided by eps instead (as F.normalize). */
export function l2normalize(t: Tensor, eps = 1e-12): Tensor {
  // Clamping the squared norm keeps the gradient finite at 0 (√ has an infinite slope there).
  return t.div(t.square().sum(-1, true).clamp(eps * eps).sqrt());
}
