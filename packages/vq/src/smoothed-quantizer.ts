/**
 * Smoothed vector quantization (SPEC section 1), with the KNN or perplexity regularizer.
 *
 *   logits ℓ[n, m] = −‖z_n − E_m‖² / τ   ('distance', the default), or ℓ = z W + b ('linear');
 *   p_n = softmax(ℓ_n), a point of the simplex;
 *   training: q_n = p_n E (a convex combination of codes);  eval: q_n = E[argmax p_n].
 *
 * The loss is β‖z − sg(q)‖² (the commitment term, on by default for 'distance') plus λ times the
 * regularizer: L_KNN ('knn'), the perplexity regularizer ('perplexity'), or nothing ('none' — the
 * setting that collapses). Every choice the spec calls a decision is an option here.
 */
import { Generator, ShapeError, defaultGenerator, noGrad, randn, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { Linear, Parameter } from '@simplex-vq/nn';
import { knnRegularizer, type KnnDistance } from './knn-regularizer.js';
import { perplexityRegularizer } from './perplexity.js';
import { CodebookQuantizer, type CodebookOptions } from './codebook.js';
import { squaredDistances, type QuantizerOutput } from './quantizer.js';

export type Regularizer =
  | { type: 'none' }
  | { type: 'knn'; k?: number; distance?: KnnDistance; shards?: number; vertexSubset?: number; weight?: number }
  | { type: 'perplexity'; weight?: number };

export interface SmoothedQuantizerOptions extends CodebookOptions {
  /** How logits are made (default 'distance'). */
  logits?: 'distance' | 'linear';
  /** Softmax temperature τ (default 1). */
  temperature?: number;
  /** Learn log τ as a parameter (default false). */
  learnTemperature?: boolean;
  /** Commitment weight β (default 0.25 for 'distance', 0 for 'linear'; 0 switches it off). */
  commitment?: number;
  /** The regularizer on p (default: KNN-CE with K = 1, λ = 1). */
  regularizer?: Regularizer;
  /** With init 'data': measure τ in units of the first batch's per-channel variance (default true). */
  scaleTemperature?: boolean;
  /** Generator for initialization, vertex subsets and dead-code replacement (default: the global one). */
  generator?: Generator;
}

export class SmoothedQuantizer extends CodebookQuantizer {
  /** [G, M, d] */
  declare readonly codebook: Tensor;
  /** log τ, [] (a parameter when learned, a buffer otherwise). */
  declare readonly logTemperature: Tensor;
  declare readonly logitLayer: Linear | null;
  readonly logitsKind: 'distance' | 'linear';
  readonly commitment: number;
  readonly regularizer: Regularizer;
  readonly scaleTemperature: boolean;
  protected readonly generator: Generator;

  constructor(opts: SmoothedQuantizerOptions) {
    super(opts);
    this.generator = opts.generator ?? defaultGenerator();
    // Registered so checkpoints save its state (vertex subsets, k-means, dead-code replacement draw from it).
    this.registerGenerator('sampler', this.generator);
    this.logitsKind = opts.logits ?? 'distance';
    this.commitment = opts.commitment ?? (this.logitsKind === 'distance' ? 0.25 : 0);
    this.regularizer = opts.regularizer ?? { type: 'knn', k: 1, distance: 'ce' };
    this.scaleTemperature = opts.scaleTemperature ?? true;
    const { groups: G, codebookSize: M, groupDim: d } = this;
    this.registerParameter('codebook', new Parameter(randn([G, M, d], { generator: this.generator }).mul(this.initStd)));
    const logTau = tensor(Math.log(opts.temperature ?? 1));
    if (opts.learnTemperature) this.registerParameter('logTemperature', new Parameter(logTau));
    else this.registerBuffer('logTemperature', logTau);
    if (this.restart && this.logitsKind === 'linear') {
      throw new ShapeError('SmoothedQuantizer', "restart needs 'distance' logits: with 'linear' logits the codebook does not decide which code a row takes, so a reset entry would not be chosen");
    }
    this.registerModule('logitLayer', this.logitsKind === 'linear' ? new Linear(this.dim, G * M, { generator: this.generator }) : null);
  }

  get temperature(): number {
    return Math.exp(this.logTemperature.item());
  }

  effectiveCodebook(): Tensor {
    return this.codebook;
  }

  /** Logits [G, N, M] for rows z [N, C]. */
  logits(z: Tensor): Tensor {
    const tau = this.logTemperature.exp();
    if (this.logitLayer) {
      const l = this.logitLayer.forward(z).reshape([z.shape[0]!, this.groups, this.codebookSize]).permute([1, 0, 2]);
      return l.div(tau);
    }
    return squaredDistances(this.split(z), this.codebook).neg().div(tau);
  }

  /**
   * The logits up to a constant per row, which neither the softmax nor the argmax sees: with
   * distance logits, −‖z − E_m‖²/τ = (2 z·E_m − ‖E_m‖²)/τ − ‖z‖²/τ, and the last term is dropped.
   * With the scale applied once, this makes two passes over the [G, N, M] matrix forward and two
   * backward, where logits() makes five and four (and the matrix is the largest of the model).
   */
  private shiftedLogits(z: Tensor): Tensor {
    if (this.logitLayer) return this.logits(z);
    const tau = this.logTemperature.exp();
    const ee = this.codebook.square().sum(-1).unsqueeze(1); // [G, 1, M]
    return this.split(z).matmul(this.codebook.mT).mul(tau.reciprocal().mul(2)).sub(ee.div(tau));
  }

  /**
   * The data initialization, and with it the temperature's unit: τ is scaled by the batch's
   * per-channel variance σ², so that −‖z − E_m‖²/(τσ²) spreads as the N(0, 1) start's logits do
   * whatever the scale of the encoder's outputs. Without it, a codebook at the scale of small
   * encoder outputs (σ ≈ 0.1–0.4 here) gives logits that barely differ and p near uniform.
   */
  protected override initFromData(zg: Tensor): void {
    const first = this.training && this.initialized !== null && this.initialized.item() === 0;
    super.initFromData(zg);
    if (!first || this.logitLayer || !this.scaleTemperature) return;
    // Per channel over the rows (population variance), averaged; a batch too small or too uniform to measure keeps τ.
    const variance = noGrad(() => zg.detach().var(1, { correction: 0 }).mean().item());
    if (!(variance > 1e-12) || !Number.isFinite(variance)) return;
    noGrad(() => this.logTemperature.assign(this.logTemperature.add(Math.log(variance))));
  }

  /** Sets entries of the codebook (data initialization, dead-code replacement). */
  protected setEntries(values: Tensor, codes?: number[]): void {
    this.codebook.assign(this.mergeEntries(this.codebook, values, codes));
  }

  override forward(input: Tensor): QuantizerOutput {
    const lead = input.shape.slice(0, -1);
    const z = this.rows(input);
    if (this.init === 'data' || this.restart) {
      const zg = this.split(z);
      this.initFromData(zg);
      // Dead codes by the batch's argmax (a detached pass); revived codes join this batch's softmax.
      if (this.restart) this.reviveDeadCodes(zg, noGrad(() => this.shiftedLogits(z).argmax(-1)));
    }
    const logits = this.shiftedLogits(z); // [G, N, M]
    const logProbs = logits.logSoftmax(-1);
    const probs = logProbs.exp();
    const indices = logits.detach().argmax(-1); // [G, N]
    const q = this.training ? probs.matmul(this.codebook) : this.lookup(this.codebook, indices); // [G, N, d]
    const quantized = this.merge(q);
    const stats: Record<string, number> = {};
    let loss = zeros([]);
    if (this.commitment > 0) {
      const commit = z.sub(quantized.detach()).square().mean();
      loss = loss.add(commit.mul(this.commitment));
      stats.commitment = commit.item();
    }
    const reg = this.regularizer;
    if (reg.type !== 'none' && this.training) {
      // Per group, on its [N, M] matrix; the groups' losses are averaged.
      let total = zeros([]);
      for (let g = 0; g < this.groups; g++) {
        const lp = this.groups === 1 ? logProbs.squeeze(0) : logProbs.slice(0, g, g + 1).squeeze(0);
        total = total.add(
          reg.type === 'knn'
            ? knnRegularizer(lp, { input: 'logProbs', k: reg.k, distance: reg.distance, shards: reg.shards, vertexSubset: reg.vertexSubset, generator: this.generator })
            : perplexityRegularizer(lp.exp(), { input: 'probs' }),
        );
      }
      const r = total.div(this.groups);
      loss = loss.add(r.mul(reg.weight ?? 1));
      stats[reg.type] = r.item();
    }
    stats.temperature = this.temperature;
    stats.batchUsage = this.batchUsage(indices);
    const toRows = (t: Tensor) => (this.groups === 1 ? t.squeeze(0) : t.permute([1, 0, 2]));
    return {
      quantized: quantized.reshape(input.shape),
      indices: this.shapeIndices(indices, lead),
      probs: toRows(probs),
      logProbs: toRows(logProbs),
      loss,
      stats,
    };
  }
}
