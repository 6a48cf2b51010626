/**
 * A linear map per group, for the codebook-free quantizers (FSQ, LFQ): rows [G, N, in] →
 * [G, N, out] with weights [G, in, out] and biases [G, 1, out], one batched matmul. Initialized as
 * nn.Linear is, U(±1/√in). Each group keeps its own map, so each group's implicit codebook can be
 * written out on its own (effectiveCodebook).
 */
import { zeros, type Generator, type Tensor } from '@simplex-vq/tensor';
import { Module, Parameter, init } from '@simplex-vq/nn';

export class GroupedLinear extends Module {
  /** [G, in, out] */
  declare readonly weight: Tensor;
  /** [G, 1, out] */
  declare readonly bias: Tensor;

  constructor(readonly groups: number, readonly inFeatures: number, readonly outFeatures: number, generator: Generator) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.registerParameter('weight', new Parameter(init.uniform(zeros([groups, inFeatures, outFeatures]), -bound, bound, { generator })));
    this.registerParameter('bias', new Parameter(init.uniform(zeros([groups, 1, outFeatures]), -bound, bound, { generator })));
  }

  override forward(x: Tensor): Tensor {
    return x.matmul(this.weight).add(this.bias);
  }
}
