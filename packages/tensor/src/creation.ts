/** Functions that make tensors: from data, constants, ranges and random draws. */
import { getBackend, type DType } from './backend.js';
import { ArgumentError, DTypeError, ShapeError, describeValue } from './errors.js';
import { defaultGenerator, type Generator } from './random.js';
import { assertValidShape, checkSize, sizeOf } from './shape.js';
import { Tensor, type NestedArray } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

function make(values: ArrayLike<number>, shape: readonly number[], opts: TensorOptions = {}): Tensor {
  const backend = getBackend();
  const dtype = opts.dtype ?? 'float32';
  const requiresGrad = opts.requiresGrad ?? false;
  if (requiresGrad && dtype !== 'float32') throw new DTypeError('tensor', 'only float32 tensors can require gradients');
  return new Tensor(backend.fromArray(values, dtype), shape, dtype, backend, requiresGrad);
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let d: NestedArray = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0] as NestedArray;
    if (d === undefined) break;
  }
  return shape;
}

/**
 * A tensor from nested arrays (`tensor([[1, 2], [3, 4]])`) or a flat typed array with a `shape`.
 * The dtype is int32 for an Int32Array, float32 otherwise, unless given.
 */
export function tensor(
  data: NestedArray | Float32Array | Int32Array | Float64Array | readonly number[],
  opts: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  if (ArrayBuffer.isView(data)) {
    const shape = assertValidShape('tensor', opts.shape ?? [data.length]);
    if (sizeOf(shape) !== data.length) throw new ShapeError('tensor', `shape [${shape.join(', ')}] needs ${sizeOf(shape)} values, got ${data.length}`);
    return make(data, shape, { dtype: data instanceof Int32Array ? 'int32' : 'float32', ...opts });
  }
  if (typeof data === 'number') return make([data], opts.shape === undefined ? [] : assertValidShape('tensor', opts.shape), opts);
  if (!Array.isArray(data)) throw new ArgumentError('tensor', `expects a number, nested arrays of numbers or a typed array, got ${describeValue(data)}`);
  const shape = inferShape(data as NestedArray);
  const flat: number[] = [];
  const walk = (d: NestedArray, axis: number) => {
    if (axis === shape.length) {
      if (typeof d !== 'number') throw new ShapeError('tensor', `expected a number at depth ${axis}, got ${describeValue(d)} (a ragged or non-numeric nested array)`);
      flat.push(d);
      return;
    }
    if (!Array.isArray(d) || d.length !== shape[axis]) {
      throw new ShapeError('tensor', `ragged nested array: expected ${shape[axis]} entries at depth ${axis}`);
    }
    for (const e of d) walk(e, axis + 1);
  };
  walk(data as NestedArray, 0);
  const target = opts.shape === undefined ? shape : assertValidShape('tensor', opts.shape);
  if (sizeOf(target) !== flat.length) throw new ShapeError('tensor', `shape [${target.join(', ')}] needs ${sizeOf(target)} values, got ${flat.length}`);
  return make(flat, target, opts);
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  shape = assertValidShape('full', shape);
  if (typeof value !== 'number') throw new ArgumentError('full', `the fill value must be a number, got ${describeValue(value)}`);
  const backend = getBackend();
  const dtype = opts.dtype ?? 'float32';
  return new Tensor(backend.full(sizeOf(shape), value, dtype), shape, dtype, backend, opts.requiresGrad ?? false);
}

export const zeros = (shape: readonly number[], opts: TensorOptions = {}) => full(shape, 0, opts);
export const ones = (shape: readonly number[], opts: TensorOptions = {}) => full(shape, 1, opts);

/** Values start, start + step, … below end (`arange(n)` is 0 … n−1). int32 when all arguments are integers. */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  for (const [name, v] of [['start', start], ['end', end], ['step', step]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError('arange', `${name} must be a finite number, got ${describeValue(v)}`);
  }
  if (step === 0) throw new ShapeError('arange', 'step must not be 0');
  const n = Math.max(0, Math.ceil((end - start) / step));
  checkSize('arange', n, `arange(${start}, ${end}, ${step})`);
  const dtype = opts.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  const values = dtype === 'int32' ? new Int32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return make(values, [n], { ...opts, dtype });
}

/** Samples of N(0, 1). */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  shape = assertValidShape('randn', shape);
  const g = opts.generator ?? defaultGenerator();
  const v = new Float32Array(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = g.normal();
  return make(v, shape, { ...opts, dtype: 'float32' });
}

/** Samples of U[0, 1). */
export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  shape = assertValidShape('rand', shape);
  const g = opts.generator ?? defaultGenerator();
  const v = new Float32Array(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = g.random();
  return make(v, shape, { ...opts, dtype: 'float32' });
}

/** Uniform integers in [low, high), int32. */
export function randint(low: number, high: number, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  shape = assertValidShape('randint', shape);
  if (typeof low !== 'number' || typeof high !== 'number') {
    throw new ArgumentError('randint', `low and high must be integers, got ${describeValue(low)} and ${describeValue(high)}`);
  }
  if (!Number.isInteger(low) || !Number.isInteger(high) || !(high > low) || high - low > 2 ** 31) {
    throw new ShapeError('randint', `needs integers low < high within 2^31 of each other; high (${high}) must exceed low (${low})`);
  }
  const g = opts.generator ?? defaultGenerator();
  const v = new Int32Array(sizeOf(shape));
  for (let i = 0; i < v.length; i++) v[i] = g.randint(low, high);
  return make(v, shape, { dtype: 'int32' });
}
