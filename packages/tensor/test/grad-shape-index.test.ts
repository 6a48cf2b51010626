/**
 * Property-based gradient checks of the data-movement ops (reshape, transpose, permute,
 * expand/broadcastTo, slice, cat, stack, pad) and the indexing ops (gather, indexSelect,
 * scatterAdd, indexAdd).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  broadcastTo, cat, expand, gather, indexAdd, indexSelect, pad, permute, reshape, scatterAdd, slice, stack, transpose,
} from '../src/index.js';
import { I, RUNS, T, dimArb, expectGrad, shapeArb, size, specOf } from './helpers.js';

const axisOf = (rank: number) => fc.integer({ min: 0, max: rank - 1 }).chain((a) => fc.constantFrom(a, a - rank));

describe('gradients of shape ops', () => {
  it('reshape (to a shuffle of the sizes, with or without −1)', () => {
    const arb = shapeArb(1, 4, 3).chain((shape) =>
      fc.record({
        s: specOf(shape),
        target: fc.shuffledSubarray(shape, { minLength: shape.length, maxLength: shape.length }),
        free: fc.option(fc.integer({ min: 0, max: shape.length - 1 }), { nil: undefined }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ s, target, free }) => {
        const t = free === undefined ? target : target.map((d, i) => (i === free ? -1 : d));
        expectGrad((x) => reshape(x, t).mul(x.reshape([size(s.shape)]).sum()), [T(s)]);
        expectGrad((x) => x.reshape([-1]), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('transpose (any two axes) and mT', () => {
    const arb = shapeArb(2, 4, 3).chain((shape) =>
      fc.record({ s: specOf(shape), d0: axisOf(shape.length), d1: axisOf(shape.length) }),
    );
    fc.assert(
      fc.property(arb, ({ s, d0, d1 }) => {
        expectGrad((x) => transpose(x, d0, d1), [T(s)]);
        expectGrad((x) => x.mT.square(), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('permute', () => {
    const arb = shapeArb(1, 4, 3).chain((shape) => {
      const axes = shape.map((_, i) => i);
      return fc.record({ s: specOf(shape), perm: fc.shuffledSubarray(axes, { minLength: axes.length, maxLength: axes.length }) });
    });
    fc.assert(
      fc.property(arb, ({ s, perm }) => {
        expectGrad((x) => permute(x, perm).mul(x.permute(perm)), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('broadcastTo and expand (with −1)', () => {
    // A target shape, and an input that is a suffix of it with some sizes set to 1.
    const arb = shapeArb(0, 4, 3).chain((out) =>
      fc
        .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
        .chain(([drop, ones]) =>
          fc.record({
            out: fc.constant(out),
            s: specOf(out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d))),
            keep: fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
          }),
        ),
    );
    fc.assert(
      fc.property(arb, ({ out, s, keep }) => {
        expectGrad((x) => broadcastTo(x, out), [T(s)]);
        const lead = out.length - s.shape.length;
        // −1 keeps a size: allowed on the input's own axes.
        const withFree = out.map((d, i) => (i >= lead && keep[i] ? -1 : d));
        expectGrad((x) => expand(x, withFree), [T(s)]);
        expectGrad((x) => x.expand(out).square(), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('slice with start, end (negative too) and step', () => {
    const arb = shapeArb(1, 3, 4).chain((shape) =>
      fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) => {
        const n = shape[axis]!;
        return fc.record({
          s: specOf(shape),
          axis: fc.constant(axis),
          start: fc.integer({ min: -n - 1, max: n }),
          end: fc.option(fc.integer({ min: -n - 1, max: n + 1 }), { nil: undefined }),
          step: fc.integer({ min: 1, max: 3 }),
        });
      }),
    );
    fc.assert(
      fc.property(arb, ({ s, axis, start, end, step }) => {
        expectGrad((x) => slice(x, axis, start, end, step), [T(s)]);
        expectGrad((x) => x.slice(axis, start, end, step).exp(), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('cat along any axis', () => {
    const arb = shapeArb(1, 3, 3).chain((shape) =>
      fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
        fc.record({
          axis: fc.constantFrom(axis, axis - shape.length),
          parts: fc.array(dimArb(3).chain((len) => specOf(shape.map((d, i) => (i === axis ? len : d)))), { minLength: 1, maxLength: 3 }),
        }),
      ),
    );
    fc.assert(
      fc.property(arb, ({ axis, parts }) => {
        expectGrad((...xs) => cat(xs, axis), parts.map((p) => T(p)));
        // The same tensor twice: its gradient is the sum of both pieces.
        expectGrad((x) => cat([x, x.square()], axis), [T(parts[0]!)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('stack along any axis (including a new last axis)', () => {
    const arb = shapeArb(0, 3, 3).chain((shape) =>
      fc.record({
        axis: fc.integer({ min: -shape.length - 1, max: shape.length }),
        parts: fc.array(specOf(shape), { minLength: 1, maxLength: 3 }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ axis, parts }) => {
        expectGrad((...xs) => stack(xs, axis), parts.map((p) => T(p)));
      }),
      { numRuns: RUNS },
    );
  });

  it('pad (any number of trailing axes, any fill value)', () => {
    const arb = shapeArb(1, 3, 3).chain((shape) =>
      fc.record({
        s: specOf(shape),
        pads: fc.integer({ min: 1, max: shape.length }).chain((axes) =>
          fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2 * axes, maxLength: 2 * axes }),
        ),
        value: fc.constantFrom(0, 1.5, -2),
      }),
    );
    fc.assert(
      fc.property(arb, ({ s, pads, value }) => {
        expectGrad((x) => pad(x, pads, value), [T(s)]);
        expectGrad((x) => x.pad(pads, value).square(), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });
});

/** A spec, an axis, and the length of the indexed axis of an index tensor. */
const indexCaseArb = shapeArb(1, 3, 3).chain((shape) =>
  fc.record({
    s: specOf(shape),
    axis: fc.integer({ min: 0, max: shape.length - 1 }),
    idxLen: dimArb(4),
  }),
);

