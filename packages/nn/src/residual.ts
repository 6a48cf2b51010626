/**
 * A residual block for convolutional encoders and decoders, in the pre-activation form used by
 * VQ-VAE (ReLU, k×k conv, ReLU, 1×1 conv) with optional GroupNorm before each activation:
 *
 *   y = shortcut(x) + conv2(act(norm2(conv1(act(norm1(x))))))
 *
 * conv1 keeps the spatial size (padding ⌊k/2⌋, k odd); shortcut is the identity, or a 1×1
 * convolution when the channel count changes.
 */
import { ShapeError, defaultGenerator, type Generator, type Tensor } from '@simplex-vq/tensor';
import { GELU, ReLU, SiLU } from './activations.js';
import { Conv1d, Conv2d } from './conv.js';
import { Identity } from './flatten.js';
import { Module } from './module.js';
import { GroupNorm } from './norm.js';

export interface ResidualBlockOptions {
  /** Channels between the two convolutions (default: outChannels). */
  hiddenChannels?: number;
  /** Odd kernel size of the first convolution (default 3). */
  kernelSize?: number;
  /** 2 for images [N, C, H, W] (default), 1 for sequences [N, C, L]. */
  dims?: 1 | 2;
  activation?: 'relu' | 'gelu' | 'silu';
  /** 'group': a GroupNorm before each activation (default 'none'). */
  norm?: 'none' | 'group';
  /** Groups of the GroupNorms (default: the largest divisor of the channels up to 32). */
  numGroups?: number;
  generator?: Generator;
}

type Layer = Module & { forward(x: Tensor): Tensor };

function largestDivisor(channels: number, max = 32): number {
  for (let g = Math.min(max, channels); g > 1; g--) if (channels % g === 0) return g;
  return 1;
}

export class ResidualBlock extends Module {
  declare readonly norm1: Layer;
  declare readonly conv1: Conv1d | Conv2d;
  declare readonly norm2: Layer;
  declare readonly conv2: Conv1d | Conv2d;
  declare readonly shortcut: Layer;
  declare readonly activation: Layer;

  constructor(
    readonly inChannels: number,
    readonly outChannels = inChannels,
    opts: ResidualBlockOptions = {},
  ) {
    super();
    const k = opts.kernelSize ?? 3;
    if (!Number.isInteger(k) || k < 1 || k % 2 === 0) throw new ShapeError('ResidualBlock', `kernelSize must be odd, got ${k}`);
    const hidden = opts.hiddenChannels ?? outChannels;
    const generator = opts.generator ?? defaultGenerator();
    const Conv = (opts.dims ?? 2) === 2 ? Conv2d : Conv1d;
    const norm = (c: number): Layer =>
      opts.norm === 'group' ? new GroupNorm(opts.numGroups ?? largestDivisor(c), c) : new Identity();
    this.registerModule('norm1', norm(inChannels));
    this.registerModule('conv1', new Conv(inChannels, hidden, k, { padding: (k - 1) / 2, generator }));
    this.registerModule('norm2', norm(hidden));
    this.registerModule('conv2', new Conv(hidden, outChannels, 1, { generator }));
    this.registerModule('shortcut', inChannels === outChannels ? new Identity() : new Conv(inChannels, outChannels, 1, { generator }));
    const act = opts.activation ?? 'relu';
    this.registerModule('activation', act === 'gelu' ? new GELU() : act === 'silu' ? new SiLU() : new ReLU());
  }

  override forward(x: Tensor): Tensor {
    const h = this.conv1.forward(this.activation.forward(this.norm1.forward(x)));
    const y = this.conv2.forward(this.activation.forward(this.norm2.forward(h)));
    return this.shortcut.forward(x).add(y);
  }

  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}`;
  }
}
