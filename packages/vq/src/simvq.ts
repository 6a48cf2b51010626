/**
 * SimVQ (Zhu et al., 2024; the `simvq` baseline): the codebook is a frozen random matrix C0 times
 * a learned linear map W, so every code moves whenever W does — even codes no row chose:
 *
 *   E = C0 W;  k = argmin ‖z − E_k‖;  q = z + sg(E_k − z);
 *   loss = ‖sg(z) − E_k‖² (trains W)  + β‖z − sg(E_k)‖²
 */
import { Generator, defaultGenerator, noGrad, randn, zeros, type Tensor } from '@simplex-vq/tensor';
import { Parameter, init } from '@simplex-vq/nn';
import { Quantizer, squaredDistances, type QuantizerBaseOptions, type QuantizerOutput } from './quantizer.js';

export interface SimVQOptions extends QuantizerBaseOptions {
  /** Commitment weight β (default 0.25). */
  commitment?: number;
  generator?: Generator;
}

export class SimVQ extends Quantizer {
  /** The frozen random basis C0, [G, M, d] (a buffer: saved, never trained). */
  declare readonly basis: Tensor;
  /** The learned map W, [G, d, d]. */
  declare readonly projection: Tensor;
  readonly commitment: number;

  constructor(opts: SimVQOptions) {
    super(opts);
    const generator = opts.generator ?? defaultGenerator();
    this.commitment = opts.commitment ?? 0.25;
    const { groups: G, codebookSize: M, groupDim: d } = this;
    this.registerBuffer('basis', randn([G, M, d], { generator }));
    // As nn.Linear initializes its weight: U(±1/√d).
    this.registerParameter('projection', new Parameter(init.uniform(zeros([G, d, d]), -1 / Math.sqrt(d), 1 / Math.sqrt(d), { generator })));
  }

  effectiveCodebook(): Tensor {
    return this.basis.matmul(this.projection);
  }

  override forward(input: Tensor): QuantizerOutput {
    const lead = input.shape.slice(0, -1);
    const z = this.rows(input);
    const zg = this.split(z);
    const codebook = this.effectiveCodebook(); // [G, M, d], differentiable in W
    const idx = noGrad(() => squaredDistances(zg.detach(), codebook.detach()).argmin(-1));
    const e = this.lookup(codebook, idx);
    const commit = zg.sub(e.detach()).square().mean();
    const codebookLoss = zg.detach().sub(e).square().mean();
    const loss = codebookLoss.add(commit.mul(this.commitment));
    const q = zg.add(e.sub(zg).detach());
    return {
      quantized: this.merge(q).reshape(input.shape),
      indices: this.shapeIndices(idx, lead),
      loss,
      stats: { commitment: commit.item(), codebook: codebookLoss.item(), batchUsage: this.batchUsage(idx) },
    };
  }
}
