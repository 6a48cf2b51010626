/**
 * Ops that move data without arithmetic. Their gradients move the gradient back: the adjoint of
 * a permutation is the inverse permutation, of a broadcast a sum, of a slice a scatter into
 * zeros, of a concatenation the slices.
 */
import type { DType } from '../backend.js';
import { checkForward, record } from '../autograd.js';
import { ArgumentError, ShapeError, describeValue, fmtShape } from '../errors.js';
import { assertValidShape, normalizeAxis, shapesEqual, sizeOf, broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backendOf, checkInt, fromHandle, handleOn, requireTensor, sumToShape } from './util.js';

/**
 * A new shape for the same data (one entry may be −1: inferred). Tensors are contiguous, so the
 * result shares the data; the gradient is reshaped back.
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  shape = assertValidShape('reshape', shape, { allowInfer: true });
  const free = shape.indexOf(-1);
  let target = [...shape];
  if (free >= 0) {
    const known = sizeOf(shape.filter((_, i) => i !== free));
    if (shape.indexOf(-1, free + 1) >= 0 || known === 0 || x.size % known !== 0) {
      throw new ShapeError('reshape', `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`);
    }
    target[free] = x.size / known;
  }
  assertValidShape('reshape', target);
  if (sizeOf(target) !== x.size) {
    throw new ShapeError('reshape', `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)} (${sizeOf(target)} elements)`);
  }
  if (shapesEqual(target, x.shape)) return x;
  const y = fromHandle(x.handle, target, x.dtype, x.backend);
  return record('reshape', y, [x], (g) => [g.reshape(x.shape)]);
}

/** Flattens axes start..end (inclusive) into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.ndim === 0) return x.reshape([1]);
  const s = normalizeAxis('flatten', start, x.ndim), e = normalizeAxis('flatten', end, x.ndim);
  return x.reshape([...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** Removes axes of size 1 (only `axis`, if given). */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return x.reshape(x.shape.filter((d) => d !== 1));
  const a = normalizeAxis('squeeze', axis, x.ndim);
  if (x.shape[a] !== 1) return x;
  return x.reshape(x.shape.filter((_, i) => i !== a));
}

