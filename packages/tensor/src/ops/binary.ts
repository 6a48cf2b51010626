/**
 * Elementwise functions of two tensors, with NumPy broadcasting. For z = f(x, y) broadcast to a
 * common shape, dL/dx = sumToShape(dL/dz · ∂f/∂x, shape of x): the sum undoes the broadcast,
 * because an input value repeated over an axis receives the gradient of every copy.
 */
import type { BinaryOp, DType } from '../backend.js';
import { checkForward, record } from '../autograd.js';
import { ArgumentError, describeValue } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backendOf, fromHandle, handleOn, requireTensor, sumToShape, toTensorPair, type TensorLike } from './util.js';

/** Aligns dtypes (int32 with float32 → float32) and runs the primitive. */
function forward(op: BinaryOp, a: Tensor, b: Tensor, forceFloat = false): Tensor {
  const backend = backendOf(a, b);
  const dtype: DType = forceFloat || a.dtype !== b.dtype ? 'float32' : a.dtype;
  if (a.dtype !== dtype) a = a.float();
  if (b.dtype !== dtype) b = b.float();
  const shape = broadcastShapes(op, a.shape, b.shape);
  const outDtype: DType = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op) ? 'int32' : dtype;
  return fromHandle(backend.binary(op, handleOn(a, backend), a.shape, handleOn(b, backend), b.shape, shape, dtype), shape, outDtype, backend);
}

/** The gradient with respect to one operand, before the broadcast is undone. */
type Partial = (g: Tensor, a: Tensor, b: Tensor, z: Tensor) => Tensor;

/**
 * Runs the primitive and records ∂L/∂a = da(…), ∂L/∂b = db(…). Each is computed only for an
 * operand that requires a gradient: the other side is often a constant (x.mul(2), x.div(τ) with a
 * fixed τ), and its gradient would cost a full pass over g and a reduction, then be thrown away.
 */
function binary(op: BinaryOp, x: TensorLike, y: TensorLike, da: Partial, db: Partial, forceFloat = false): Tensor {
  const [a, b] = toTensorPair(x, y, op);
  const z = forward(op, a, b, forceFloat);
  return record(op, z, [a, b], (g) => [
    a.requiresGrad ? sumToShape(da(g, a, b, z), a.shape) : null,
    b.requiresGrad ? sumToShape(db(g, a, b, z), b.shape) : null,
  ]);
}

// ∂(a + b) = (1, 1)
export const add = (a: TensorLike, b: TensorLike) => binary('add', a, b, (g) => g, (g) => g);
// ∂(a − b) = (1, −1)
export const sub = (a: TensorLike, b: TensorLike) => binary('sub', a, b, (g) => g, (g) => g.neg());
// ∂(a·b) = (b, a)
export const mul = (a: TensorLike, b: TensorLike) => binary('mul', a, b, (g, _a, b) => g.mul(b), (g, a) => g.mul(a));
// ∂(a/b) = (1/b, −a/b²)
export const div = (a: TensorLike, b: TensorLike) =>
  binary('div', a, b, (g, _a, b) => g.div(b), (g, a, b) => g.mul(a).div(b.square()).neg(), true);
// ∂(aᵇ) = (b·aᵇ⁻¹, aᵇ·log a); the second only where b requires a gradient (log a is NaN for a < 0).
// d aᵇ/da = b·aᵇ⁻¹ (0 at a = b = 0, not 0·0⁻¹ = NaN); d aᵇ/db = aᵇ·log a (0 at a = 0 with b ≥ 0, where
// 0·log 0 would be NaN) — PyTorch's conventions, so a base or exponent of 0 gives no NaN gradient.
export const pow = (a: TensorLike, b: TensorLike) =>
  binary(
    'pow',
    a,
    b,
    (g, a, b) => g.mul(where(b.eq(0).mul(a.eq(0)), 0, b.mul(a.pow(b.sub(1))))),
    (g, a, b, z) => g.mul(where(a.eq(0).mul(b.ge(0)), 0, z.mul(a.log()))),
    true,
  );
// The larger of a and b gets the gradient; ties split it evenly (as PyTorch does).
const aShare = (aWins: Tensor, tie: Tensor) => aWins.float().add(tie.float().mul(0.5));
export const maximum = (a: TensorLike, b: TensorLike) =>
  binary('maximum', a, b, (g, a, b) => g.mul(aShare(a.gt(b), a.eq(b))), (g, a, b) => g.mul(aShare(a.gt(b), a.eq(b)).neg().add(1)));
export const minimum = (a: TensorLike, b: TensorLike) =>
  binary('minimum', a, b, (g, a, b) => g.mul(aShare(a.lt(b), a.eq(b))), (g, a, b) => g.mul(aShare(a.lt(b), a.eq(b)).neg().add(1)));

/** Comparisons give int32 0/1 tensors and carry no gradient. */
function compare(op: BinaryOp, x: TensorLike, y: TensorLike): Tensor {
  const [a, b] = toTensorPair(x, y, op);
  return checkForward(op, forward(op, a, b), [a, b]);
}
export const eq = (a: TensorLike, b: TensorLike) => compare('eq', a, b);
export const ne = (a: TensorLike, b: TensorLike) => compare('ne', a, b);
export const lt = (a: TensorLike, b: TensorLike) => compare('lt', a, b);
export const le = (a: TensorLike, b: TensorLike) => compare('le', a, b);
export const gt = (a: TensorLike, b: TensorLike) => compare('gt', a, b);
export const ge = (a: TensorLike, b: TensorLike) => compare('ge', a, b);

/**
 * where(cond, a, b): a where cond is non-zero, else b, all three broadcast together.
 * ∂/∂a = cond, ∂/∂b = 1 − cond.
 */
export function where(cond: Tensor, x: TensorLike, y: TensorLike): Tensor {
  requireTensor('where', cond, 'the condition');
  let [a, b] = toTensorPair(x, y, 'where');
  const dtype: DType = a.dtype === b.dtype ? a.dtype : 'float32';
  if (a.dtype !== dtype) a = a.float();
  if (b.dtype !== dtype) b = b.float();
  const c = cond.dtype === 'int32' ? cond : cond.ne(0);
  const backend = backendOf(a, b);
  const shape = broadcastShapes('where', c.shape, a.shape, b.shape);
  const out = fromHandle(
    backend.where(handleOn(c, backend), c.shape, handleOn(a, backend), a.shape, handleOn(b, backend), b.shape, shape, dtype),
    shape, dtype, backend,
  );
  return record('where', out, [a, b], (g) => [
    sumToShape(where(c, g, 0), a.shape),
    sumToShape(where(c, 0, g), b.shape),
  ]);
}

/** Limits values to [min, max] (either bound may be omitted). ∂ = 1 inside the range, 0 outside. */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  for (const [name, v] of [['min', min], ['max', max]] as const) {
    if (v !== undefined && typeof v !== 'number') throw new ArgumentError('clamp', `${name} must be a number or undefined, got ${describeValue(v)}`);
  }
  const backend = x.backend;
  let h = x.handle;
  if (min !== undefined) h = backend.binary('maximum', h, x.shape, backend.fromArray([min], x.dtype), [], x.shape, x.dtype);
  if (max !== undefined) h = backend.binary('minimum', h, x.shape, backend.fromArray([max], x.dtype), [], x.shape, x.dtype);
  const out = fromHandle(h, x.shape, x.dtype, backend);
  return record('clamp', out, [x], (g) => {
    let inside = g;
    if (min !== undefined) inside = inside.mul(x.ge(min).float());
    if (max !== undefined) inside = inside.mul(x.le(max).float());
    return [inside];
  });
}
