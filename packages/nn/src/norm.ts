/**
 * Normalization layers. Both subtract a mean and divide by √(variance + eps) (the biased variance,
 * as PyTorch), then apply a learned per-feature scale and shift:
 *   LayerNorm: statistics over the last axes (normalizedShape), per sample and position;
 *   GroupNorm: statistics over each group of channels and all spatial positions, per sample.
 */
import { ShapeError, ones, zeros, type Tensor } from '@simplex-vq/tensor';
import { Module, Parameter } from './module.js';

/** (x − mean) / √(var + eps) over `axes` (kept as size-1 axes for broadcasting). */
function standardize(x: Tensor, axes: number[], eps: number): Tensor {
  const centered = x.sub(x.mean(axes, true));
  const variance = centered.square().mean(axes, true);
  return centered.div(variance.add(eps).sqrt());
}

export interface LayerNormOptions {
  eps?: number;
  /** Learn a scale (and a shift, unless bias is false) of normalizedShape (default true). */
  elementwiseAffine?: boolean;
  bias?: boolean;
}

export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  declare readonly weight: Tensor | null;
  declare readonly bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.registerParameter('weight', affine ? new Parameter(ones(this.normalizedShape)) : null);
    this.registerParameter('bias', affine && opts.bias !== false ? new Parameter(zeros(this.normalizedShape)) : null);
  }

  /** x [..., ...normalizedShape] → same shape. */
  override forward(x: Tensor): Tensor {
    const k = this.normalizedShape.length;
    const tail = x.shape.slice(x.ndim - k);
    if (x.ndim < k || tail.some((d, i) => d !== this.normalizedShape[i])) {
      throw new ShapeError('LayerNorm', `input [${x.shape.join(', ')}] does not end with normalizedShape [${this.normalizedShape.join(', ')}]`);
    }
    const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
    let y = standardize(x, axes, this.eps);
    if (this.weight) y = y.mul(this.weight);
    if (this.bias) y = y.add(this.bias);
    return y;
  }

  override extraRepr(): string {
    return `[${this.normalizedShape.join(', ')}], eps=${this.eps}`;
  }
}

export interface GroupNormOptions {
  eps?: number;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
}

export class GroupNorm extends Module {
  readonly eps: number;
  declare readonly weight: Tensor | null;
  declare readonly bias: Tensor | null;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    opts: GroupNormOptions = {},
  ) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || numChannels % numGroups !== 0) {
      throw new ShapeError('GroupNorm', `numGroups = ${numGroups} must divide numChannels = ${numChannels}`);
    }
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true;
    this.registerParameter('weight', affine ? new Parameter(ones([numChannels])) : null);
    this.registerParameter('bias', affine ? new Parameter(zeros([numChannels])) : null);
  }

  /** x [N, C, ...] → same shape. */
  override forward(x: Tensor): Tensor {
    if (x.ndim < 2 || x.shape[1] !== this.numChannels) {
      throw new ShapeError('GroupNorm', `expected input [N, ${this.numChannels}, ...], got [${x.shape.join(', ')}]`);
    }
    const n = x.shape[0]!;
    let y = standardize(x.reshape([n, this.numGroups, -1]), [2], this.eps).reshape(x.shape);
    const perChannel = [1, this.numChannels, ...x.shape.slice(2).map(() => 1)];
    if (this.weight) y = y.mul(this.weight.reshape(perChannel));
    if (this.bias) y = y.add(this.bias.reshape(perChannel));
    return y;
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}`;
  }
}
