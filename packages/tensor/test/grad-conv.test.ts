/**
 * Property-based gradient checks of the convolutions: conv1d, conv2d, convTranspose1d and
 * convTranspose2d, with generated stride, padding, dilation, groups and output padding; the
 * gradients for input, weight and bias are all checked.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { conv1d, conv2d, convTranspose1d, convTranspose2d } from '../src/index.js';
import { T, expectGrad, specOf } from './helpers.js';

// Each check runs the convolution twice per input element; kept below the default RUNS for time.
const RUNS = 15;

/** One spatial axis of a forward convolution: kernel, stride, padding, dilation and an input size giving ≥ 1 output. */
const convAxisArb = fc
  .record({
    k: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 2 }),
    pad: fc.integer({ min: 0, max: 2 }),
    dil: fc.integer({ min: 1, max: 2 }),
    extra: fc.integer({ min: 0, max: 2 }),
  })
  .map(({ k, stride, pad, dil, extra }) => ({ k, stride, pad, dil, size: Math.max(1, dil * (k - 1) + 1 - 2 * pad) + extra }));

/** One spatial axis of a transposed convolution, with an output of size ≥ 1. */
const convTAxisArb = fc
  .record({
    k: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 2 }),
    dil: fc.integer({ min: 1, max: 2 }),
    size: fc.integer({ min: 1, max: 3 }),
    padWish: fc.integer({ min: 0, max: 2 }),
    opWish: fc.integer({ min: 0, max: 1 }),
  })
  .map(({ k, stride, dil, size, padWish, opWish }) => {
    const outPad = Math.min(opWish, Math.max(stride, dil) - 1); // must be < max(stride, dilation)
    const full = (size - 1) * stride + dil * (k - 1) + outPad; // output size − 1 before padding
    const pad = Math.min(padWish, Math.floor(full / 2));
    return { k, stride, dil, size, pad, outPad };
  });

const channelsArb = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  groups: fc.integer({ min: 1, max: 2 }),
  cPerGroup: fc.integer({ min: 1, max: 2 }),
  oPerGroup: fc.integer({ min: 1, max: 2 }),
  bias: fc.boolean(),
});

describe('gradient of conv2d', () => {
  it('stride, padding, dilation, groups, bias', () => {
    const arb = fc.tuple(channelsArb, convAxisArb, convAxisArb).chain(([ch, h, w]) => {
      const C = ch.groups * ch.cPerGroup, O = ch.groups * ch.oPerGroup;
      return fc.record({
        ch: fc.constant(ch),
        h: fc.constant(h),
        w: fc.constant(w),
        x: specOf([ch.n, C, h.size, w.size]),
        weight: specOf([O, ch.cPerGroup, h.k, w.k]),
        bias: specOf([O]),
      });
    });
    fc.assert(
      fc.property(arb, ({ ch, h, w, x, weight, bias }) => {
        const opts = { stride: [h.stride, w.stride] as [number, number], padding: [h.pad, w.pad] as [number, number], dilation: [h.dil, w.dil] as [number, number], groups: ch.groups };
        if (ch.bias) expectGrad((x, wt, b) => conv2d(x, wt, b, opts), [T(x), T(weight), T(bias)]);
        else expectGrad((x, wt) => conv2d(x, wt, null, opts), [T(x), T(weight)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('square options given as numbers', () => {
    const arb = fc
      .record({ stride: fc.integer({ min: 1, max: 2 }), padding: fc.integer({ min: 0, max: 1 }), dilation: fc.integer({ min: 1, max: 2 }) })
      .chain((o) => fc.record({ o: fc.constant(o), x: specOf([1, 1, 4, 4]), weight: specOf([2, 1, 2, 2]) }));
    fc.assert(
      fc.property(arb, ({ o, x, weight }) => {
        expectGrad((x, wt) => conv2d(x, wt, undefined, o), [T(x), T(weight)]);
      }),
      { numRuns: 10 },
    );
  });
});

describe('gradient of conv1d', () => {
  it('stride, padding, dilation, groups, bias', () => {
    const arb = fc.tuple(channelsArb, convAxisArb).chain(([ch, l]) => {
      const C = ch.groups * ch.cPerGroup, O = ch.groups * ch.oPerGroup;
      return fc.record({
        ch: fc.constant(ch),
        l: fc.constant(l),
        x: specOf([ch.n, C, l.size]),
        weight: specOf([O, ch.cPerGroup, l.k]),
        bias: specOf([O]),
      });
    });
    fc.assert(
      fc.property(arb, ({ ch, l, x, weight, bias }) => {
        const opts = { stride: l.stride, padding: l.pad, dilation: l.dil, groups: ch.groups };
        expectGrad((x, wt, b) => conv1d(x, wt, ch.bias ? b : null, opts), [T(x), T(weight), T(bias)]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('gradient of convTranspose2d', () => {
  it('stride, padding, outputPadding, dilation, groups, bias', () => {
    const arb = fc.tuple(channelsArb, convTAxisArb, convTAxisArb).chain(([ch, h, w]) => {
      const Cin = ch.groups * ch.cPerGroup, Cout = ch.groups * ch.oPerGroup;
      return fc.record({
        ch: fc.constant(ch),
        h: fc.constant(h),
        w: fc.constant(w),
        x: specOf([ch.n, Cin, h.size, w.size]),
        weight: specOf([Cin, ch.oPerGroup, h.k, w.k]),
        bias: specOf([Cout]),
      });
    });
    fc.assert(
      fc.property(arb, ({ ch, h, w, x, weight, bias }) => {
        const opts = {
          stride: [h.stride, w.stride] as [number, number],
          padding: [h.pad, w.pad] as [number, number],
          dilation: [h.dil, w.dil] as [number, number],
          outputPadding: [h.outPad, w.outPad] as [number, number],
          groups: ch.groups,
        };
        expectGrad((x, wt, b) => convTranspose2d(x, wt, ch.bias ? b : null, opts), [T(x), T(weight), T(bias)]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('gradient of convTranspose1d', () => {
  it('stride, padding, outputPadding, dilation, groups, bias', () => {
    const arb = fc.tuple(channelsArb, convTAxisArb).chain(([ch, l]) => {
      const Cin = ch.groups * ch.cPerGroup, Cout = ch.groups * ch.oPerGroup;
      return fc.record({
        ch: fc.constant(ch),
        l: fc.constant(l),
        x: specOf([ch.n, Cin, l.size]),
        weight: specOf([Cin, ch.oPerGroup, l.k]),
        bias: specOf([Cout]),
      });
    });
    fc.assert(
      fc.property(arb, ({ ch, l, x, weight, bias }) => {
        const opts = { stride: l.stride, padding: l.pad, dilation: l.dil, outputPadding: l.outPad, groups: ch.groups };
        expectGrad((x, wt, b) => convTranspose1d(x, wt, ch.bias ? b : null, opts), [T(x), T(weight), T(bias)]);
      }),
      { numRuns: RUNS },
    );
  });
});
