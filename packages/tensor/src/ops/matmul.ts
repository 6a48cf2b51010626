/**
 * Matrix products. `matmul` follows torch.matmul: 1-D operands are promoted to matrices, leading
 * (batch) axes broadcast. Every case runs through `mm`, the one differentiable product
 * C = op(A)·op(B) where op transposes the last two axes on request, so gradients need no
 * materialized transposes:
 *   dC = G  ⇒  d op(A) = G·op(B)ᵀ,  d op(B) = op(A)ᵀ·G.
 */
import { record } from '../autograd.js';
import { ShapeError, fmtShape } from '../errors.js';
import { broadcastShapes, sizeOf, shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backendOf, fromHandle, handleOn, requireFloat, sumToShape } from './util.js';

/**
 * op(A)·op(B) over broadcast batch axes. A is [..., m, k] ([..., k, m] when transA), B is
 * [..., k, n] ([..., n, k] when transB).
 */
export function mm(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  requireFloat('matmul', a);
  requireFloat('matmul', b);
  if (a.ndim < 2 || b.ndim < 2) throw new ShapeError('matmul', `mm needs operands of rank ≥ 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const m = transA ? ac : ar, k = transA ? ar : ac;
  const kb = transB ? bc : br, n = transB ? br : bc;
  if (k !== kb) {
    throw new ShapeError('matmul', `inner dimensions differ: ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} @ ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''} multiplies [${m}, ${k}] by [${kb}, ${n}]`);
  }
  if (b.ndim === 2 && !transA && a.ndim > 2) {
    // [..., m, k] @ [k, n]: fold the batch into the rows (one large product, and 2-D gradients).
    return mm(a.reshape([sizeOf(a.shape.slice(0, -1)), k]), b, false, transB).reshape([...a.shape.slice(0, -1), n]);
  }
  const backend = backendOf(a, b);
  const batchShape = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = sizeOf(batchShape);
  // An operand whose batch is all of it is read in place; one with no batch is shared (stride 0);
  // anything in between is broadcast to the full batch first.
  const operand = (t: Tensor, rows: number, cols: number) => {
    const tb = t.shape.slice(0, -2);
    if (sizeOf(tb) === 1) return { h: handleOn(t, backend), stride: 0 };
    if (shapesEqual(tb, batchShape)) return { h: handleOn(t, backend), stride: rows * cols };
    return { h: handleOn(t.broadcastTo([...batchShape, rows, cols]), backend), stride: rows * cols };
  };
  const A = operand(a, ar, ac), B = operand(b, br, bc);
  const h = backend.matmul(A.h, B.h, { batch, m, k, n, aBatchStride: A.stride, bBatchStride: B.stride, transA, transB });
  const out = fromHandle(h, [...batchShape, m, n], 'float32', backend);
  return record('matmul', out, [a, b], (g) => [
    a.requiresGrad ? sumToShape(transA ? mm(b, g, transB, true) : mm(g, b, false, !transB), a.shape) : null,
    b.requiresGrad ? sumToShape(transB ? mm(g, a, true, transA) : mm(a, g, !transA, false), b.shape) : null,
  ]);
}

/** torch.matmul: vector·vector, matrix·vector, batched matrix products with broadcasting. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  requireFloat('matmul', a);
  requireFloat('matmul', b);
  if (a.ndim === 0 || b.ndim === 0) throw new ShapeError('matmul', `scalars cannot be multiplied as matrices (${fmtShape(a.shape)} @ ${fmtShape(b.shape)}); use mul`);
  const a2 = a.ndim === 1 ? a.reshape([1, a.shape[0]!]) : a;
  const b2 = b.ndim === 1 ? b.reshape([b.shape[0]!, 1]) : b;
  let c = mm(a2, b2);
  if (a.ndim === 1) c = c.squeeze(-2);
  if (b.ndim === 1) c = c.squeeze(-1);
  return c;
}
