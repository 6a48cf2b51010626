/**
 * Elementwise functions of one tensor. Each op is its forward (one backend primitive) and its
 * vector-Jacobian product: for y = f(x) elementwise, the Jacobian is diagonal, so
 * dL/dx = dL/dy · f'(x), written here with tensor ops.
 */
import type { UnaryOp } from '../backend.js';
import { checkForward, record } from '../autograd.js';
import type { Tensor } from '../tensor.js';
import { where } from './binary.js';
import { fromHandle, requireFloat } from './util.js';

/** Runs the primitive and records `vjp(g, x, y)` as the gradient. */
function unary(op: UnaryOp, x: Tensor, vjp: ((g: Tensor, x: Tensor, y: Tensor) => Tensor) | null, floatOnly = true): Tensor {
  if (floatOnly) requireFloat(op, x);
  const y = fromHandle(x.backend.unary(op, x.handle, x.size, x.dtype), x.shape, op === 'isFinite' ? 'int32' : x.dtype, x.backend);
  if (!vjp) return checkForward(op, y, [x]);
  return record(op, y, [x], (g) => [vjp(g, x, y)]);
}

// d(−x) = −1
export const neg = (x: Tensor) => unary('neg', x, (g) => g.neg(), false);
// d eˣ = eˣ = y
export const exp = (x: Tensor) => unary('exp', x, (g, _x, y) => g.mul(y));
// d log x = 1/x
export const log = (x: Tensor) => unary('log', x, (g, x) => g.div(x));
// d √x = 1/(2√x) = 1/(2y)
export const sqrt = (x: Tensor) => unary('sqrt', x, (g, _x, y) => g.div(y.mul(2)));
// d |x| = sign(x) (0 at 0, as in PyTorch)
export const abs = (x: Tensor) => unary('abs', x, (g, x) => g.mul(x.sign()), false);
// sign is piecewise constant: no gradient
export const sign = (x: Tensor) => unary('sign', x, null, false);
// d relu(x) = 1 where x > 0 (a select: no float mask to build and multiply by)
export const relu = (x: Tensor) => unary('relu', x, (g, x) => where(x.gt(0), g, 0));
// d σ(x) = σ(x)(1 − σ(x)) = y(1 − y)
export const sigmoid = (x: Tensor) => unary('sigmoid', x, (g, _x, y) => g.mul(y.mul(y.neg().add(1))));
// d tanh x = 1 − tanh² x = 1 − y²
export const tanh = (x: Tensor) => unary('tanh', x, (g, _x, y) => g.mul(y.square().neg().add(1)));
// d erf x = (2/√π) e^(−x²)
export const erf = (x: Tensor) => unary('erf', x, (g, x) => g.mul(x.square().neg().exp().mul(2 / Math.sqrt(Math.PI))));
// gelu(x) = x·Φ(x), Φ(x) = ½(1 + erf(x/√2)); d gelu = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π)
export const gelu = (x: Tensor) =>
  unary('gelu', x, (g, x) => {
    const cdf = x.mul(Math.SQRT1_2).erf().add(1).mul(0.5);
    const pdf = x.square().mul(-0.5).exp().mul(1 / Math.sqrt(2 * Math.PI));
    return g.mul(cdf.add(x.mul(pdf)));
  });
// d sin x = cos x
export const sin = (x: Tensor) => unary('sin', x, (g, x) => g.mul(x.cos()));
// d cos x = −sin x
export const cos = (x: Tensor) => unary('cos', x, (g, x) => g.mul(x.sin()).neg());
// d x² = 2x
export const square = (x: Tensor) => unary('square', x, (g, x) => g.mul(x).mul(2), false);
// d (1/x) = −1/x² = −y²
export const reciprocal = (x: Tensor) => unary('reciprocal', x, (g, _x, y) => g.mul(y.square()).neg());
// floor is piecewise constant: no gradient
export const floor = (x: Tensor) => unary('floor', x, null, false);
/** 1 where the value is finite, 0 for NaN and ±Inf (int32). */
export const isFinite = (x: Tensor) => unary('isFinite', x, null, false);
