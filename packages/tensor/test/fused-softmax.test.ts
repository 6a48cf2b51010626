/**
 * The CPU backend's fused softmax and logSoftmax (softmaxRows, softmaxRowsBackward) against the
 * composition of primitives they replace: the same values bit for bit, forward and backward, on
 * float32 and float64 storage, with NaN, ±Infinity and logits far apart in the rows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuBackend, noGrad, tensor, withBackend, type Tensor } from '../src/index.js';

/** The raw stored values (Float64Array on the float64 precision; data() would round them). */
const raw = (t: Tensor) => Array.from(t.backend.read(t.handle, t.size, t.dtype));
const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** softmax / logSoftmax and their vjps as ops/softmax.ts composes them without the fused kernels. */
function composed(x: Tensor, g: Tensor, log: boolean): { y: Tensor; dx: Tensor } {
  return noGrad(() => {
    const shifted = x.sub(x.max(-1, true));
    const e = shifted.exp();
    const total = e.sum(-1, true);
    const p = e.div(total);
    if (log) return { y: shifted.sub(total.log()), dx: g.sub(p.mul(g.sum(-1, true))) };
    return { y: p, dx: p.mul(g.sub(g.mul(p).sum(-1, true))) };
  });
}

const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.float({ min: -30, max: 30, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 1e30, -1e30, 0, -0, 88.5, -104) },
);

describe('fused softmax and logSoftmax (CPU backend)', () => {
  it('is what the CPU backend runs for the last axis', () => {
    const be = new CpuBackend({ threads: 1 });
    expect(typeof be.softmaxRows).toBe('function');
    expect(typeof be.softmaxRowsBackward).toBe('function');
  });

  for (const precision of ['float32', 'float64'] as const) {
    it(`gives the composition's values bit for bit, forward and backward (${precision} storage)`, () => {
      const arb = fc
        .record({ lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }), len: fc.integer({ min: 1, max: 40 }), log: fc.boolean() })
        .chain(({ lead, len, log }) => {
          const n = lead.reduce((a, b) => a * b, 1) * len;
          return fc.record({
            shape: fc.constant([...lead, len]),
            log: fc.constant(log),
            x: fc.array(valueArb, { minLength: n, maxLength: n }),
            g: fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: n, maxLength: n }),
          });
        });
      const be = new CpuBackend({ threads: 1, precision });
      fc.assert(
        fc.property(arb, ({ shape, log, x, g }) =>
          withBackend(be, () => {
            const xt = tensor(Float64Array.from(x), { shape, requiresGrad: true });
            const gt = tensor(Float64Array.from(g), { shape });
            const y = log ? xt.logSoftmax(-1) : xt.softmax(-1);
            y.backward(gt);
            const ref = composed(xt.detach(), gt, log);
            expect(same(raw(y), raw(ref.y)), 'forward').toBe(true);
            expect(same(raw(xt.grad!), raw(ref.dx)), 'backward').toBe(true);
          }),
        ),
        { numRuns: 150 },
      );
    });
  }

  it('a recorded backward pass (createGraph) still differentiates through y', () => {
    // d/dx Σ_j (∂L/∂x_j) for L = Σ w ⊙ logSoftmax(x): the second derivative needs the vjp as a
    // graph, which the fused kernel is not; the op then composes it.
    const x = tensor([[0.3, -1.2, 2.0, 0.5]], { requiresGrad: true });
    const w = tensor([[1, 2, -1, 0.5]]);
    const y = x.logSoftmax(-1).mul(w).sum();
    y.backward(undefined, { createGraph: true });
    const g1 = x.grad!;
    expect(g1.requiresGrad).toBe(true);
    const x2 = tensor([[0.3, -1.2, 2.0, 0.5]], { requiresGrad: true });
    const gc = noGrad(() => composed(x2, w, true).dx);
    expect(Array.from(g1.data())).toEqual(Array.from(gc.data()));
  });
});
