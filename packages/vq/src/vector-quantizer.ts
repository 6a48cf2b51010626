/**
 * The VQ-VAE quantizer (the `ste` and `ste-ema` baselines): each row takes its nearest code, and
 * the straight-through estimator passes the decoder's gradient to the encoder unchanged:
 *
 *   q = z + sg(E_k − z)      (forward: E_k; backward: ∂q/∂z = I)
 *   loss = ‖sg(z) − E_k‖²  (codebook; replaced by EMA updates in ste-ema)  + β‖z − sg(E_k)‖²
 *
 * EMA (van den Oord et al., 2017, appendix): per code, running counts N_m and sums S_m of the
 * rows assigned to it; E_m = S_m / N_m (Laplace-smoothed). Options: k-means initialization from
 * the first training batch, and replacement of dead codes by rows of the current batch.
 */
import { Generator, defaultGenerator, mm, noGrad, randn, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { Parameter } from '@simplex-vq/nn';
import { Quantizer, squaredDistances, type QuantizerBaseOptions, type QuantizerOutput } from './quantizer.js';

export interface VectorQuantizerOptions extends QuantizerBaseOptions {
  /** Commitment weight β (default 0.25). */
  commitment?: number;
  /** Update the codebook by exponential moving averages instead of its loss (ste-ema). */
  ema?: boolean;
  /** EMA decay (default 0.99). */
  decay?: number;
  /** Initialize the codebook by k-means (10 Lloyd iterations) on the first training batch. */
  kmeansInit?: boolean;
  /**
   * Replace codes whose running usage falls below this many rows per batch by random rows of the
   * current batch (0, the default, never replaces).
   */
  deadCodeThreshold?: number;
  /** Std of the initial codebook entries (default 1). */
  codebookStd?: number;
  generator?: Generator;
}

export class VectorQuantizer extends Quantizer {
  /** [G, M, d]: a parameter, or a buffer updated by EMA. */
  declare readonly codebook: Tensor;
  /** EMA state: counts [G, M] and sums [G, M, d]; running usage [G, M] for dead-code replacement. */
  declare readonly emaCount: Tensor | null;
  declare readonly emaSum: Tensor | null;
  declare readonly usage: Tensor;
  declare readonly initialized: Tensor;
  readonly commitment: number;
  readonly ema: boolean;
  readonly decay: number;
  readonly kmeansInit: boolean;
  readonly deadCodeThreshold: number;
  protected readonly generator: Generator;

  constructor(opts: VectorQuantizerOptions) {
    super(opts);
    this.generator = opts.generator ?? defaultGenerator();
    // Registered so checkpoints save its state (vertex subsets, k-means, dead-code replacement draw from it).
    this.registerGenerator('sampler', this.generator);
    this.commitment = opts.commitment ?? 0.25;
    this.ema = opts.ema ?? false;
    this.decay = opts.decay ?? 0.99;
    this.kmeansInit = opts.kmeansInit ?? false;
    this.deadCodeThreshold = opts.deadCodeThreshold ?? 0;
    const { groups: G, codebookSize: M, groupDim: d } = this;
    const init = randn([G, M, d], { generator: this.generator }).mul(opts.codebookStd ?? 1);
    if (this.ema) {
      this.registerBuffer('codebook', init);
      this.registerBuffer('emaCount', zeros([G, M]).add(1));
      this.registerBuffer('emaSum', init.clone());
    } else {
      this.registerParameter('codebook', new Parameter(init));
      this.registerBuffer('emaCount', null);
      this.registerBuffer('emaSum', null);
    }
    this.registerBuffer('usage', zeros([G, M]).add(1));
    this.registerBuffer('initialized', zeros([]).add(this.kmeansInit ? 0 : 1));
  }

  effectiveCodebook(): Tensor {
    return this.codebook;
  }

  /** Nearest codes [G, N] of rows zg [G, N, d] under `codebook` [G, M, d]. */
  protected nearest(zg: Tensor, codebook: Tensor): Tensor {
    return noGrad(() => squaredDistances(zg, codebook).argmin(-1));
  }

  override forward(input: Tensor): QuantizerOutput {
    const lead = input.shape.slice(0, -1);
    const z = this.rows(input);
    const zg = this.split(z); // [G, N, d]
    if (this.training && this.initialized.item() === 0) {
      noGrad(() => this.setCodebook(kmeans(zg.detach(), this.codebookSize, 10, this.generator)));
      noGrad(() => this.initialized.assign(this.initialized.add(1)));
    }
    let idx = this.nearest(zg, this.codebook);
    if (this.training) {
      this.trackUsage(idx);
      // Codes unused by recent batches (this one included) restart on rows of this batch.
      if (this.deadCodeThreshold > 0 && this.replaceDeadCodes(zg)) idx = this.nearest(zg, this.codebook);
    }
    const e = this.lookup(this.codebook, idx); // [G, N, d]
    // As in the reference VQ-VAE: this batch is quantized with the codebook it was assigned
    // with; the EMA update it contributes takes effect from the next step.
    if (this.training && this.ema) this.emaUpdate(zg, idx);
    const stats: Record<string, number> = {};
    const commit = zg.sub(e.detach()).square().mean();
    let loss = commit.mul(this.commitment);
    stats.commitment = commit.item();
    if (!this.ema) {
      const codebookLoss = zg.detach().sub(e).square().mean();
      loss = loss.add(codebookLoss);
      stats.codebook = codebookLoss.item();
    }
    // Straight-through: the forward value is e, the gradient to z is the identity.
    const q = zg.add(e.sub(zg).detach());
    stats.batchUsage = this.batchUsage(idx);
    return { quantized: this.merge(q).reshape(input.shape), indices: this.shapeIndices(idx, lead), loss, stats };
  }

  /** One-hot assignment matrix [G, N, M] (float). */
  protected assignments(idx: Tensor): Tensor {
    return idx.oneHot(this.codebookSize, 'float32');
  }

  private trackUsage(idx: Tensor): void {
    noGrad(() => {
      const counts = this.assignments(idx).sum(1); // [G, M]
      this.usage.assign(this.usage.mul(this.decay).add(counts.mul(1 - this.decay)));
    });
  }

  private emaUpdate(zg: Tensor, idx: Tensor): void {
    noGrad(() => {
      const onehot = this.assignments(idx); // [G, N, M]
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

  /** Replaces codes whose running usage is below the threshold by random rows of the batch. */
  private replaceDeadCodes(zg: Tensor): boolean {
    const usage = this.usage.data();
    const G = this.groups, M = this.codebookSize, N = zg.shape[1]!, d = this.groupDim;
    const book = this.codebook.data();
    const rows = zg.detach().data();
    let replaced = 0;
    for (let g = 0; g < G; g++) {
      for (let m = 0; m < M; m++) {
        if (usage[g * M + m]! >= this.deadCodeThreshold) continue;
        const r = this.generator.randint(0, N);
        book.set(rows.subarray((g * N + r) * d, (g * N + r + 1) * d), (g * M + m) * d);
        usage[g * M + m] = this.deadCodeThreshold; // give it a chance before the next check
        replaced++;
      }
    }
    if (replaced === 0) return false;
    noGrad(() => {
      this.setCodebook(tensor(Float32Array.from(book), { shape: this.codebook.shape }));
      this.usage.assign(tensor(Float32Array.from(usage), { shape: this.usage.shape }));
    });
    return true;
  }

  /** Sets the codebook (and, for EMA, its running sums so they agree). */
  protected setCodebook(values: Tensor): void {
    this.codebook.assign(values);
    if (this.ema) this.emaSum!.assign(values.mul(this.emaCount!.unsqueeze(-1)));
  }
}

/**
 * k-means on each group's rows: x [G, N, d] → centres [G, M, d]. Starts from greedy k-means++
 * seeding (as scikit-learn): a random row, then for each next centre 2 + ⌊ln M⌋ candidate rows
 * drawn with probability ∝ their squared distance to the nearest centre so far, keeping the one
 * that lowers the total squared distance most (a random row once every row is a centre, i.e.
 * repeats when there are fewer distinct rows than M); then `iters` Lloyd steps; an empty cluster
 * keeps its centre. (Uniformly random rows as seeds often put two centres in one well-separated
 * cluster and none in another, a local minimum Lloyd steps do not leave.)
 */
export function kmeans(x: Tensor, m: number, iters: number, generator: Generator): Tensor {
  const [G, N, d] = x.shape as [number, number, number];
  const rows = x.data();
  const init = new Float32Array(G * m * d);
  const trials = 2 + Math.floor(Math.log(m));
  for (let g = 0; g < G; g++) {
    const row = (r: number) => rows.subarray((g * N + r) * d, (g * N + r + 1) * d);
    const sqDist = (a: number, b: number) => {
      const u = row(a), v = row(b);
      let s = 0;
      for (let j = 0; j < d; j++) s += (u[j]! - v[j]!) ** 2;
      return s;
    };
    let nearestSq: Float64Array = new Float64Array(N).fill(Infinity); // squared distance to the nearest centre so far
    for (let c = 0; c < m; c++) {
      let total = 0;
      if (c > 0) for (const v of nearestSq) total += v;
      let best = -1;
      let bestSq: Float64Array | null = null;
      if (total > 0) {
        let bestPotential = Infinity;
        for (let t = 0; t < trials; t++) {
          let u = generator.random() * total;
          let r = 0;
          for (; r < N - 1; r++) {
            u -= nearestSq[r]!;
            if (u < 0) break;
          }
          const sq = nearestSq.map((v, i) => Math.min(v, sqDist(i, r)));
          const potential = sq.reduce((a, b) => a + b, 0);
          if (potential < bestPotential) [best, bestSq, bestPotential] = [r, sq, potential];
        }
      }
      if (best < 0) best = generator.randint(0, N); // the first centre, or every row is one already
      init.set(row(best), (g * m + c) * d);
      nearestSq = bestSq ?? nearestSq.map((v, i) => Math.min(v, sqDist(i, best)));
    }
  }
  let centres = tensor(init, { shape: [G, m, d] });
  for (let it = 0; it < iters; it++) {
    const idx = squaredDistances(x, centres).argmin(-1); // [G, N]
    const onehot = idx.oneHot(m, 'float32'); // [G, N, M]
    const counts = onehot.sum(1).unsqueeze(-1); // [G, M, 1]
    const sums = mm(onehot, x, true, false); // [G, M, d]
    const empty = counts.eq(0);
    centres = sums.div(counts.clamp(1)).where(empty.eq(0), centres);
  }
  return centres;
}
