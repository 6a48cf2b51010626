/**
 * Parameter initialization (torch.nn.init). Each function overwrites a tensor's values in place
 * (through `assign`, so a registered parameter keeps its identity) and returns it. Every draw
 * comes from a seeded Generator: the one passed, else the global one (`manualSeed`).
 *
 * Fans follow PyTorch: for a weight [out, in, ...kernel], fanIn = in·k and fanOut = out·k with
 * k the kernel size (so a transposed convolution's [in, out/groups, ...] weight has
 * fanIn = (out/groups)·k, exactly as PyTorch computes it).
 */
import { defaultGenerator, noGrad, tensor, type Generator, type Tensor } from '@simplex-vq/tensor';

export interface InitOptions {
  generator?: Generator;
}

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'convTranspose1d' | 'convTranspose2d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu' | 'selu';

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'convTranspose1d': case 'convTranspose2d': case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leakyRelu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
  }
}

/** fanIn and fanOut of a weight shape (at least 2-D). */
export function calculateFanInAndFanOut(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`init: fan in and fan out need a tensor of rank ≥ 2, got shape [${shape.join(', ')}]`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

function fill(t: Tensor, draw: () => number): Tensor {
  const v = new Float32Array(t.size);
  for (let i = 0; i < v.length; i++) v[i] = draw();
  noGrad(() => t.assign(tensor(v, { shape: t.shape })));
  return t;
}

/** U(low, high). */
export function uniform(t: Tensor, low = 0, high = 1, opts: InitOptions = {}): Tensor {
  const g = opts.generator ?? defaultGenerator();
  return fill(t, () => low + (high - low) * g.random());
}

/** N(mean, std²). */
export function normal(t: Tensor, mean = 0, std = 1, opts: InitOptions = {}): Tensor {
  const g = opts.generator ?? defaultGenerator();
  return fill(t, () => mean + std * g.normal());
}

export function constant(t: Tensor, value: number): Tensor {
  return fill(t, () => value);
}

export const zeros = (t: Tensor): Tensor => constant(t, 0);
export const ones = (t: Tensor): Tensor => constant(t, 1);

/** Glorot: U(−b, b) with b = gain·√(6 / (fanIn + fanOut)). */
export function xavierUniform(t: Tensor, opts: InitOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t.shape);
  const bound = (opts.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -bound, bound, opts);
}

/** Glorot: N(0, σ²) with σ = gain·√(2 / (fanIn + fanOut)). */
export function xavierNormal(t: Tensor, opts: InitOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t.shape);
  return normal(t, 0, (opts.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), opts);
}

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU that follows (default 0). */
  a?: number;
  /** Preserve the variance of the forward ('fanIn', default) or the backward pass ('fanOut'). */
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, opts: KaimingOptions): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t.shape);
  const fan = (opts.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  const gain = calculateGain(opts.nonlinearity ?? 'leakyRelu', opts.a ?? 0);
  return fan === 0 ? 0 : gain / Math.sqrt(fan);
}

/**
 * He: U(−b, b) with b = √3·gain/√fan. With a = √5 (what PyTorch's Linear and Conv use) this is
 * b = 1/√fanIn.
 */
export function kaimingUniform(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform(t, -bound, bound, opts);
}

/** He: N(0, σ²) with σ = gain/√fan. */
export function kaimingNormal(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd(t, opts), opts);
}

/**
 * PyTorch's default for Linear and Conv layers: weight kaiming-uniform with a = √5
 * (U(±1/√fanIn)), bias U(±1/√fanIn).
 */
export function defaultLayerInit(weight: Tensor, bias: Tensor | null, opts: InitOptions = {}): void {
  kaimingUniform(weight, { a: Math.sqrt(5), generator: opts.generator });
  if (bias) {
    const { fanIn } = calculateFanInAndFanOut(weight.shape);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform(bias, -bound, bound, opts);
  }
}
