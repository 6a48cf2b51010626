/**
 * softmax and logSoftmax along an axis, each one node with its own gradient (cheaper and more
 * exact than the graph of its parts).
 *
 *   y = softmax(x):     ∂L/∂x = y ⊙ (g − Σ g⊙y)          (the Jacobian is diag(y) − y yᵀ)
 *   y = logSoftmax(x):  ∂L/∂x = g − softmax(x) ⊙ Σ g      (the Jacobian is I − 1·softmax(x)ᵀ)
 *
 * Both subtract the row max first, so logits of ±1e4 neither overflow nor lose the answer. Both
 * vjps are differentiable in x, so second derivatives (backward with createGraph) are right.
 */
import { isGradEnabled, record } from '../autograd.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { tidy } from '../tidy.js';
import { fromHandle, handleOn, requireFloat } from './util.js';

/**
 * The fused path: a backend with softmaxRows (the CPU backend) does the forward pass, and the
 * backward pass unless it is itself recorded, in one pass per row along the last axis, with the
 * same values as the composition below it (backend.ts). Other axes and other backends compose.
 */
function fused(x: Tensor, a: number, log: boolean): Tensor | null {
  const be = x.backend;
  if (a !== x.ndim - 1 || !be.softmaxRows || !be.softmaxRowsBackward) return null;
  const len = x.shape[a]!, rows = x.size / len;
  const { y: yh, p: ph } = be.softmaxRows(x.handle, rows, len, log);
  const y = fromHandle(yh, x.shape, 'float32', be);
  const p = log ? fromHandle(ph, x.shape, 'float32', be) : y;
  return record(log ? 'logSoftmax' : 'softmax', y, [x], (g) => {
    if (isGradEnabled()) {
      // createGraph: the gradient must stay a function of x, through y (see logSoftmax below).
      return [log ? g.sub(y.exp().mul(g.sum(a, true))) : y.mul(g.sub(g.mul(y).sum(a, true)))];
    }
    return [fromHandle(be.softmaxRowsBackward!(handleOn(g, be), p.handle, rows, len, log), x.shape, 'float32', be)];
  });
}

export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat('softmax', x);
  const a = normalizeAxis('softmax', axis, x.ndim);
  if (x.shape[a] === 0) return x.mul(1); // nothing to normalize: an empty result of the same shape
  const f = fused(x, a, false);
  if (f) return f;
  // tidy: the shifted logits, their exponentials and the sums are given back for reuse.
  const y = tidy(() => {
    const e = x.sub(x.max(a, true)).exp();
    return e.div(e.sum(a, true));
  }, x.backend);
  return record('softmax', y, [x], (g) => [y.mul(g.sub(g.mul(y).sum(a, true)))]);
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat('logSoftmax', x);
  const a = normalizeAxis('logSoftmax', axis, x.ndim);
  if (x.shape[a] === 0) return x.mul(1);
  const f = fused(x, a, true);
  if (f) return f;
  // The forward pass already has e = exp(x − max) and its sum: softmax(x) = e / Σe is one division
  // in the backward pass, where exp(y) would be a second exponential of every entry.
  // tidy: the max and the shifted logits are given back for reuse; e and Σe are kept.
  const [y, e, total] = tidy(() => {
    const shifted = x.sub(x.max(a, true));
    const e = shifted.exp();
    const total = e.sum(a, true);
    return [shifted.sub(total.log()), e, total] as const;
  }, x.backend);
  return record('logSoftmax', y, [x], (g) => {
    // softmax(x) = e / Σe reuses the forward pass, but e and Σe are constants of the graph. When the
    // backward pass is itself recorded (createGraph: second derivatives), softmax(x) must stay a
    // function of x: it is exp(y) then, y being this op's output and so a function of x.
    const p = isGradEnabled() ? y.exp() : e.div(total);
    return [g.sub(p.mul(g.sum(a, true)))];
  });
}
