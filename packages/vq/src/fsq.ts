/**
 * Finite Scalar Quantization (Mentzer et al., 2023; the `fsq` method): no codebook to learn and
 * nothing to collapse. Each of a few channels is squashed into a bounded range and rounded to one
 * of L levels; the code is the tuple of levels, so the implicit codebook is the grid of
 * ∏ L_i points and every point is reachable by construction.
 *
 *   h = z Wᵢₙ + b                       (only when the group's channels d ≠ number of levels)
 *   bound(h)_i = tanh(h_i + s_i)·a_i − o_i,   a_i = (L_i − 1)(1 + ε)/2, o_i = ½ if L_i is even else 0,
 *                                            s_i = atanh(o_i / a_i)  (so bound(0) = 0)
 *   ĥ_i = round(bound(h)_i) / ⌊L_i/2⌋    straight-through: the gradient of round is taken as 1
 *   q = ĥ Wₒᵤₜ + b                      (the projection back, when there is one)
 *
 * The code index is Σ_i (round(bound(h)_i) + ⌊L_i/2⌋) · ∏_{j<i} L_j (the first level varies
 * fastest). There is no auxiliary loss. `round` is ⌊x + ½⌋ (PyTorch rounds halves to even; the two
 * differ only on exact halves).
 */
import { Generator, ShapeError, defaultGenerator, noGrad, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { GroupedLinear } from './projection.js';
import { Quantizer, type QuantizerOutput } from './quantizer.js';

export interface FiniteScalarQuantizerOptions {
  /** Channels C of the input. */
  dim: number;
  /** Levels per channel of the code; default: chosen by fsqLevels(codebookSize). */
  levels?: readonly number[];
  /** The number of codes wanted when `levels` is not given (the result is ∏ levels ≈ this). */
  codebookSize?: number;
  /** Product quantization: G groups of C/G channels, each with its own grid (default 1). */
  groups?: number;
  /** Project each group's channels to the levels and back: 'auto' (default) does when they differ. */
  project?: boolean | 'auto';
  generator?: Generator;
}

/**
 * Levels whose product is close to `m`: the FSQ paper's recommendations for 2^8, 2^10, 2^12, 2^14
 * and 2^16 codes, otherwise the non-increasing list with levels in [5, 8] (in [2, 8] for m < 25)
 * whose product is nearest to m in ratio, fewest levels first.
 */
export function fsqLevels(m: number): number[] {
  if (!Number.isInteger(m) || m < 2) throw new ShapeError('fsqLevels', `needs a codebook size ≥ 2, got ${m}`);
  const paper: Record<number, number[]> = { 256: [8, 6, 5], 1024: [8, 5, 5, 5], 4096: [7, 5, 5, 5, 5], 16384: [8, 8, 8, 6, 5], 65536: [8, 8, 8, 5, 5, 5] };
  if (paper[m]) return [...paper[m]!];
  const lo = m < 25 ? 2 : 5;
  let best: number[] = [], bestScore = Infinity;
  const search = (prefix: number[], product: number, max: number) => {
    if (prefix.length > 0) {
      const score = Math.abs(Math.log(product / m));
      if (score < bestScore - 1e-12) [best, bestScore] = [[...prefix], score];
    }
    if (product >= m || prefix.length === 12) return;
    for (let l = max; l >= lo; l--) search([...prefix, l], product * l, l);
  };
  search([], 1, 8);
  return best;
}

export class FiniteScalarQuantizer extends Quantizer {
  readonly levels: readonly number[];
  declare readonly projectIn: GroupedLinear | null;
  declare readonly projectOut: GroupedLinear | null;
  /** Per level i: a_i, o_i, s_i of the bound, ⌊L_i/2⌋, and ∏_{j<i} L_j. */
  private readonly consts: { scale: Tensor; offset: Tensor; shift: Tensor; halfWidth: Tensor; basis: Tensor };

  constructor(opts: FiniteScalarQuantizerOptions) {
    const levels = opts.levels ? [...opts.levels] : fsqLevels(opts.codebookSize ?? 256);
    if (levels.length === 0 || levels.some((l) => !Number.isInteger(l) || l < 2)) {
      throw new ShapeError('FiniteScalarQuantizer', `levels must be integers ≥ 2, got [${levels.join(', ')}]`);
    }
    const size = levels.reduce((a, b) => a * b, 1);
    if (size > 2 ** 24) throw new ShapeError('FiniteScalarQuantizer', `levels [${levels.join(', ')}] make ${size} codes; at most 2^24 are supported`);
    super({ dim: opts.dim, codebookSize: size, groups: opts.groups });
    this.levels = levels;
    const generator = opts.generator ?? defaultGenerator();
    const n = levels.length;
    const project = opts.project === undefined || opts.project === 'auto' ? this.groupDim !== n : opts.project;
    if (!project && this.groupDim !== n) {
      throw new ShapeError('FiniteScalarQuantizer', `without projection each group's ${this.groupDim} channels must equal the ${n} levels`);
    }
    this.registerModule('projectIn', project ? new GroupedLinear(this.groups, this.groupDim, n, generator) : null);
    this.registerModule('projectOut', project ? new GroupedLinear(this.groups, n, this.groupDim, generator) : null);
    const eps = 1e-3;
    const scale = levels.map((l) => ((l - 1) * (1 + eps)) / 2);
    const offset = levels.map((l) => (l % 2 === 0 ? 0.5 : 0));
    const row = (v: number[]) => tensor(Float32Array.from(v), { shape: [1, 1, n] });
    let acc = 1;
    this.consts = {
      scale: row(scale),
      offset: row(offset),
      shift: row(offset.map((o, i) => Math.atanh(o / scale[i]!))),
      halfWidth: row(levels.map((l) => Math.floor(l / 2))),
      basis: row(levels.map((l) => ((acc *= l), acc / l))),
    };
  }

  /** The squashed values before rounding, bound(h) (differentiable), for h [G, N, n]. */
  bound(h: Tensor): Tensor {
    const { scale, offset, shift } = this.consts;
    return h.add(shift).tanh().mul(scale).sub(offset);
  }

  /** Normalized grid points ĥ [G, N, n] → code indices [G, N] (int32). */
  codesToIndices(codes: Tensor): Tensor {
    const { halfWidth, basis } = this.consts;
    return noGrad(() => codes.mul(halfWidth).add(halfWidth).mul(basis).sum(-1).add(0.5).floor().int());
  }

  /** Code indices [G, N] → normalized grid points [G, N, n] in [−1, 1]. */
  indicesToCodes(indices: Tensor): Tensor {
    const idx = indices.data();
    const n = this.levels.length;
    const out = new Float32Array(idx.length * n);
    for (let r = 0; r < idx.length; r++) {
      let rest = idx[r]!;
      for (let i = 0; i < n; i++) {
        const l = this.levels[i]!, half = Math.floor(l / 2);
        out[r * n + i] = ((rest % l) - half) / half;
        rest = Math.floor(rest / l);
      }
    }
    return tensor(out, { shape: [...indices.shape, n] });
  }

  /** The implicit codebook: every grid point, projected back to the input space, [G, M, d]. */
  effectiveCodebook(): Tensor {
    const G = this.groups, M = this.codebookSize;
    const all = new Int32Array(G * M);
    for (let g = 0; g < G; g++) for (let m = 0; m < M; m++) all[g * M + m] = m;
    const grid = this.indicesToCodes(tensor(all, { shape: [G, M] }));
    return this.projectOut ? this.projectOut.forward(grid) : grid;
  }

  override forward(input: Tensor): QuantizerOutput {
    const lead = input.shape.slice(0, -1);
    const zg = this.split(this.rows(input)); // [G, N, d]
    const h = this.projectIn ? this.projectIn.forward(zg) : zg;
    const b = this.bound(h);
    // Straight-through rounding: forward round(b), backward identity.
    const rounded = b.add(noGrad(() => b.add(0.5).floor().sub(b)));
    const codes = rounded.div(this.consts.halfWidth); // in [−1, 1]
    const idx = this.codesToIndices(codes.detach());
    const q = this.projectOut ? this.projectOut.forward(codes) : codes;
    return {
      quantized: this.merge(q).reshape(input.shape),
      indices: this.shapeIndices(idx, lead),
      loss: zeros([]),
      stats: { batchUsage: this.batchUsage(idx) },
    };
  }

  override extraRepr(): string {
    return `dim=${this.dim}, levels=[${this.levels.join(', ')}], codes=${this.codebookSize}, groups=${this.groups}, project=${this.projectIn !== null}`;
  }
}
