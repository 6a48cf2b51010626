/**
 * One rule for every op's backend: the current backend if any tensor input lives there, else the
 * first tensor input's. gradCheck runs its function on a float64 backend; a float32 tensor
 * captured in the closure, given as the *first* operand, must not pull the op onto float32 (the
 * central differences would then lose half their digits and the check would fail).
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend, cat, getBackend, gradCheck, tensor, where, withBackend } from '../src/index.js';

const x = tensor([[0.3, -1.2, 0.7], [1.1, 0.4, -0.5]]); // float32, captured by every closure below
const idx = tensor(Int32Array.from([1, 0]), { shape: [2] });

describe('the backend rule', () => {
  it.each([
    ['matmul', (w: ReturnType<typeof tensor>) => x.matmul(w).tanh().sum()],
    ['cat', (w: ReturnType<typeof tensor>) => cat([x, w.mT], 0).tanh().sum()],
    ['where', (w: ReturnType<typeof tensor>) => where(x.gt(0), x, w.mT).tanh().sum()],
    ['indexAdd', (w: ReturnType<typeof tensor>) => x.indexAdd(0, idx, w.mT).tanh().sum()],
    ['scatterAdd', (w: ReturnType<typeof tensor>) => x.scatterAdd(0, tensor(Int32Array.from([1, 0, 1, 0, 0, 1]), { shape: [2, 3] }), w.mT).tanh().sum()],
  ])('%s with a captured first operand runs on the float64 backend of gradCheck', (_, f) => {
    const w = tensor([[0.5, -0.2], [0.1, 0.9], [-0.7, 0.3]]);
    const r = gradCheck(f, [w], { atol: 1e-7, rtol: 1e-6 });
    expect(r.ok, r.message).toBe(true);
  });

  it('the result lives on the current backend when an input does, else on the first input’s', () => {
    const b64 = new CpuBackend({ precision: 'float64', threads: 1 });
    const y = withBackend(b64, () => tensor([[1], [2], [3]]));
    expect(x.matmul(y).backend).toBe(getBackend()); // x lives on the current backend
    expect(withBackend(b64, () => x.matmul(y)).backend).toBe(b64); // y lives on the current one there
  });
});
