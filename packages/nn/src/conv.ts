/**
 * Convolution layers over the engine's conv ops (im2col + matmul). Weights use PyTorch's layouts:
 *   Conv1d/Conv2d:                   [out, in/groups, ...kernel]
 *   ConvTranspose1d/ConvTranspose2d: [in, out/groups, ...kernel]
 * and PyTorch's default initialization (kaiming-uniform with a = √5, bias U(±1/√fanIn)).
 */
import {
  ShapeError,
  conv1d,
  conv2d,
  convTranspose1d,
  convTranspose2d,
  defaultGenerator,
  zeros,
  type Generator,
  type Tensor,
} from '@simplex-vq/tensor';
import { defaultLayerInit } from './init.js';
import { Module, Parameter } from './module.js';

type Pair = number | [number, number];

interface ConvCommon {
  groups?: number;
  /** Add a learned bias (default true). */
  bias?: boolean;
  /** Generator for the initial values (default: the global one). */
  generator?: Generator;
}

export interface Conv1dLayerOptions extends ConvCommon {
  stride?: number;
  padding?: number;
  dilation?: number;
}

export interface Conv2dLayerOptions extends ConvCommon {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

export interface ConvTranspose1dLayerOptions extends Conv1dLayerOptions {
  outputPadding?: number;
}

export interface ConvTranspose2dLayerOptions extends Conv2dLayerOptions {
  outputPadding?: Pair;
}

/** Weight, bias and their initialization, shared by the four layers. */
abstract class ConvBase extends Module {
  declare readonly weight: Tensor;
  declare readonly bias: Tensor | null;
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: readonly number[],
    transposed: boolean,
    opts: ConvCommon,
  ) {
    super();
    const groups = opts.groups ?? 1;
    const name = this.constructor.name;
    if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new ShapeError(name, `groups = ${groups} must divide inChannels = ${inChannels} and outChannels = ${outChannels}`);
    }
    if (kernelSize.some((k) => !Number.isInteger(k) || k < 1)) throw new ShapeError(name, `invalid kernel size [${kernelSize.join(', ')}]`);
    this.groups = groups;
    const shape = transposed ? [inChannels, outChannels / groups, ...kernelSize] : [outChannels, inChannels / groups, ...kernelSize];
    this.registerParameter('weight', new Parameter(zeros(shape)));
    this.registerParameter('bias', opts.bias === false ? null : new Parameter(zeros([outChannels])));
    this.resetParameters(opts.generator ?? defaultGenerator());
  }

  resetParameters(generator?: Generator): void {
    defaultLayerInit(this.weight, this.bias, { generator });
  }

  override extraRepr(): string {
    const k = this.kernelSize.length === 1 ? `${this.kernelSize[0]}` : `[${this.kernelSize.join(', ')}]`;
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${k}${this.groups > 1 ? `, groups=${this.groups}` : ''}${this.bias ? '' : ', bias=false'}`;
  }
}

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** x [N, inChannels, L] → [N, outChannels, L'] */
export class Conv1d extends ConvBase {
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;

  constructor(inChannels: number, outChannels: number, kernelSize: number, opts: Conv1dLayerOptions = {}) {
    super(inChannels, outChannels, [kernelSize], false, opts);
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
  }

  override forward(x: Tensor): Tensor {
    return conv1d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

/** x [N, inChannels, H, W] → [N, outChannels, H', W'] */
export class Conv2d extends ConvBase {
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: Conv2dLayerOptions = {}) {
    super(inChannels, outChannels, pair(kernelSize), false, opts);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
  }

  override forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

/** x [N, inChannels, L] → [N, outChannels, (L−1)·stride − 2·padding + dilation·(k−1) + outputPadding + 1] */
export class ConvTranspose1d extends ConvBase {
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly outputPadding: number;

  constructor(inChannels: number, outChannels: number, kernelSize: number, opts: ConvTranspose1dLayerOptions = {}) {
    super(inChannels, outChannels, [kernelSize], true, opts);
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.outputPadding = opts.outputPadding ?? 0;
  }

  override forward(x: Tensor): Tensor {
    return convTranspose1d(x, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, dilation: this.dilation, outputPadding: this.outputPadding, groups: this.groups,
    });
  }
}

/** x [N, inChannels, H, W] → [N, outChannels, H', W'], the adjoint of Conv2d's geometry. */
export class ConvTranspose2d extends ConvBase {
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly outputPadding: [number, number];

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: ConvTranspose2dLayerOptions = {}) {
    super(inChannels, outChannels, pair(kernelSize), true, opts);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    this.outputPadding = pair(opts.outputPadding ?? 0);
  }

  override forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, dilation: this.dilation, outputPadding: this.outputPadding, groups: this.groups,
    });
  }
}
