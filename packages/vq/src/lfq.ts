/**
 * Lookup-free quantization (Yu et al., 2023, MAGVIT-v2; the `lfq` method): each of b channels is
 * quantized to its sign, so the implicit codebook is {−1, 1}^b with M = 2^b codes and no entry to
 * learn or to lose. What keeps the codes in use is an entropy objective on soft assignments:
 *
 *   h = z Wᵢₙ + b                        (only when the group's channels d ≠ b)
 *   q = sign(h) (0 → −1), straight-through;   index = Σ_i [h_i > 0] · 2^(b−1−i)  (first bit most significant)
 *   p_n = softmax_c(2 h_n·c / τ) over the 2^b codes c   (−‖h − c‖²/τ up to a per-row constant)
 *   L = w_e · (mean_n H(p_n) − γ · H(mean_n p_n)) + β · ‖h − sg(q)‖²
 *
 * Minimizing each row's entropy makes its assignment confident; maximizing the entropy of the
 * batch mean spreads the batch over the codes. Defaults follow vector-quantize-pytorch's LFQ:
 * 1/τ = 100, w_e = 0.1, γ = 1, β = 0.25. The soft assignments are a training device: the
 * quantizer is hard, so its output record has no probabilities (individual perplexity 1).
 */
import { Generator, ShapeError, defaultGenerator, noGrad, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { entropy } from './perplexity.js';
import { GroupedLinear } from './projection.js';
import { Quantizer, type QuantizerOutput } from './quantizer.js';

export interface LookupFreeQuantizerOptions {
  /** Channels C of the input. */
  dim: number;
  /** Codes per group, a power of two (rounded to the nearest one in log scale otherwise): b = log2 M bits. */
  codebookSize: number;
  groups?: number;
  /** Project each group's channels to the b bits and back: 'auto' (default) does when they differ. */
  project?: boolean | 'auto';
  /** Weight w_e of the entropy terms (default 0.1). */
  entropyWeight?: number;
  /** γ: weight of the batch entropy against the per-row entropy (default 1). */
  diversityGamma?: number;
  /** 1/τ of the soft assignments (default 100). */
  inverseTemperature?: number;
  /** Commitment weight β (default 0.25). */
  commitment?: number;
  generator?: Generator;
}

export class LookupFreeQuantizer extends Quantizer {
  /** Bits b per group. */
  readonly bits: number;
  readonly entropyWeight: number;
  readonly diversityGamma: number;
  readonly inverseTemperature: number;
  readonly commitment: number;
  declare readonly projectIn: GroupedLinear | null;
  declare readonly projectOut: GroupedLinear | null;
  /** Every code as ±1 bits, [M, b]. */
  private readonly grid: Tensor;
  /** 2^(b−1−i), [b]. */
  private readonly weights: Tensor;

  constructor(opts: LookupFreeQuantizerOptions) {
    const m = opts.codebookSize;
    if (!Number.isInteger(m) || m < 2) throw new ShapeError('LookupFreeQuantizer', `codebookSize must be an integer ≥ 2, got ${m}`);
    const bits = Math.round(Math.log2(m));
    if (bits > 16) throw new ShapeError('LookupFreeQuantizer', `codebookSize ${m} needs ${bits} bits; at most 16 are supported (the entropy terms enumerate every code)`);
    super({ dim: opts.dim, codebookSize: 2 ** bits, groups: opts.groups });
    this.bits = bits;
    this.entropyWeight = opts.entropyWeight ?? 0.1;
    this.diversityGamma = opts.diversityGamma ?? 1;
    this.inverseTemperature = opts.inverseTemperature ?? 100;
    this.commitment = opts.commitment ?? 0.25;
    const generator = opts.generator ?? defaultGenerator();
    const project = opts.project === undefined || opts.project === 'auto' ? this.groupDim !== bits : opts.project;
    if (!project && this.groupDim !== bits) throw new ShapeError('LookupFreeQuantizer', `without projection each group's ${this.groupDim} channels must equal the ${bits} bits`);
    this.registerModule('projectIn', project ? new GroupedLinear(this.groups, this.groupDim, bits, generator) : null);
    this.registerModule('projectOut', project ? new GroupedLinear(this.groups, bits, this.groupDim, generator) : null);
    const M = this.codebookSize;
    const grid = new Float32Array(M * bits);
    for (let c = 0; c < M; c++) for (let i = 0; i < bits; i++) grid[c * bits + i] = (c >> (bits - 1 - i)) & 1 ? 1 : -1;
    this.grid = tensor(grid, { shape: [M, bits] });
    this.weights = tensor(Float32Array.from({ length: bits }, (_, i) => 2 ** (bits - 1 - i)), { shape: [bits] });
  }

  /** Sign bits h [G, N, b] → code indices [G, N] (int32). */
  codesToIndices(h: Tensor): Tensor {
    return noGrad(() => h.gt(0).float().mul(this.weights).sum(-1).add(0.5).floor().int());
  }

  /** The implicit codebook, [G, M, d]: every sign pattern, projected back when there is a projection. */
  effectiveCodebook(): Tensor {
    const grid = this.grid.unsqueeze(0).expand([this.groups, this.codebookSize, this.bits]);
    return this.projectOut ? this.projectOut.forward(grid) : grid;
  }

  /** The entropy terms on h [G, N, b]: mean per-row entropy and entropy of the batch mean (nats, averaged over groups). */
  entropies(h: Tensor): { perSample: Tensor; codebook: Tensor } {
    const logits = h.matmul(this.grid.mT).mul(2 * this.inverseTemperature); // [G, N, M]
    const p = logits.softmax(-1);
    return { perSample: entropy(p).mean(), codebook: entropy(p.mean(1)).mean() };
  }

  override forward(input: Tensor): QuantizerOutput {
    const lead = input.shape.slice(0, -1);
    const zg = this.split(this.rows(input)); // [G, N, d]
    const h = this.projectIn ? this.projectIn.forward(zg) : zg;
    const signs = noGrad(() => h.gt(0).float().mul(2).sub(1));
    const codes = h.add(signs.sub(h.detach())); // straight-through
    const idx = this.codesToIndices(h.detach());
    const q = this.projectOut ? this.projectOut.forward(codes) : codes;
    const stats: Record<string, number> = {};
    let loss = zeros([]);
    if (this.training) {
      const commit = h.sub(signs).square().mean();
      loss = commit.mul(this.commitment);
      stats.commitment = commit.item();
      if (this.entropyWeight > 0) {
        const { perSample, codebook } = this.entropies(h);
        loss = loss.add(perSample.sub(codebook.mul(this.diversityGamma)).mul(this.entropyWeight));
        stats.perSampleEntropy = perSample.item();
        stats.codebookEntropy = codebook.item();
      }
    }
    stats.batchUsage = this.batchUsage(idx);
    return {
      quantized: this.merge(q).reshape(input.shape),
      indices: this.shapeIndices(idx, lead),
      loss,
      stats,
    };
  }

  override extraRepr(): string {
    return `dim=${this.dim}, bits=${this.bits}, codes=${this.codebookSize}, groups=${this.groups}, project=${this.projectIn !== null}`;
  }
}
