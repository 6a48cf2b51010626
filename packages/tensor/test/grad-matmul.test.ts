/**
 * Property-based gradient checks of matmul (2-D, batched, broadcast batch axes, 1-D operands)
 * and mm with transposed operands.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { matmul, mm } from '../src/index.js';
import { RUNS, T, broadcastShapesArb, dimArb, expectGrad, specOf } from './helpers.js';

const mkn = fc.tuple(dimArb(4), dimArb(4), dimArb(4));

describe('gradient of matmul', () => {
  it('2-D @ 2-D', () => {
    const arb = mkn.chain(([m, k, n]) => fc.tuple(specOf([m, k]), specOf([k, n])));
    fc.assert(
      fc.property(arb, ([a, b]) => {
        expectGrad(matmul, [T(a), T(b)]);
        expectGrad((a, b) => a.matmul(b), [T(a), T(b)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('batched, same batch shape', () => {
    const arb = fc
      .tuple(dimArb(3), mkn)
      .chain(([batch, [m, k, n]]) => fc.tuple(specOf([batch, m, k]), specOf([batch, k, n])));
    fc.assert(
      fc.property(arb, ([a, b]) => expectGrad(matmul, [T(a), T(b)])),
      { numRuns: RUNS },
    );
  });

  it('broadcasting batch axes (including a 2-D operand against a batched one)', () => {
    const arb = fc
      .tuple(broadcastShapesArb(2, 2, 3), mkn)
      .chain(([{ shapes: [ba, bb] }, [m, k, n]]) => fc.tuple(specOf([...ba!, m, k]), specOf([...bb!, k, n])));
    fc.assert(
      fc.property(arb, ([a, b]) => expectGrad(matmul, [T(a), T(b)])),
      { numRuns: RUNS },
    );
  });

  it('1-D operands: vector·vector, vector·matrix, matrix·vector, batched', () => {
    const arb = fc
      .tuple(dimArb(3), mkn)
      .chain(([batch, [m, k, n]]) =>
        fc.record({
          v: specOf([k]),
          w: specOf([k]),
          mat: specOf([m, k]),
          matT: specOf([k, n]),
          batched: specOf([batch, m, k]),
          batchedT: specOf([batch, k, n]),
        }),
      );
    fc.assert(
      fc.property(arb, (c) => {
        expectGrad(matmul, [T(c.v), T(c.w)]); // [k]·[k] → []
        expectGrad(matmul, [T(c.v), T(c.matT)]); // [k]·[k, n] → [n]
        expectGrad(matmul, [T(c.mat), T(c.w)]); // [m, k]·[k] → [m]
        expectGrad(matmul, [T(c.batched), T(c.v)]); // [b, m, k]·[k] → [b, m]
        expectGrad(matmul, [T(c.v), T(c.batchedT)]); // [k]·[b, k, n] → [b, n]
      }),
      { numRuns: RUNS },
    );
  });
});

describe('gradient of mm with transposed operands', () => {
  it('transA / transB, 2-D and batched with broadcasting', () => {
    const arb = fc
      .tuple(mkn, fc.boolean(), fc.boolean(), broadcastShapesArb(2, 2, 2))
      .chain(([[m, k, n], transA, transB, { shapes: [ba, bb] }]) =>
        fc.record({
          transA: fc.constant(transA),
          transB: fc.constant(transB),
          a: specOf([...ba!, ...(transA ? [k, m] : [m, k])]),
          b: specOf([...bb!, ...(transB ? [n, k] : [k, n])]),
        }),
      );
    fc.assert(
      fc.property(arb, ({ a, b, transA, transB }) => {
        expectGrad((a, b) => mm(a, b, transA, transB), [T(a), T(b)]);
      }),
      { numRuns: RUNS },
    );
  });
});
