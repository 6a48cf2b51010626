/**
 * Convolutions, built from two data-movement ops and a matrix product:
 *
 *   im2col: x [N, C, H, W] → columns [C·kh·kw, N·oh·ow], one column per output position;
 *   col2im: its adjoint, which adds each column back onto the patch it came from.
 *
 * conv2d is  W [O, C·kh·kw] @ im2col(x),  and convTranspose2d is  col2im(Wᵀ @ x): the second is
 * the gradient of the first with respect to its input, which is why it is also called a
 * "deconvolution". Since im2col and col2im are each other's VJP and matmul has its own, every
 * convolution's gradient (input, weight and bias) follows with no convolution-specific code.
 * (On a backend with `convOutput` the product, the permute to NCHW and the bias add are one call
 * and one node, whose vjp is those three ops' vjps written out: `fusedOutput` below.)
 * Groups split the channels into independent blocks: a batched product over the groups.
 */
import type { Backend, ConvGeometry } from '../backend.js';
import { record } from '../autograd.js';
import { ArgumentError, DTypeError, ShapeError, describeValue, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { mm } from './matmul.js';
import { fromHandle, handleOn, requireFloat, requireTensor, sumToShape } from './util.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra size added to one side of the output (resolves the ambiguity of strided outputs). */
  outputPadding?: number | [number, number];
}

/** An option given as one number or a [height, width] pair, checked: integers ≥ `min`. */
function pair(op: string, name: string, v: number | [number, number] | undefined, dflt: number, min: number): [number, number] {
  const p: unknown[] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : [v];
  if (!p.every((e) => typeof e === 'number')) throw new ArgumentError(op, `${name} must be an integer ≥ ${min} or a pair of them, got ${describeValue(v)}`);
  if (!p.every((e) => Number.isInteger(e) && (e as number) >= min)) throw new ShapeError(op, `${name} must be an integer ≥ ${min} or a pair of them, got ${describeValue(v)}`);
  return p as [number, number];
}

/** conv options: an object (or nothing); the bias: a Tensor, null or nothing. */
function checkArgs(op: string, bias: unknown, opts: unknown): void {
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(op, `options must be an object, got ${describeValue(opts)}`);
  if (bias !== undefined && bias !== null) requireTensor(op, bias, 'bias');
  const groups = (opts as { groups?: unknown }).groups;
  if (groups !== undefined && (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1)) {
    throw new ArgumentError(op, `groups must be a positive integer, got ${describeValue(groups)}`);
  }
}

/** im2col as a differentiable op: ∂ = col2im. */
export function im2col(x: Tensor, g: ConvGeometry): Tensor {
  const y = fromHandle(x.backend.im2col(x.handle, g), [g.c * g.kh * g.kw, g.n * g.oh * g.ow], 'float32', x.backend);
  return record('im2col', y, [x], (grad) => [col2im(grad, g)]);
}

/** col2im as a differentiable op: ∂ = im2col. */
export function col2im(cols: Tensor, g: ConvGeometry): Tensor {
  const y = fromHandle(cols.backend.col2im(cols.handle, g), [g.n, g.c, g.h, g.w], 'float32', cols.backend);
  return record('col2im', y, [cols], (grad) => [im2col(grad, g)]);
}

function geometry(op: string, x: readonly number[], kh: number, kw: number, o: Conv2dOptions, oh: number, ow: number): ConvGeometry {
  const [strideH, strideW] = pair(op, 'stride', o.stride, 1, 1);
  const [padH, padW] = pair(op, 'padding', o.padding, 0, 0);
  const [dilationH, dilationW] = pair(op, 'dilation', o.dilation, 1, 1);
  if (oh <= 0 || ow <= 0) {
    throw new ShapeError(op, `input ${fmtShape(x)} is too small for a ${kh}×${kw} kernel (stride ${strideH}×${strideW}, padding ${padH}×${padW}, dilation ${dilationH}×${dilationW}): output would be ${oh}×${ow}`);
  }
  return { n: x[0]!, c: x[1]!, h: x[2]!, w: x[3]!, kh, kw, strideH, strideW, padH, padW, dilationH, dilationW, oh, ow };
}

function checkGroups(op: string, cin: number, cout: number, groups: number): void {
  if (!Number.isInteger(groups) || groups < 1 || cin % groups !== 0 || cout % groups !== 0) {
    throw new ShapeError(op, `groups = ${groups} must divide both the ${cin} input and ${cout} output channels`);
  }
}

