/** Shape arithmetic shared by the ops: sizes, strides, axes and NumPy broadcasting. */
import { ArgumentError, ShapeError, describeValue, fmtShape } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides: the step in elements for one index step along each axis. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Resolves a possibly negative axis against a rank; `-1` is the last axis. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  const r = Math.max(rank, 1);
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -r || axis >= r) {
    throw new ShapeError(op, `axis ${describeValue(axis)} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + r : axis;
}

/** Resolves `axis` (a number, a list, or undefined for all axes) into sorted unique axes. */
export function normalizeAxes(op: string, axis: number | readonly number[] | undefined, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  if (typeof axis !== 'number' && !Array.isArray(axis)) throw new ArgumentError(op, `axis must be a number or a list of numbers, got ${describeValue(axis)}`);
  const list = typeof axis === 'number' ? [axis] : axis;
  const out = [...new Set(list.map((a) => normalizeAxis(op, a, rank)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new ShapeError(op, `repeated axis in ${JSON.stringify(list)}`);
  return out;
}

/**
 * NumPy broadcasting: align shapes at the right; each pair of sizes must be equal or contain a 1.
 */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else {
        throw new ShapeError(
          op,
          `shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast: size ${d} against ${out[o]} at axis ${o - rank}`,
        );
      }
    }
  }
  return out;
}

/**
 * The strides with which a tensor of `shape` is read when broadcast to `outShape`: 0 along axes
 * it is repeated over. Used by the backends' broadcasting kernels.
 */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const st = stridesOf(shape);
  const out = new Array<number>(outShape.length).fill(0);
  const off = outShape.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[off + i] = shape[i] === 1 ? 0 : st[i]!;
  return out;
}

/**
 * The most elements one tensor may hold: 2^30 (4 GiB as float32). Larger requests are refused up
 * front with a ShapeError instead of failing deep inside an allocation or exhausting memory.
 */
export const MAX_ELEMENTS = 2 ** 30;

/** Refuses a tensor of `n` elements over MAX_ELEMENTS, naming what it was for. */
export function checkSize(op: string, n: number, what = 'the result'): void {
  if (!(n <= MAX_ELEMENTS)) {
    throw new ShapeError(op, `${what} would hold ${n} elements; a tensor holds at most 2^30 (${MAX_ELEMENTS}, 4 GiB as float32)`);
  }
}

/**
 * Checks that `shape` is a list of non-negative integer sizes (−1, "inferred", where `allowInfer`)
 * whose product is within MAX_ELEMENTS; returns it as a plain array.
 */
export function assertValidShape(op: string, shape: unknown, opts: { allowInfer?: boolean; what?: string } = {}): number[] {
  const what = opts.what ?? 'shape';
  if (!Array.isArray(shape)) throw new ArgumentError(op, `${what} must be an array of sizes, got ${describeValue(shape)}`);
  let n = 1;
  for (const d of shape as unknown[]) {
    if (typeof d !== 'number' || !Number.isInteger(d) || (d < 0 && !(opts.allowInfer && d === -1))) {
      throw new ShapeError(op, `invalid ${what} ${describeValue(shape)}: sizes must be non-negative integers${opts.allowInfer ? ' (or −1 for one inferred size)' : ''}`);
    }
    if (d >= 0) n *= d;
  }
  checkSize(op, n, `${what} ${fmtShape(shape as number[])}`);
  return [...(shape as number[])];
}

/**
 * Merges adjacent axes that every operand walks contiguously (stride[d] = stride[d+1]·dims[d+1],
 * which also holds for broadcast axes of stride 0) and drops axes of size 1, so most loops run with
 * rank 1 or 2.
 */
export function collapseDims(dims: readonly number[], strides: readonly (readonly number[])[]): { dims: number[]; strides: number[][] } {
  const outDims: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < dims.length; d++) {
    const n = dims[d]!;
    if (n === 1) continue;
    const last = outDims.length - 1;
    if (last >= 0 && strides.every((s, i) => outStrides[i]![last] === s[d]! * n)) {
      outDims[last] = outDims[last]! * n;
      strides.forEach((s, i) => (outStrides[i]![last] = s[d]!));
      continue;
    }
    outDims.push(n);
    strides.forEach((s, i) => outStrides[i]!.push(s[d]!));
  }
  if (outDims.length === 0) {
    outDims.push(1);
    strides.forEach((_, i) => outStrides[i]!.push(1));
  }
  return { dims: outDims, strides: outStrides };
}