/** Inserts an axis of size 1 at `axis` (−1: at the end). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('unsqueeze', axis, x.ndim + 1);
  return x.reshape([...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Reorders axes: output axis i is input axis perm[i]. The gradient applies the inverse order. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (!Array.isArray(perm as unknown)) throw new ArgumentError('permute', `perm must be an array of axes, got ${describeValue(perm)}`);
  const p = perm.map((a) => normalizeAxis('permute', a, x.ndim));
  if (p.length !== x.ndim || new Set(p).size !== p.length) {
    throw new ShapeError('permute', `${JSON.stringify(perm)} is not a permutation of the ${x.ndim} axes of ${fmtShape(x.shape)}`);
  }
  if (p.every((a, i) => a === i)) return x;
  const shape = p.map((a) => x.shape[a]!);
  const y = fromHandle(x.backend.permute(x.handle, x.shape, p, x.dtype), shape, x.dtype, x.backend);
  const inverse = new Array<number>(p.length);
  p.forEach((a, i) => (inverse[a] = i));
  return record('permute', y, [x], (g) => [g.permute(inverse)]);
}

/** Swaps two axes. */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normalizeAxis('transpose', dim0, x.ndim), b = normalizeAxis('transpose', dim1, x.ndim);
  const perm = x.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** Broadcasts to `shape` (materialized). The gradient sums over the repeated axes. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  shape = assertValidShape('broadcastTo', shape);
  const target = broadcastShapes('broadcastTo', x.shape, shape);
  if (!shapesEqual(target, shape)) {
    throw new ShapeError('broadcastTo', `cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  if (shapesEqual(x.shape, shape)) return x;
  const y = fromHandle(x.backend.broadcastTo(x.handle, x.shape, shape, x.dtype), shape, x.dtype, x.backend);
  return record('broadcastTo', y, [x], (g) => [sumToShape(g, x.shape)]);
}

/** torch.Tensor.expand: like broadcastTo, where −1 keeps an axis's size. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  shape = assertValidShape('expand', shape, { allowInfer: true });
  const lead = shape.length - x.ndim;
  if (lead < 0) throw new ShapeError('expand', `cannot expand ${fmtShape(x.shape)} to the fewer axes of ${fmtShape(shape)}`);
  const bad = shape.findIndex((d, i) => d === -1 && i < lead);
  if (bad >= 0) throw new ShapeError('expand', `−1 at axis ${bad} of ${fmtShape(shape)} is a new axis: it has no size to keep`);
  return broadcastTo(x, shape.map((d, i) => (d === -1 ? x.shape[i - lead]! : d)));
}

/**
 * Elements start, start+step, … < end along `axis` (negative start/end count from the end, and
 * are clipped to the axis, as in Python slicing). The gradient is scattered back into zeros.
 */
export function slice(x: Tensor, axis: number, start = 0, end?: number, step = 1): Tensor {
  const a = normalizeAxis('slice', axis, x.ndim);
  const n = x.shape[a]!;
  checkInt('slice', step, 'step', 1);
  checkInt('slice', start, 'start');
  if (end !== undefined) checkInt('slice', end, 'end');
  const clip = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = clip(start), e = clip(end ?? n);
  const len = e > s ? Math.ceil((e - s) / step) : 0;
  const begin = x.shape.map((_, i) => (i === a ? s : 0));
  const steps = x.shape.map((_, i) => (i === a ? step : 1));
  const shape = x.shape.map((d, i) => (i === a ? len : d));
  if (shapesEqual(shape, x.shape)) return x;
  return stridedSlice(x, begin, steps, shape);
}

/**
 * A tensor of `outShape` filled with `fill`, with x written at begin + i·step: the adjoint of
 * slice (and pad). Its own gradient is the slice at the same place.
 */
export function sliceScatter(x: Tensor, outShape: readonly number[], begin: readonly number[], steps: readonly number[], fill: number): Tensor {
  const y = fromHandle(x.backend.sliceScatter(x.handle, x.shape, begin, steps, outShape, fill, x.dtype), outShape, x.dtype, x.backend);
  return record('sliceScatter', y, [x], (g) => [stridedSlice(g, begin, steps, x.shape)]);
}

/** The general slice: out[i] = x[begin + i·step] on every axis. slice() is its one-axis form. */
export function stridedSlice(x: Tensor, begin: readonly number[], steps: readonly number[], shape: readonly number[]): Tensor {
  const y = fromHandle(x.backend.slice(x.handle, x.shape, begin, steps, shape, x.dtype), shape, x.dtype, x.backend);
  return record('slice', y, [x], (g) => [sliceScatter(g, x.shape, begin, steps, 0)]);
}

/**
 * torch.nn.functional.pad: `pads` lists (before, after) pairs starting from the last axis,
 * e.g. [left, right, top, bottom]. Negative pads are not supported.
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  if (!Array.isArray(pads as unknown)) throw new ArgumentError('pad', `pads must be an array of (before, after) pairs, got ${describeValue(pads)}`);
  if (typeof value !== 'number') throw new ArgumentError('pad', `the fill value must be a number, got ${describeValue(value)}`);
  if (pads.length % 2 !== 0 || pads.length / 2 > x.ndim || pads.some((p) => !Number.isInteger(p) || p < 0)) {
    throw new ShapeError('pad', `pads ${JSON.stringify(pads)} must be non-negative (before, after) pairs for at most ${x.ndim} axes`);
  }
  const begin = x.shape.map(() => 0);
  const shape = [...x.shape];
  for (let i = 0; i < pads.length / 2; i++) {
    const axis = x.ndim - 1 - i;
    begin[axis] = pads[2 * i]!;
    shape[axis] = x.shape[axis]! + pads[2 * i]! + pads[2 * i + 1]!;
  }
  assertValidShape('pad', shape, { what: 'the padded shape' });
  return sliceScatter(x, shape, begin, x.shape.map(() => 1), value);
}

/** Joins tensors along an existing axis. The gradient is cut back into the pieces. */
export function cat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs as unknown)) throw new ArgumentError('cat', `expects an array of tensors, got ${describeValue(xs)}`);
  xs.forEach((t, i) => requireTensor('cat', t, `tensor ${i}`));
  if (xs.length === 0) throw new ShapeError('cat', 'needs at least one tensor');
  const first = xs[0]!;
  if (xs.some((t) => t.ndim === 0)) throw new ShapeError('cat', `cannot join 0-d tensors (${xs.map((u) => fmtShape(u.shape)).join(', ')}); use stack`);
  const a = normalizeAxis('cat', axis, first.ndim);
  const dtype: DType = xs.every((t) => t.dtype === first.dtype) ? first.dtype : 'float32';
  const parts = xs.map((t) => (t.dtype === dtype ? t : t.float()));
  for (const t of parts) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError('cat', `shapes ${xs.map((u) => fmtShape(u.shape)).join(', ')} differ outside axis ${a}`);
    }
  }
  const lens = parts.map((t) => t.shape[a]!);
  const outer = sizeOf(first.shape.slice(0, a)), inner = sizeOf(first.shape.slice(a + 1));
  const backend = backendOf(...parts);
  const shape = first.shape.map((d, i) => (i === a ? lens.reduce((s, l) => s + l, 0) : d));
  const y = fromHandle(backend.concat(parts.map((t) => handleOn(t, backend)), outer, lens, inner, dtype), shape, dtype, backend);
  return record('cat', y, parts, (g) => {
    let start = 0;
    return lens.map((l) => {
      const piece = slice(g, a, start, start + l);
      start += l;
      return piece;
    });
  });
}

/** Joins tensors of one shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs as unknown)) throw new ArgumentError('stack', `expects an array of tensors, got ${describeValue(xs)}`);
  xs.forEach((t, i) => requireTensor('stack', t, `tensor ${i}`));
  if (xs.length === 0) throw new ShapeError('stack', 'needs at least one tensor');
  const a = normalizeAxis('stack', axis, xs[0]!.ndim + 1);
  for (const t of xs) {
    if (!shapesEqual(t.shape, xs[0]!.shape)) throw new ShapeError('stack', `shapes differ: ${xs.map((u) => fmtShape(u.shape)).join(', ')}`);
  }
  return cat(xs.map((t) => t.unsqueeze(a)), a);
}

/** Converts the dtype (float → int truncates toward zero). No gradient flows through a cast to int. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const y = fromHandle(x.backend.cast(x.handle, x.size, x.dtype, dtype), x.shape, dtype, x.backend);
  return checkForward('cast', y, [x]);
}
