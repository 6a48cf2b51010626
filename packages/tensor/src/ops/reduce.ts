/**
 * Reductions along one or more axes. The backend reduces one axis of a tensor seen as
 * [outer, len, inner]; adjacent axes are merged into one, others are reduced one after another.
 */
import type { ReduceOp } from '../backend.js';
import { checkForward, noGrad, record } from '../autograd.js';
import { ArgumentError, IndexError, describeValue } from '../errors.js';
import { normalizeAxes, normalizeAxis, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { where } from './binary.js';
import { fromHandle, requireFloat } from './util.js';

export type Axes = number | readonly number[];

/** Runs the backend reduction over sorted axes; returns data of the kept shape. */
function reduceRaw(op: ReduceOp, x: Tensor, axes: number[]): Tensor {
  let handle = x.handle;
  let shape = [...x.shape];
  // Runs of adjacent axes, reduced last run first so earlier axis numbers stay valid.
  const runs: Array<[number, number]> = [];
  for (const a of axes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === a) last[1] = a + 1;
    else runs.push([a, a + 1]);
  }
  for (const [lo, hi] of runs.reverse()) {
    const outer = sizeOf(shape.slice(0, lo));
    const len = sizeOf(shape.slice(lo, hi));
    const inner = sizeOf(shape.slice(hi));
    if (len === 0 && op !== 'sum') throw new IndexError(op, `cannot reduce over an empty axis of shape [${x.shape.join(', ')}]`);
    handle = x.backend.reduce(op, handle, outer, len, inner, x.dtype);
    shape = [...shape.slice(0, lo), ...new Array(hi - lo).fill(1), ...shape.slice(hi)];
  }
  return fromHandle(handle, shape, op === 'argmax' || op === 'argmin' ? 'int32' : x.dtype, x.backend);
}

function finish(y: Tensor, x: Tensor, axes: number[], keepdim: boolean): Tensor {
  return keepdim ? y : y.reshape(x.shape.filter((_, i) => !axes.includes(i)));
}

/** Sum over `axis` (all axes if omitted). ∂ = 1 for every summed element: the gradient is broadcast back. */
export function sum(x: Tensor, axis?: Axes, keepdim = false): Tensor {
  const axes = normalizeAxes('sum', axis, x.ndim);
  const kept = reduceRaw('sum', x, axes);
  const y = record('sum', kept, [x], (g) => [g.broadcastTo(x.shape)]);
  return finish(y, x, axes, keepdim);
}

/** Mean over `axis`: the sum divided by the number of elements reduced. */
export function mean(x: Tensor, axis?: Axes, keepdim = false): Tensor {
  requireFloat('mean', x);
  const axes = normalizeAxes('mean', axis, x.ndim);
  const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
  return sum(x, axes, keepdim).div(count);
}

/**
 * Max (or min) over `axis`. The gradient goes to the elements equal to the result; ties share it
 * evenly (as torch.amax does).
 */
function extreme(op: 'max' | 'min', x: Tensor, axis: Axes | undefined, keepdim: boolean): Tensor {
  const axes = normalizeAxes(op, axis, x.ndim);
  const kept = reduceRaw(op, x, axes);
  const y = record(op, kept, [x], (g) => {
    const hit = x.eq(kept.detach()).float();
    return [g.mul(hit).div(hit.sum(axes, true))];
  });
  return finish(y, x, axes, keepdim);
}
export const max = (x: Tensor, axis?: Axes, keepdim = false) => extreme('max', x, axis, keepdim);
export const min = (x: Tensor, axis?: Axes, keepdim = false) => extreme('min', x, axis, keepdim);

/** Position of the max (min) along one axis, int32; over the flattened tensor if axis is omitted. */
function argExtreme(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepdim: boolean): Tensor {
  if (axis === undefined) return argExtreme(op, x.reshape([x.size]), 0, false);
  const a = normalizeAxis(op, axis, x.ndim);
  const y = checkForward(op, reduceRaw(op, x, [a]), [x]);
  return finish(y, x, [a], keepdim);
}
export const argmax = (x: Tensor, axis?: number, keepdim = false) => argExtreme('argmax', x, axis, keepdim);
export const argmin = (x: Tensor, axis?: number, keepdim = false) => argExtreme('argmin', x, axis, keepdim);

/**
 * Variance, Σ(x − mean)² / (n − correction); correction 1 (the default, as in PyTorch) gives the
 * unbiased estimate. Composite: its gradient comes from the ops it is made of.
 */
export function variance(x: Tensor, axis?: Axes, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
  requireFloat('var', x);
  if (opts === null || typeof opts !== 'object') throw new ArgumentError('var', `options must be an object, got ${describeValue(opts)}`);
  if (opts.correction !== undefined && (typeof opts.correction !== 'number' || !(opts.correction >= 0))) {
    throw new ArgumentError('var', `correction must be a non-negative number, got ${describeValue(opts.correction)}`);
  }
  const axes = normalizeAxes('var', axis, x.ndim);
  const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
  const d = x.sub(x.mean(axes, true));
  return d.square().sum(axes, opts.keepdim ?? false).div(Math.max(count - (opts.correction ?? 1), 0));
}

/**
 * log Σ exp(x), computed as m + log Σ exp(x − m) with m the (detached) max, so it never overflows.
 * Composite: since the result does not depend on m, holding m constant leaves the gradient exact.
 */
export function logsumexp(x: Tensor, axis?: Axes, keepdim = false): Tensor {
  requireFloat('logsumexp', x);
  const axes = normalizeAxes('logsumexp', axis, x.ndim);
  // Over an empty axis the sum of exponentials is 0: log 0 = −∞ (as torch.logsumexp), not a max of nothing.
  if (axes.some((a) => x.shape[a] === 0)) return x.sum(axes, keepdim).add(-Infinity);
  const m = noGrad(() => {
    const mx = x.max(axes, true);
    return where(mx.isFinite(), mx, 0); // rows of −∞ (or +∞) shift by 0 instead of producing NaN
  });
  const y = x.sub(m).exp().sum(axes, true).log().add(m);
  return keepdim ? y : y.reshape(x.shape.filter((_, i) => !axes.includes(i)));
}
