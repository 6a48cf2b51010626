/** Helpers shared by the op files: wrapping numbers, moving data between backends, unbroadcasting. */
import type { Backend, DType, DataHandle } from '../backend.js';
import { getBackend } from '../backend.js';
import { ArgumentError, DTypeError, ShapeError, describeValue, fmtShape } from '../errors.js';
import { shapesEqual, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

/** What ops accept where a tensor is expected: a tensor, or a number (a scalar tensor). */
export type TensorLike = Tensor | number;

export function fromHandle(handle: DataHandle, shape: Shape, dtype: DType, backend: Backend): Tensor {
  return new Tensor(handle, shape, dtype, backend);
}

/** The tensor's data on `backend`, copied over if it lives elsewhere. */
export function handleOn(t: Tensor, backend: Backend): DataHandle {
  if (t.backend === backend) return t.handle;
  return backend.fromArray(t.backend.read(t.handle, t.size, t.dtype), t.dtype);
}

/** Refuses anything but a Tensor where an op needs one (an ArgumentError naming `what`). */
export function requireTensor(op: string, x: unknown, what = 'input'): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError(op, `${what} must be a Tensor, got ${describeValue(x)}`);
}

/**
 * An integer argument in [min, max]: anything but a number is an ArgumentError, a number that is
 * not such an integer a ShapeError, each naming `what`.
 */
export function checkInt(op: string, v: unknown, what: string, min = -Infinity, max = Infinity): number {
  const range = max < Infinity ? ` in [${min}, ${max}]` : min > -Infinity ? ` ≥ ${min}` : '';
  if (typeof v !== 'number') throw new ArgumentError(op, `${what} must be an integer${range}, got ${describeValue(v)}`);
  if (!Number.isInteger(v) || v < min || v > max) throw new ShapeError(op, `${what} must be an integer${range}, got ${v}`);
  return v;
}

/** A number becomes a scalar tensor on `like`'s backend (float32 unless it and `like` are integers). */
export function toTensor(x: TensorLike, like?: Tensor, op = 'tensor'): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x !== 'number') throw new ArgumentError(op, `expected a Tensor or a number, got ${describeValue(x)}`);
  const backend = like?.backend ?? getBackend();
  const dtype: DType = like?.dtype === 'int32' && Number.isInteger(x) ? 'int32' : 'float32';
  return fromHandle(backend.fromArray([x], dtype), [], dtype, backend);
}

/**
 * The backend an op on these inputs runs on: the current backend if any input lives there (so
 * tensors captured from elsewhere are copied over), else the first tensor's.
 */
export function backendOf(...xs: TensorLike[]): Backend {
  const current = getBackend();
  let first: Backend | null = null;
  for (const x of xs) {
    if (!(x instanceof Tensor)) continue;
    if (x.backend === current) return current;
    first ??= x.backend;
  }
  return first ?? current;
}

export function requireFloat(op: string, t: Tensor): void {
  requireTensor(op, t);
  if (t.dtype !== 'float32') {
    throw new DTypeError(op, `expected a float32 tensor, got ${t.dtype} of shape ${fmtShape(t.shape)}; convert with .float()`);
  }
}

export function requireInt(op: string, t: Tensor, what = 'indices'): void {
  requireTensor(op, t, what);
  if (t.dtype !== 'int32') {
    throw new DTypeError(op, `${what} must be int32, got ${t.dtype} of shape ${fmtShape(t.shape)}`);
  }
}

/**
 * The adjoint of broadcasting: sums a gradient of the broadcast shape back down to `shape`
 * (over leading axes that were added, and over axes where `shape` has size 1).
 */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  return g.sum(axes, true).reshape(shape);
}

/** Two operands of a binary op as tensors; a number takes the other operand's backend and dtype. */
export function toTensorPair(x: TensorLike, y: TensorLike, op = 'tensor'): [Tensor, Tensor] {
  const a = toTensor(x, y instanceof Tensor ? y : undefined, op);
  return [a, toTensor(y, a, op)];
}
