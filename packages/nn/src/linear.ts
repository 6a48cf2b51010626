/**
 * Linear: y = x Wᵀ + b, with W stored [out, in] as in PyTorch (so state dicts line up).
 * The product runs as one matmul with the transpose folded into the kernel (`mm(x, W, false, true)`).
 */
import { ShapeError, defaultGenerator, mm, zeros, type Generator, type Tensor } from '@simplex-vq/tensor';
import { defaultLayerInit } from './init.js';
import { Module, Parameter } from './module.js';

export interface LinearOptions {
  /** Add a learned bias (default true). */
  bias?: boolean;
  /** Generator for the initial values (default: the global one). */
  generator?: Generator;
}

export class Linear extends Module {
  /** [outFeatures, inFeatures] */
  declare readonly weight: Tensor;
  /** [outFeatures], or null without bias. */
  declare readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    this.registerParameter('weight', new Parameter(zeros([outFeatures, inFeatures])));
    this.registerParameter('bias', opts.bias === false ? null : new Parameter(zeros([outFeatures])));
    this.resetParameters(opts.generator ?? defaultGenerator());
  }

  /** PyTorch's default: weight and bias U(±1/√inFeatures). */
  resetParameters(generator?: Generator): void {
    defaultLayerInit(this.weight, this.bias, { generator });
  }

  /** x [..., inFeatures] → [..., outFeatures]. */
  override forward(x: Tensor): Tensor {
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new ShapeError('Linear', `expected input [..., ${this.inFeatures}], got [${x.shape.join(', ')}]`);
    }
    const x2 = x.ndim === 1 ? x.unsqueeze(0) : x;
    let y = mm(x2, this.weight, false, true);
    if (this.bias) y = y.add(this.bias);
    return x.ndim === 1 ? y.squeeze(0) : y;
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
