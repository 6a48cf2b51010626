/**
 * What every quantizer with a learned codebook shares: how the codebook starts, and how codes
 * that fall out of use are brought back.
 *
 * **Initialization** (`init`). `normal`: entries drawn from N(0, initStd²) when the quantizer is
 * built (the paper's setting). `data`: on the first training batch, the codebook is set to k-means
 * centres of that batch's inputs (k-means++ seeding, then `initIters` Lloyd steps), as
 * vector-quantize-pytorch's `kmeans_init` does. Why it matters: an encoder at initialization puts
 * its outputs near the origin, where one N(0, 1) entry is nearest to nearly every vector; a
 * hard-assignment quantizer started there often never leaves that single code. Starting from the
 * data gives every code some rows from step one, so a comparison of methods measures the methods,
 * not the start.
 *
 * **Dead-code replacement** (`restart`), the practitioner's usual remedy (Dhariwal et al., 2020;
 * `threshold_ema_dead_code` in vector-quantize-pytorch): an exponential moving average of how many
 * rows each code is assigned per batch; a code whose average falls below `threshold` is reset to a
 * random row of the current batch (a recent encoder output) and given `threshold` as its average,
 * so it has a chance to be chosen before it is checked again.
 */
import { Generator, ShapeError, mm, noGrad, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { Quantizer, squaredDistances, type QuantizerBaseOptions } from './quantizer.js';

export type CodebookInit = 'normal' | 'data';

export interface RestartOptions {
  /** A code is dead when its running usage (rows per batch) falls below this (default 1). */
  threshold?: number;
  /** Decay of the running usage (default 0.99). */
  decay?: number;
}

/** Options of every quantizer that learns a codebook. */
export interface CodebookOptions extends QuantizerBaseOptions {
  /** How the codebook starts: 'normal' (default; N(0, initStd²)) or 'data' (k-means on the first training batch). */
  init?: CodebookInit;
  /** Std of the initial entries for 'normal' (default 1). */
  initStd?: number;
  /** Lloyd iterations after k-means++ seeding for 'data' (default 10; 0 keeps the seeds). */
  initIters?: number;
  /** Replace dead codes by recent inputs: true for the defaults, or the settings; false/undefined: never. */
  restart?: boolean | RestartOptions;
}

export abstract class CodebookQuantizer extends Quantizer {
  readonly init: CodebookInit;
  readonly initStd: number;
  readonly initIters: number;
  /** The dead-code replacement settings, or null when it is off. */
  readonly restart: Required<RestartOptions> | null;
  /** 1 once the codebook has been initialized from data ('data' only). */
  declare readonly initialized: Tensor | null;
  /** Running usage of each code, rows per batch, [G, M] (with `restart` only). */
  declare readonly usage: Tensor | null;
  /** Codes replaced so far (with `restart` only), [] — a health signal saved with the model. */
  declare readonly restarts: Tensor | null;
  protected abstract readonly generator: Generator;

  constructor(opts: CodebookOptions) {
    super(opts);
    const name = this.constructor.name;
    this.init = opts.init ?? 'normal';
    if (this.init !== 'normal' && this.init !== 'data') throw new ShapeError(name, `init must be 'normal' or 'data', got '${String(this.init)}'`);
    this.initStd = opts.initStd ?? 1;
    if (!(this.initStd > 0) || !Number.isFinite(this.initStd)) throw new ShapeError(name, `initStd must be a positive number, got ${this.initStd}`);
    this.initIters = opts.initIters ?? 10;
    if (!Number.isInteger(this.initIters) || this.initIters < 0) throw new ShapeError(name, `initIters must be a non-negative integer, got ${this.initIters}`);
    const r = opts.restart === true ? {} : opts.restart || null;
    this.restart = r && { threshold: r.threshold ?? 1, decay: r.decay ?? 0.99 };
    if (this.restart && !(this.restart.threshold > 0)) throw new ShapeError(name, `restart.threshold must be positive, got ${this.restart.threshold}`);
    if (this.restart && !(this.restart.decay >= 0 && this.restart.decay < 1)) throw new ShapeError(name, `restart.decay must be in [0, 1), got ${this.restart.decay}`);
    const { groups: G, codebookSize: M } = this;
    this.registerBuffer('initialized', this.init === 'data' ? zeros([]) : null);
    // Every code starts "alive" at the threshold: none is replaced before it had a chance.
    this.registerBuffer('usage', this.restart ? zeros([G, M]).add(this.restart.threshold) : null);
    this.registerBuffer('restarts', this.restart ? zeros([]) : null);
  }

  /**
   * Sets codebook entries from values in the input space [G, M, d]. `codes` lists the entries to
   * set as g·M + m (all of them when omitted). Each quantizer writes its own parameterization.
   */
  protected abstract setEntries(values: Tensor, codes?: number[]): void;

  /** In training, before the first assignment: the data initialization, once. zg: [G, N, d]. */
  protected initFromData(zg: Tensor): void {
    if (!this.training || !this.initialized || this.initialized.item() !== 0) return;
    noGrad(() => {
      this.setEntries(kmeans(zg.detach(), this.codebookSize, this.initIters, this.generator));
      this.initialized!.assign(this.initialized!.add(1));
    });
  }

  /**
   * In training, after the batch's assignment idx [G, N]: updates the running usage and replaces
   * dead codes by random rows of zg [G, N, d]. Returns true when codes were replaced (the caller
   * then assigns the batch again, so the new codes can be chosen at once).
   */
  protected reviveDeadCodes(zg: Tensor, idx: Tensor): boolean {
    if (!this.training || !this.restart) return false;
    const { threshold, decay } = this.restart;
    const G = this.groups, M = this.codebookSize, N = zg.shape[1]!, d = this.groupDim;
    const usage = noGrad(() => this.usage!.mul(decay).add(idx.oneHot(M, 'float32').sum(1).mul(1 - decay))).data().slice();
    const dead: number[] = [];
    for (let c = 0; c < G * M; c++) if (usage[c]! < threshold) dead.push(c);
    if (dead.length > 0) {
      const rows = zg.detach().data();
      const values = new Float32Array(G * M * d);
      for (const c of dead) {
        const g = Math.floor(c / M);
        const r = this.generator.randint(0, N);
        values.set(rows.subarray((g * N + r) * d, (g * N + r + 1) * d), c * d);
        usage[c] = threshold;
      }
      noGrad(() => {
        this.setEntries(tensor(values, { shape: [G, M, d] }), dead);
        this.restarts!.assign(this.restarts!.add(dead.length));
      });
    }
    noGrad(() => this.usage!.assign(tensor(usage, { shape: [G, M] })));
    return dead.length > 0;
  }

  /** `values` at `codes` (flat g·M + m), the current entries elsewhere: [G, M, d] (helper for setEntries). */
  protected mergeEntries(current: Tensor, values: Tensor, codes?: number[]): Tensor {
    if (!codes) return values;
    const mask = new Float32Array(this.groups * this.codebookSize);
    for (const c of codes) mask[c] = 1;
    const m = tensor(mask, { shape: [this.groups, this.codebookSize, 1] });
    return values.where(m, current);
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
  if (x.ndim !== 3 || x.shape[1]! < 1) throw new ShapeError('kmeans', `expects rows [G, N ≥ 1, d], got [${x.shape.join(', ')}]`);
  const [G, N, d] = x.shape as [number, number, number];
  const rows = x.data();
  const init = new Float32Array(G * m * d);
  const trials = 2 + Math.floor(Math.log(m));
  for (let g = 0; g < G; g++) {
    const base = g * N;
    // out[i] = min(prev[i], ‖row i − row r‖²): the nearest-centre distances if r became a centre.
    const distancesTo = (r: number, out: Float64Array, prev: Float64Array) => {
      const v = (base + r) * d;
      for (let i = 0; i < N; i++) {
        const u = (base + i) * d;
        let s = 0;
        for (let j = 0; j < d; j++) s += (rows[u + j]! - rows[v + j]!) ** 2;
        out[i] = Math.min(prev[i]!, s);
      }
    };
    let nearestSq = new Float64Array(N).fill(Infinity); // squared distance to the nearest centre so far
    let candidate = new Float64Array(N);
    let bestSq = new Float64Array(N);
    for (let c = 0; c < m; c++) {
      let total = 0;
      if (c > 0) for (const v of nearestSq) total += v;
      let best = -1;
      if (total > 0) {
        let bestPotential = Infinity;
        for (let t = 0; t < trials; t++) {
          let u = generator.random() * total;
          let r = 0;
          for (; r < N - 1; r++) {
            u -= nearestSq[r]!;
            if (u < 0) break;
          }
          distancesTo(r, candidate, nearestSq);
          let potential = 0;
          for (const v of candidate) potential += v;
          if (potential < bestPotential) {
            [best, bestPotential] = [r, potential];
            [bestSq, candidate] = [candidate, bestSq];
          }
        }
        [nearestSq, bestSq] = [bestSq, nearestSq];
      } else {
        best = generator.randint(0, N); // the first centre, or every row is one already
        distancesTo(best, candidate, nearestSq);
        [nearestSq, candidate] = [candidate, nearestSq];
      }
      init.set(rows.subarray((base + best) * d, (base + best + 1) * d), (g * m + c) * d);
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