/** 2-D convolution (cross-correlation, as in PyTorch). x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  requireFloat('conv2d', x);
  requireFloat('conv2d', weight);
  checkArgs('conv2d', bias, opts);
  if (x.ndim !== 4 || weight.ndim !== 4) {
    throw new ShapeError('conv2d', `expects x [N, C, H, W] and weight [O, C/groups, kh, kw], got ${fmtShape(x.shape)} and ${fmtShape(weight.shape)}`);
  }
  const groups = opts.groups ?? 1;
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, Cg, kh, kw] = weight.shape as [number, number, number, number];
  checkGroups('conv2d', C, O, groups);
  if (Cg * groups !== C) {
    throw new ShapeError('conv2d', `weight ${fmtShape(weight.shape)} expects ${Cg * groups} input channels, x ${fmtShape(x.shape)} has ${C}`);
  }
  const [sh, sw] = pair('conv2d', 'stride', opts.stride, 1, 1), [ph, pw] = pair('conv2d', 'padding', opts.padding, 0, 0), [dh, dw] = pair('conv2d', 'dilation', opts.dilation, 1, 1);
  const oh = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const g = geometry('conv2d', x.shape, kh, kw, opts, oh, ow);
  const cols = im2col(x, g); // [C·kh·kw, N·oh·ow]
  if (groups === 1 && x.backend.convOutput) return fusedOutput(x.backend, cols, weight.reshape([O, C * kh * kw]), bias ? checkBias('conv2d', bias, O) : null, [N, O, oh, ow]);
  let out: Tensor;
  if (groups === 1) {
    out = weight.reshape([O, C * kh * kw]).matmul(cols); // [O, N·oh·ow]
  } else {
    const K = Cg * kh * kw;
    out = weight.reshape([groups, O / groups, K]).matmul(cols.reshape([groups, K, N * oh * ow])); // [G, O/G, N·oh·ow]
  }
  out = out.reshape([O, N, oh, ow]).permute([1, 0, 2, 3]);
  if (bias) out = out.add(checkBias('conv2d', bias, O).reshape([1, O, 1, 1]));
  return out;
}

/**
 * 2-D transposed convolution, the adjoint of conv2d with respect to its input.
 * x [N, Cin, H, W], weight [Cin, Cout/groups, kh, kw] (PyTorch's layout), bias [Cout].
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  requireFloat('convTranspose2d', x);
  requireFloat('convTranspose2d', weight);
  checkArgs('convTranspose2d', bias, opts);
  if (x.ndim !== 4 || weight.ndim !== 4) {
    throw new ShapeError('convTranspose2d', `expects x [N, Cin, H, W] and weight [Cin, Cout/groups, kh, kw], got ${fmtShape(x.shape)} and ${fmtShape(weight.shape)}`);
  }
  const groups = opts.groups ?? 1;
  const [N, Cin, H, W] = x.shape as [number, number, number, number];
  const [Cw, Cg, kh, kw] = weight.shape as [number, number, number, number];
  if (Cw !== Cin) {
    throw new ShapeError('convTranspose2d', `weight ${fmtShape(weight.shape)} expects ${Cw} input channels, x ${fmtShape(x.shape)} has ${Cin}`);
  }
  const Cout = Cg * groups;
  checkGroups('convTranspose2d', Cin, Cout, groups);
  const op = 'convTranspose2d';
  const [sh, sw] = pair(op, 'stride', opts.stride, 1, 1), [ph, pw] = pair(op, 'padding', opts.padding, 0, 0), [dh, dw] = pair(op, 'dilation', opts.dilation, 1, 1);
  const [oph, opw] = pair(op, 'outputPadding', opts.outputPadding, 0, 0);
  if (oph >= Math.max(sh, dh) || opw >= Math.max(sw, dw)) {
    throw new ShapeError('convTranspose2d', `outputPadding ${oph}×${opw} must be smaller than the stride or the dilation`);
  }
  const OH = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1;
  const OW = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
  if (OH <= 0 || OW <= 0) {
    throw new ShapeError('convTranspose2d', `padding ${ph}×${pw} leaves no output for input ${fmtShape(x.shape)} and a ${kh}×${kw} kernel (stride ${sh}×${sw}, dilation ${dh}×${dw}): output would be ${OH}×${OW}`);
  }
  // The geometry of the forward conv whose input gradient this is: output size OH×OW, "its" output H×W.
  const g = geometry('convTranspose2d', [N, Cout, OH, OW], kh, kw, opts, H, W);
  const xf = x.permute([1, 0, 2, 3]).reshape([Cin, N * H * W]);
  let cols: Tensor;
  if (groups === 1) {
    cols = mm(weight.reshape([Cin, Cout * kh * kw]), xf, true); // Wᵀ x: [Cout·kh·kw, N·H·W]
  } else {
    const Cig = Cin / groups;
    cols = mm(weight.reshape([groups, Cig, Cg * kh * kw]), xf.reshape([groups, Cig, N * H * W]), true).reshape([Cout * kh * kw, N * H * W]);
  }
  let out = col2im(cols, g);
  if (bias) out = out.add(checkBias('convTranspose2d', bias, Cout).reshape([1, Cout, 1, 1]));
  return out;
}

/**
 * conv2d's product, permute and bias in one backend call (a backend with convOutput: the CPU
 * backend), with the same values and the same gradients as the composition in conv2d: its vjp is
 * the vjps of add, permute and matmul, written out.
 */
