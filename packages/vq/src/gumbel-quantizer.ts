/**
 * The wav2vec 2.0 quantizer (the `gumbel` baseline): logits from a linear map, a Gumbel-softmax
 * sample with a straight-through hard one-hot forward, a temperature annealed from 2 to 0.5, and
 * the diversity loss that pushes the batch-mean code distribution toward uniform:
 *
 *   y = softmax((ℓ + g) / τ), g = −log(−log u);  forward: onehot(argmax y);  backward: ∂y
 *   L_d = (G·M − Σ_g exp H(p̄_g)) / (G·M),  p̄_g = mean_n softmax(ℓ_n) (no noise)
 */
import { Generator, ShapeError, defaultGenerator, rand, randn, zeros, type Tensor } from '@simplex-vq/tensor';
import { Linear, Parameter } from '@simplex-vq/nn';
import { entropy } from './perplexity.js';
import { CodebookQuantizer, type CodebookOptions } from './codebook.js';
import type { QuantizerOutput } from './quantizer.js';

/** `init: 'data'` sets the output codebook from the first batch; `restart` is refused (a linear layer, not the codebook, picks the code). */
export interface GumbelQuantizerOptions extends CodebookOptions {
  /** Temperature schedule τ(step) = max(end, start · decay^step); wav2vec 2.0: 2 → 0.5, decay 0.999995. */
  temperature?: { start?: number; end?: number; decay?: number };
  /** Weight of the diversity loss (default 0.1). */
  diversityWeight?: number;
  generator?: Generator;
}

export class GumbelQuantizer extends CodebookQuantizer {
  declare readonly codebook: Tensor;
  declare readonly logitLayer: Linear;
  declare readonly step: Tensor;
  readonly schedule: { start: number; end: number; decay: number };
  readonly diversityWeight: number;
  protected readonly generator: Generator;

  constructor(opts: GumbelQuantizerOptions) {
    super(opts);
    if (this.restart) throw new ShapeError('GumbelQuantizer', 'restart does not apply: its codes are chosen by a linear layer, not by distance to the codebook, so a reset entry would not be chosen');
    this.generator = opts.generator ?? defaultGenerator();
    // Field by field, so a field given as undefined keeps its default (a spread would copy the undefined).
    const t = opts.temperature ?? {};
    this.schedule = { start: t.start ?? 2, end: t.end ?? 0.5, decay: t.decay ?? 0.999995 };
    this.diversityWeight = opts.diversityWeight ?? 0.1;
    const { groups: G, codebookSize: M, groupDim: d } = this;
    this.registerParameter('codebook', new Parameter(randn([G, M, d], { generator: this.generator }).mul(this.initStd)));
    this.registerModule('logitLayer', new Linear(this.dim, G * M, { generator: this.generator }));
    this.registerBuffer('step', zeros([]));
    this.registerGenerator('noise', this.generator);
  }

  /** The current temperature. */
  get temperature(): number {
    const { start, end, decay } = this.schedule;
    return Math.max(end, start * decay ** this.step.item());
  }

  effectiveCodebook(): Tensor {
    return this.codebook;
  }

  protected setEntries(values: Tensor, codes?: number[]): void {
    this.codebook.assign(this.mergeEntries(this.codebook, values, codes));
  }

  override forward(input: Tensor): QuantizerOutput {
    const lead = input.shape.slice(0, -1);
    const z = this.rows(input);
    const N = z.shape[0]!, G = this.groups, M = this.codebookSize;
    if (this.init === 'data') this.initFromData(this.split(z));
    const logits = this.logitLayer.forward(z).reshape([N, G, M]).permute([1, 0, 2]); // [G, N, M]
    const logProbs = logits.logSoftmax(-1);
    const probs = logProbs.exp();
    const stats: Record<string, number> = {};
    let indices: Tensor;
    let q: Tensor;
    let loss = zeros([]);
    if (this.training) {
      const tau = this.temperature;
      const u = rand([G, N, M], { generator: this.generator }).clamp(1e-10, 1 - 1e-7);
      const y = logits.add(u.log().neg().log().neg()).div(tau).softmax(-1);
      indices = y.detach().argmax(-1);
      const hard = indices.oneHot(M, 'float32');
      q = hard.sub(y.detach()).add(y).matmul(this.codebook); // straight-through
      const meanProbs = probs.mean(1); // [G, M]
      const diversity = entropy(meanProbs).exp().sum().neg().add(G * M).div(G * M);
      loss = diversity.mul(this.diversityWeight);
      stats.diversity = diversity.item();
      stats.temperature = tau;
      this.step.assign(this.step.add(1));
    } else {
      indices = logits.detach().argmax(-1);
      q = this.lookup(this.codebook, indices);
      stats.temperature = this.temperature;
    }
    stats.batchUsage = this.batchUsage(indices);
    const toRows = (t: Tensor) => (G === 1 ? t.squeeze(0) : t.permute([1, 0, 2]));
    return {
      quantized: this.merge(q).reshape(input.shape),
      indices: this.shapeIndices(indices, lead),
      probs: toRows(probs),
      logProbs: toRows(logProbs),
      loss,
      stats,
    };
  }
}