const indicesArb = (count: number, len: number) =>
  fc.array(fc.integer({ min: 0, max: len - 1 }), { minLength: count, maxLength: count });

describe('gradients of indexing ops', () => {
  it('gather (repeated indices included)', () => {
    const arb = indexCaseArb.chain(({ s, axis, idxLen }) => {
      const idxShape = s.shape.map((d, i) => (i === axis ? idxLen : d));
      return fc.record({ s: fc.constant(s), axis: fc.constant(axis), idxShape: fc.constant(idxShape), idx: indicesArb(size(idxShape), s.shape[axis]!) });
    });
    fc.assert(
      fc.property(arb, ({ s, axis, idxShape, idx }) => {
        const index = I(idx, idxShape);
        expectGrad((x, i) => gather(x, axis, i), [T(s), index]);
        expectGrad((x) => x.gather(axis - s.shape.length, index).square(), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('indexSelect (repeated indices included)', () => {
    const arb = indexCaseArb.chain(({ s, axis, idxLen }) =>
      fc.record({ s: fc.constant(s), axis: fc.constant(axis), idx: indicesArb(idxLen, s.shape[axis]!) }),
    );
    fc.assert(
      fc.property(arb, ({ s, axis, idx }) => {
        const index = I(idx);
        expectGrad((x, i) => indexSelect(x, axis, i), [T(s), index]);
        expectGrad((x) => x.indexSelect(axis, index).square(), [T(s)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('scatterAdd (gradients for the base and the source)', () => {
    const arb = indexCaseArb.chain(({ s, axis, idxLen }) => {
      const idxShape = s.shape.map((d, i) => (i === axis ? idxLen : d));
      return fc.record({
        s: fc.constant(s),
        axis: fc.constant(axis),
        idxShape: fc.constant(idxShape),
        idx: indicesArb(size(idxShape), s.shape[axis]!),
        src: specOf(idxShape),
      });
    });
    fc.assert(
      fc.property(arb, ({ s, axis, idxShape, idx, src }) => {
        const index = I(idx, idxShape);
        expectGrad((x, i, v) => scatterAdd(x, axis, i, v), [T(s), index, T(src)]);
        expectGrad((x, v) => x.scatterAdd(axis, index, v.square()).square(), [T(s), T(src)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('indexAdd (gradients for the base and the source)', () => {
    const arb = indexCaseArb.chain(({ s, axis, idxLen }) =>
      fc.record({
        s: fc.constant(s),
        axis: fc.constant(axis),
        idx: indicesArb(idxLen, s.shape[axis]!),
        src: specOf(s.shape.map((d, i) => (i === axis ? idxLen : d))),
      }),
    );
    fc.assert(
      fc.property(arb, ({ s, axis, idx, src }) => {
        const index = I(idx);
        expectGrad((x, i, v) => indexAdd(x, axis, i, v), [T(s), index, T(src)]);
        expectGrad((x, v) => x.indexAdd(axis, index, v).square(), [T(s), T(src)]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('composite graphs', () => {
  it('a small network: matmul, broadcasting bias, gelu, layer-norm-like normalisation, logSoftmax', () => {
    const arb = fc
      .tuple(dimArb(3), dimArb(4), dimArb(3))
      .chain(([n, d, c]) => fc.tuple(specOf([n, d]), specOf([d, c]), specOf([c])));
    fc.assert(
      fc.property(arb, ([x, w, b]) => {
        expectGrad(
          (x, w, b) => {
            const h = x.matmul(w).add(b).gelu();
            const centered = h.sub(h.mean(-1, true));
            const normed = centered.div(centered.square().mean(-1, true).add(1).sqrt());
            return normed.logSoftmax(-1);
          },
          [T(x), T(w), T(b)],
        );
      }),
      { numRuns: RUNS },
    );
  });
});