function fusedOutput(backend: Backend, cols: Tensor, w2: Tensor, bias: Tensor | null, shape: [number, number, number, number]): Tensor {
  const [N, O, oh, ow] = shape, K = w2.shape[1]!, P = oh * ow;
  const h = backend.convOutput!(handleOn(w2, backend), handleOn(cols, backend), bias ? handleOn(bias, backend) : null, O, K, N, P);
  const y = fromHandle(h, shape, 'float32', backend);
  const inputs = bias ? [w2, cols, bias] : [w2, cols];
  return record('conv2d', y, inputs, (gy) => {
    const G = gy.permute([1, 0, 2, 3]).reshape([O, N * P]); // permute's and reshape's vjps
    return [
      w2.requiresGrad ? mm(G, cols, false, true) : null, // matmul's
      cols.requiresGrad ? mm(w2, G, true, false) : null,
      ...(bias ? [bias.requiresGrad ? sumToShape(gy, [1, O, 1, 1]).reshape([O]) : null] : []), // add's
    ];
  });
}

function checkBias(op: string, bias: Tensor, channels: number): Tensor {
  if (bias.ndim !== 1 || bias.shape[0] !== channels) {
    throw new ShapeError(op, `bias must have shape [${channels}], got ${fmtShape(bias.shape)}`);
  }
  return bias;
}

export interface Conv1dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
}

/** 1-D convolution: x [N, C, L], weight [O, C/groups, k]; a conv2d of height 1. */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv1dOptions = {}): Tensor {
  requireFloat('conv1d', x);
  requireFloat('conv1d', weight);
  checkArgs('conv1d', bias, opts);
  if (x.ndim !== 3 || weight.ndim !== 3) {
    throw new ShapeError('conv1d', `expects x [N, C, L] and weight [O, C/groups, k], got ${fmtShape(x.shape)} and ${fmtShape(weight.shape)}`);
  }
  const y = as1d('conv1d', x, weight, () => conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, {
    stride: [1, opts.stride ?? 1],
    padding: [0, opts.padding ?? 0],
    dilation: [1, opts.dilation ?? 1],
    groups: opts.groups ?? 1,
  }));
  return y.squeeze(2);
}

/** 1-D transposed convolution: x [N, Cin, L], weight [Cin, Cout/groups, k]. */
export function convTranspose1d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv1dOptions & { outputPadding?: number } = {}): Tensor {
  requireFloat('convTranspose1d', x);
  requireFloat('convTranspose1d', weight);
  checkArgs('convTranspose1d', bias, opts);
  if (x.ndim !== 3 || weight.ndim !== 3) {
    throw new ShapeError('convTranspose1d', `expects x [N, Cin, L] and weight [Cin, Cout/groups, k], got ${fmtShape(x.shape)} and ${fmtShape(weight.shape)}`);
  }
  const y = as1d('convTranspose1d', x, weight, () => convTranspose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, {
    stride: [1, opts.stride ?? 1],
    padding: [0, opts.padding ?? 0],
    dilation: [1, opts.dilation ?? 1],
    outputPadding: [0, opts.outputPadding ?? 0],
    groups: opts.groups ?? 1,
  }));
  return y.squeeze(2);
}

/** Runs the 2-D convolution behind a 1-D one; its errors name the 1-D op and the caller's shapes. */
function as1d(op: string, x: Tensor, weight: Tensor, run: () => Tensor): Tensor {
  try {
    return run();
  } catch (e) {
    if ((e instanceof ShapeError || e instanceof DTypeError) && e.op !== op) {
      const Cls = e instanceof ShapeError ? ShapeError : DTypeError;
      throw new Cls(op, `x ${fmtShape(x.shape)}, weight ${fmtShape(weight.shape)}: ${e.message} (as a 2-D convolution of height 1)`);
    }
    throw e;
  }
}
