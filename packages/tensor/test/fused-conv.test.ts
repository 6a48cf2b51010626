/**
 * The CPU backend's convOutput (conv2d's product written in NCHW with the bias added, one pass
 * after the product) against the composition it replaces — matmul, permute, broadcast add — run on
 * a CpuBackend whose convOutput is hidden: the same output and the same gradients for x, weight
 * and bias, bit for bit, over generated geometries, on float32 and float64 storage.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuBackend, conv2d, tensor, withBackend, type Tensor } from '../src/index.js';

const raw = (t: Tensor | null) => (t === null ? null : Array.from(t.backend.read(t.handle, t.size, t.dtype)));
const same = (a: number[] | null, b: number[] | null) => a !== null && b !== null && a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** A CPU backend without the fused kernel: conv2d composes matmul, permute and add. */
function composing(precision: 'float32' | 'float64'): CpuBackend {
  const be = new CpuBackend({ threads: 1, precision });
  (be as { convOutput?: unknown }).convOutput = undefined;
  return be;
}

const values = (n: number) => fc.array(fc.float({ min: -2, max: 2, noNaN: true }), { minLength: n, maxLength: n });

describe('conv2d through convOutput (CPU backend)', () => {
  it('is what the CPU backend runs, and hiding it takes the composed path', () => {
    expect(typeof new CpuBackend({ threads: 1 }).convOutput).toBe('function');
    expect(composing('float32').convOutput).toBeUndefined();
  });

  for (const precision of ['float32', 'float64'] as const) {
    it(`gives the composition's output and gradients bit for bit (${precision} storage)`, () => {
      const arb = fc
        .record({
          n: fc.integer({ min: 1, max: 3 }), c: fc.integer({ min: 1, max: 3 }), o: fc.integer({ min: 1, max: 4 }),
          h: fc.integer({ min: 3, max: 7 }), w: fc.integer({ min: 3, max: 7 }), k: fc.integer({ min: 1, max: 3 }),
          stride: fc.integer({ min: 1, max: 2 }), padding: fc.integer({ min: 0, max: 1 }), withBias: fc.boolean(),
        })
        .chain((g) => {
          const oh = Math.floor((g.h + 2 * g.padding - g.k) / g.stride) + 1, ow = Math.floor((g.w + 2 * g.padding - g.k) / g.stride) + 1;
          return fc.record({
            g: fc.constant(g),
            x: values(g.n * g.c * g.h * g.w),
            wt: values(g.o * g.c * g.k * g.k),
            b: values(g.o),
            gy: values(g.n * g.o * oh * ow),
          });
        });
      const fused = new CpuBackend({ threads: 1, precision }), composed = composing(precision);
      fc.assert(
        fc.property(arb, ({ g, x, wt, b, gy }) => {
          const run = (be: CpuBackend) =>
            withBackend(be, () => {
              const xt = tensor(x, { shape: [g.n, g.c, g.h, g.w], requiresGrad: true });
              const w = tensor(wt, { shape: [g.o, g.c, g.k, g.k], requiresGrad: true });
              const bias = g.withBias ? tensor(b, { shape: [g.o], requiresGrad: true }) : null;
              const y = conv2d(xt, w, bias, { stride: g.stride, padding: g.padding });
              y.backward(tensor(gy, { shape: y.shape }));
              return { y: raw(y), dx: raw(xt.grad), dw: raw(w.grad), db: bias ? raw(bias.grad) : [] };
            });
          const a = run(fused), r = run(composed);
          expect(same(a.y, r.y), 'output').toBe(true);
          expect(same(a.dx, r.dx), 'x gradient').toBe(true);
          expect(same(a.dw, r.dw), 'weight gradient').toBe(true);
          expect(same(a.db, r.db), 'bias gradient').toBe(true);
        }),
        { numRuns: 60 },
      );
    });
  }
});
