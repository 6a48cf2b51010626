/**
 * Property-based gradient checks of reductions (one axis, several axes, keepdim, all axes),
 * softmax/logSoftmax and topk.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { logSoftmax, logsumexp, max, mean, min, softmax, sum, topk, variance, type Axes, type Tensor } from '../src/index.js';
import { RUNS, T, axesArb, distinctValuesArb, expectGrad, shapeArb, specOf, type Spec } from './helpers.js';


/** A spec with values from `vals`, axes to reduce over, and keepdim. */
const reduceCaseArb = (vals?: (n: number) => fc.Arbitrary<number[]>, minRank = 0) =>
  shapeArb(minRank, 3).chain((shape) =>
    fc.record({ s: specOf(shape, vals), axes: axesArb(shape.length), keepdim: fc.boolean() }),
  );

const countOf = (shape: readonly number[], axes: Axes | undefined) => {
  const list = axes === undefined ? shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : axes;
  return list.reduce((n, a) => n * shape[a < 0 ? a + shape.length : a]!, 1);
};

describe('gradients of reductions', () => {
  it('sum', () => {
    fc.assert(
      fc.property(reduceCaseArb(), ({ s, axes, keepdim }) => {
        expectGrad((x) => sum(x, axes, keepdim), [T(s)]);
        expectGrad((x) => x.square().sum(axes, keepdim), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('mean', () => {
    fc.assert(
      fc.property(reduceCaseArb(), ({ s, axes, keepdim }) => {
        expectGrad((x) => mean(x, axes, keepdim), [T(s)]);
        expectGrad((x) => x.mul(x).mean(axes, keepdim), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('max and min (distinct values)', () => {
    fc.assert(
      fc.property(reduceCaseArb((n) => distinctValuesArb(n)), ({ s, axes, keepdim }) => {
        expectGrad((x) => max(x, axes, keepdim), [T(s)]);
        expectGrad((x) => min(x, axes, keepdim), [T(s)]);
        expectGrad((x) => x.max(axes, keepdim).mul(x.min(axes, keepdim)), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('var (correction 1 and 0)', () => {
    fc.assert(
      fc.property(reduceCaseArb(undefined, 1), ({ s, axes, keepdim }) => {
        // correction 1 divides by n − 1: only where at least two elements are reduced.
        if (countOf(s.shape, axes) >= 2) expectGrad((x) => variance(x, axes, { keepdim }), [T(s)]);
        expectGrad((x) => x.var(axes, { correction: 0, keepdim }), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('logsumexp', () => {
    fc.assert(
      fc.property(reduceCaseArb((n) => fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: n, maxLength: n })), ({ s, axes, keepdim }) => {
        expectGrad((x) => logsumexp(x, axes, keepdim), [T(s)]);
        expectGrad((x) => x.logsumexp(axes, keepdim), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });
});

/** A spec of rank ≥ 1 and an axis of it (non-negative or negative). */
const axisCaseArb = (vals?: (n: number) => fc.Arbitrary<number[]>) =>
  shapeArb(1, 3).chain((shape) =>
    fc.record({
      s: specOf(shape, vals),
      axis: fc.integer({ min: 0, max: shape.length - 1 }).chain((a) => fc.constantFrom(a, a - shape.length)),
    }),
  );

describe('gradients of softmax and logSoftmax', () => {
  it('softmax along any axis', () => {
    fc.assert(
      fc.property(axisCaseArb(), ({ s, axis }) => {
        expectGrad((x) => softmax(x, axis), [T(s)]);
        expectGrad((x) => x.softmax(axis).square(), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('logSoftmax along any axis', () => {
    fc.assert(
      fc.property(axisCaseArb(), ({ s, axis }) => {
        expectGrad((x) => logSoftmax(x, axis), [T(s)]);
        expectGrad((x) => x.logSoftmax(axis).exp(), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('gradient of topk (values)', () => {
  it('largest and smallest, any axis, any k', () => {
    const arb = axisCaseArb((n) => distinctValuesArb(n)).chain(({ s, axis }: { s: Spec; axis: number }) =>
      fc.record({
        s: fc.constant(s),
        axis: fc.constant(axis),
        k: fc.integer({ min: 0, max: s.shape[axis < 0 ? axis + s.shape.length : axis]! }),
        largest: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(arb, ({ s, axis, k, largest }) => {
        const f = (x: Tensor) => topk(x, k, axis, largest).values;
        expectGrad(f, [T(s)]);
        // Through a further op, so the scattered gradient is not all the same value.
        expectGrad((x) => x.topk(k, axis, largest).values.square(), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });
});
