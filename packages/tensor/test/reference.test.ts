/**
 * Forward values against naive references written here: broadcasting binary ops and where,
 * reductions, softmax/logSoftmax (including logits of ±1e4), topk against a sort, conv2d against
 * a 7-loop definition, gather/scatterAdd/indexSelect/indexAdd against plain loops.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  abs, add, argmax, argmin, conv2d, cos, erf, exp, floor, gelu, isFinite, log, neg, reciprocal, relu, sigmoid, sign, sin, sqrt, square, tanh, div, eq, gather, ge, gt, indexAdd, indexSelect, le, logSoftmax, logsumexp, lt, max, maximum, mean, min,
  minimum, mul, ne, pow, scatterAdd, softmax, sub, sum, topk, variance, where, type Axes, type Tensor,
  CpuBackend, withBackend,
} from '../src/index.js';
import { I, T, axesArb, broadcastShapesArb, dimArb, expectClose, f32, ravel, shapeArb, size, specOf, unravel, valuesArb, type Spec } from './helpers.js';

/** The value of a broadcast operand at output index `idx` (index by index, no strides). */
function readBroadcast(s: Spec, idx: readonly number[]): number {
  const lead = idx.length - s.shape.length;
  const own = s.shape.map((d, i) => (d === 1 ? 0 : idx[i + lead]!));
  return s.values[ravel(own, s.shape)]!;
}

/** fround after each op: what a float32 elementwise kernel should produce. */
const F = Math.fround;
const BINARY_REF: Array<[string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number]> = [
  ['add', add, (x, y) => F(x + y)],
  ['sub', sub, (x, y) => F(x - y)],
  ['mul', mul, (x, y) => F(x * y)],
  ['div', div, (x, y) => F(x / y)],
  ['pow', pow, (x, y) => F(Math.pow(Math.abs(x), y))],
  ['maximum', maximum, (x, y) => Math.max(x, y)],
  ['minimum', minimum, (x, y) => Math.min(x, y)],
  ['eq', eq, (x, y) => (x === y ? 1 : 0)],
  ['ne', ne, (x, y) => (x !== y ? 1 : 0)],
  ['lt', lt, (x, y) => (x < y ? 1 : 0)],
  ['le', le, (x, y) => (x <= y ? 1 : 0)],
  ['gt', gt, (x, y) => (x > y ? 1 : 0)],
  ['ge', ge, (x, y) => (x >= y ? 1 : 0)],
];

/** Values on a coarse grid (so comparisons see ties), never 0 (div). */
const gridArb = (n: number) =>
  fc.array(fc.integer({ min: -4, max: 4 }).map((k) => (k === 0 ? 0.5 : k * 0.75)), { minLength: n, maxLength: n });

describe('broadcasting agrees with an index-by-index reference', () => {
  for (const [name, op, ref] of BINARY_REF) {
    it(name, () => {
      const arb = broadcastShapesArb(2, 4, 3).chain(({ out, shapes: [sa, sb] }) =>
        fc.record({ out: fc.constant(out), a: specOf(sa!, gridArb), b: specOf(sb!, gridArb) }),
      );
      fc.assert(
        fc.property(arb, ({ out, a, b }) => {
          // pow takes |a| so that fractional exponents stay real.
          const ta = name === 'pow' ? T(a).abs() : T(a);
          const z = op(ta, T(b));
          expect(z.shape).toEqual(out);
          expect(z.dtype).toBe(['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(name) ? 'int32' : 'float32');
          const expected = Array.from({ length: size(out) }, (_, f) => {
            const idx = unravel(f, out);
            return ref(readBroadcast(a, idx), readBroadcast(b, idx));
          });
          expectClose(z.data(), expected, 0, 1e-6, name);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('where (three operands)', () => {
    const arb = broadcastShapesArb(3, 4, 3).chain(({ out, shapes: [sc, sa, sb] }) =>
      fc.record({
        out: fc.constant(out),
        c: specOf(sc!, (n) => fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n })),
        a: specOf(sa!, gridArb),
        b: specOf(sb!, gridArb),
      }),
    );
    fc.assert(
      fc.property(arb, ({ out, c, a, b }) => {
        const z = where(I(c.values, c.shape), T(a), T(b));
        expect(z.shape).toEqual(out);
        const expected = Array.from({ length: size(out) }, (_, f) => {
          const idx = unravel(f, out);
          return readBroadcast(c, idx) !== 0 ? readBroadcast(a, idx) : readBroadcast(b, idx);
        });
        expectClose(z.data(), f32(expected), 0, 0, 'where');
      }),
      { numRuns: 25 },
    );
  });

  it('int32 operands stay int32; int32 with float32 gives float32', () => {
    const a = I([1, 2, 3]), b = I([10], [1]);
    const s = add(a, b);
    expect(s.dtype).toBe('int32');
    expect(Array.from(s.data())).toEqual([11, 12, 13]);
    const f = add(a, T({ shape: [], values: [0.5] }));
    expect(f.dtype).toBe('float32');
    expect(Array.from(f.data())).toEqual([1.5, 2.5, 3.5]);
    expect(a.add(2).dtype).toBe('int32');
    expect(a.add(2.5).dtype).toBe('float32');
    // Division of integers is true division.
    expect(Array.from(div(I([1, 3]), I([2, 2])).data())).toEqual([0.5, 1.5]);
  });
});

/** erf by its Maclaurin series, in float64 (accurate to ~1e-13 for |x| ≤ 4). */
function erfSeries(x: number): number {
  let term = x, sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const UNARY_REF: Array<[string, (x: Tensor) => Tensor, (x: number) => number]> = [
  ['neg', neg, (x) => -x],
  ['exp', exp, Math.exp],
  ['log', log, Math.log],
  ['sqrt', sqrt, Math.sqrt],
  ['abs', abs, Math.abs],
  ['sign', sign, Math.sign],
  ['relu', relu, (x) => Math.max(x, 0)],
  ['sigmoid', sigmoid, (x) => 1 / (1 + Math.exp(-x))],
  ['tanh', tanh, Math.tanh],
  ['erf', erf, erfSeries],
  ['gelu', gelu, (x) => 0.5 * x * (1 + erfSeries(x / Math.SQRT2))],
  ['sin', sin, Math.sin],
  ['cos', cos, Math.cos],
  ['square', square, (x) => x * x],
  ['reciprocal', reciprocal, (x) => 1 / x],
  ['floor', floor, Math.floor],
];

describe('unary ops agree with float64 references', () => {
  for (const [name, op, ref] of UNARY_REF) {
    it(name, () => {
      const positive = name === 'log' || name === 'sqrt';
      fc.assert(
        fc.property(specOf([6], (n) => valuesArb(n, positive ? 0.01 : -4, 4).map(f32)), fc.constantFrom(0, 1e-9, -1e-9, 0.5, -2), (s, special) => {
          const values = positive ? s.values : [...s.values, special];
          const y = op(T({ shape: [values.length], values }));
          expectClose(y.data(), values.map((v) => Math.fround(ref(v))), 2e-7, 2e-6, name);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('erf is exactly 0 at 0, odd, and has the sign of x', () => {
    const xs = [0, 1e-9, -1e-9, 1e-7, 0.5, 3];
    const y = Array.from(erf(T({ shape: [xs.length], values: xs })).data());
    expect(y[0]).toBe(0);
    for (let i = 1; i < xs.length; i++) expect(Math.sign(y[i]!), `erf(${xs[i]}) = ${y[i]}`).toBe(Math.sign(xs[i]!));
    const neg = Array.from(erf(T({ shape: [xs.length], values: xs.map((v) => -v) })).data());
    expect(neg.map((v, i) => v + y[i]!)).toEqual(xs.map(() => 0)); // odd (±0 alike)
  });

  it('isFinite marks NaN and ±Inf as 0 (int32)', () => {
    const y = isFinite(T({ shape: [4], values: [1, NaN, Infinity, -Infinity] }));
    expect(y.dtype).toBe('int32');
    expect(y.toArray()).toEqual([1, 0, 0, 0]);
  });
});

/** Reduces `s` over `axes` with `f` applied to the list of values of each output cell. */
function naiveReduce(s: Spec, axes: Axes | undefined, keepdim: boolean, f: (vs: number[]) => number): { shape: number[]; values: number[] } {
  const rank = s.shape.length;
  const list = axes === undefined ? s.shape.map((_, i) => i) : (typeof axes === 'number' ? [axes] : [...axes]).map((a) => (a < 0 ? a + rank : a));
  const keptShape = s.shape.map((d, i) => (list.includes(i) ? 1 : d));
  const cells: number[][] = Array.from({ length: size(keptShape) }, () => []);
  for (let flat = 0; flat < s.values.length; flat++) {
    const idx = unravel(flat, s.shape).map((v, i) => (list.includes(i) ? 0 : v));
    cells[ravel(idx, keptShape)]!.push(s.values[flat]!);
  }
  const shape = keepdim ? keptShape : s.shape.filter((_, i) => !list.includes(i));
  return { shape, values: cells.map(f) };
}

const REDUCTIONS: Array<[string, (x: Tensor, axes: Axes | undefined, keepdim: boolean) => Tensor, (vs: number[]) => number]> = [
  ['sum', sum, (vs) => vs.reduce((a, b) => a + b, 0)],
  ['mean', mean, (vs) => vs.reduce((a, b) => a + b, 0) / vs.length],
  ['max', max, (vs) => Math.max(...vs)],
  ['min', min, (vs) => Math.min(...vs)],
  ['var (unbiased)', (x, axes, keepdim) => variance(x, axes, { keepdim }), (vs) => {
    const m = vs.reduce((a, b) => a + b, 0) / vs.length;
    return vs.reduce((a, v) => a + (v - m) ** 2, 0) / (vs.length - 1);
  }],
  ['var (correction 0)', (x, axes, keepdim) => x.var(axes, { keepdim, correction: 0 }), (vs) => {
    const m = vs.reduce((a, b) => a + b, 0) / vs.length;
    return vs.reduce((a, v) => a + (v - m) ** 2, 0) / vs.length;
  }],
  ['logsumexp', logsumexp, (vs) => {
    const m = Math.max(...vs);
    return m + Math.log(vs.reduce((a, v) => a + Math.exp(v - m), 0));
  }],
];

describe('reductions agree with naive references', () => {
  for (const [name, op, ref] of REDUCTIONS) {
    it(name, () => {
      const arb = shapeArb(0, 4, 3).chain((shape) =>
        fc.record({ s: specOf(shape, (n) => valuesArb(n, -3, 3).map(f32)), axes: axesArb(shape.length), keepdim: fc.boolean() }),
      );
      fc.assert(
        fc.property(arb, ({ s, axes, keepdim }) => {
          const expected = naiveReduce(s, axes, keepdim, ref);
          if (name === 'var (unbiased)' && expected.values.length > 0 && s.values.length / expected.values.length < 2) return; // n − 1 = 0
          const y = op(T(s), axes, keepdim);
          expect(y.shape).toEqual(expected.shape);
          expectClose(y.data(), expected.values, 1e-5, 1e-5, name);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('argmax / argmin along an axis (first index wins ties) and over everything', () => {
    const arb = shapeArb(1, 3, 4).chain((shape) =>
      fc.record({
        s: specOf(shape, (n) => fc.array(fc.integer({ min: -2, max: 2 }), { minLength: n, maxLength: n })),
        axis: fc.integer({ min: 0, max: shape.length - 1 }),
        keepdim: fc.boolean(),
      }),
    );
    const firstArg = (better: (a: number, b: number) => boolean) => (vs: number[]) =>
      vs.reduce((best, v, i) => (better(v, vs[best]!) ? i : best), 0);
    fc.assert(
      fc.property(arb, ({ s, axis, keepdim }) => {
        for (const [op, better] of [[argmax, (a: number, b: number) => a > b], [argmin, (a: number, b: number) => a < b]] as const) {
          const y = op(T(s), axis, keepdim);
          const expected = naiveReduce(s, axis, keepdim, firstArg(better));
          expect(y.dtype).toBe('int32');
          expect(y.shape).toEqual(expected.shape);
          expect(Array.from(y.data())).toEqual(expected.values);
          const all = op(T(s));
          expect(all.shape).toEqual([]);
          expect(all.item()).toBe(firstArg(better)(s.values));
        }
      }),
      { numRuns: 25 },
    );
  });

  it('sum of an int32 tensor is int32 and exact', () => {
    const x = I([2 ** 24, 1, 1, 1], [2, 2]);
    const s = x.sum();
    expect(s.dtype).toBe('int32');
    expect(s.item()).toBe(2 ** 24 + 3);
    expect(x.sum(0).toArray()).toEqual([2 ** 24 + 1, 2]);
  });
});

describe('softmax and logSoftmax', () => {
  const caseArb = (min: number, max: number) =>
    shapeArb(1, 3, 5).chain((shape) =>
      fc.record({ s: specOf(shape, (n) => valuesArb(n, min, max).map(f32)), axis: fc.integer({ min: 0, max: shape.length - 1 }) }),
    );

  /** Float64 softmax / logSoftmax of each lane along `axis`, by the definition. */
  function reference(s: Spec, axis: number): { soft: number[]; logSoft: number[] } {
    const soft = new Array<number>(s.values.length), logSoft = new Array<number>(s.values.length);
    const n = s.shape[axis]!;
    for (let flat = 0; flat < s.values.length; flat++) {
      const idx = unravel(flat, s.shape);
      if (idx[axis] !== 0) continue;
      const lane = Array.from({ length: n }, (_, j) => ravel(idx.map((v, d) => (d === axis ? j : v)), s.shape));
      const m = Math.max(...lane.map((p) => s.values[p]!));
      const lse = m + Math.log(lane.reduce((acc, p) => acc + Math.exp(s.values[p]! - m), 0));
      for (const p of lane) {
        logSoft[p] = s.values[p]! - lse;
        soft[p] = Math.exp(logSoft[p]!);
      }
    }
    return { soft, logSoft };
  }

  it('softmax lanes are in [0, 1] and sum to 1; both agree with a float64 reference', () => {
    fc.assert(
      fc.property(caseArb(-10, 10), ({ s, axis }) => {
        const y = softmax(T(s), axis);
        const v = y.data();
        for (const p of v) {
          expect(p).toBeGreaterThanOrEqual(0);
          expect(p).toBeLessThanOrEqual(1);
        }
        const sums = sum(y, axis).data();
        expectClose(sums, new Array(sums.length).fill(1), 1e-6, 0, 'lane sums');
        const ref = reference(s, axis);
        expectClose(v, ref.soft, 1e-6, 1e-5, 'softmax');
        expectClose(logSoftmax(T(s), axis).data(), ref.logSoft, 1e-5, 1e-5, 'logSoftmax');
      }),
      { numRuns: 25 },
    );
  });

  it('logSoftmax stays finite and correct for logits of ±1e4', () => {
    const arb = shapeArb(1, 3, 5).chain((shape) =>
      fc.record({
        s: specOf(shape, (n) =>
          fc.array(fc.tuple(fc.constantFrom(-1e4, 1e4), fc.double({ min: -20, max: 20, noNaN: true })), { minLength: n, maxLength: n })
            .map((ps) => f32(ps.map(([big, d]) => big + d))),
        ),
        axis: fc.integer({ min: 0, max: shape.length - 1 }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ s, axis }) => {
        const y = logSoftmax(T(s), axis).data();
        for (const v of y) expect(Number.isFinite(v), `logSoftmax gave ${v}`).toBe(true);
        const ref = reference(s, axis);
        // Outputs reach ~2e4 in magnitude; float32 spacing there is ~2e-3.
        expectClose(y, ref.logSoft, 1e-4, 1e-6, 'logSoftmax at ±1e4');
        const p = softmax(T(s), axis).data();
        for (const v of p) expect(Number.isFinite(v)).toBe(true);
        expectClose(p, ref.soft, 1e-6, 1e-5, 'softmax at ±1e4');
        // logsumexp shares the max-shift trick.
        const lse = logsumexp(T(s), axis).data();
        for (const v of lse) expect(Number.isFinite(v)).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('a hand-checked value: softmax([0, ln 3]) = [1/4, 3/4]', () => {
    const y = softmax(T({ shape: [2], values: [0, Math.log(3)] }));
    expectClose(y.data(), [0.25, 0.75], 1e-7, 0);
  });
});

describe('topk agrees with a sort', () => {
  const arb = fc
    .tuple(shapeArb(1, 3, 4), fc.boolean())
    .chain(([shape, wide]) => {
      // Sometimes a long last axis, so the sort path (k > 32) runs as well as the insertion path.
      const s = wide ? [...shape.slice(0, -1), 40] : shape;
      return fc.record({
        s: specOf(s, (n) => fc.array(fc.integer({ min: -3, max: 3 }).map((k) => k * 0.5), { minLength: n, maxLength: n })),
        axis: fc.integer({ min: 0, max: s.length - 1 }),
        largest: fc.boolean(),
      });
    })
    .chain(({ s, axis, largest }) => fc.record({ s: fc.constant(s), axis: fc.constant(axis), largest: fc.constant(largest), k: fc.integer({ min: 0, max: s.shape[axis]! }) }));

  it('values and indices (ties: lower index first), largest and smallest, any axis', () => {
    fc.assert(
      fc.property(arb, ({ s, axis, largest, k }) => {
        const { values, indices } = topk(T(s), k, axis, largest);
        const outShape = s.shape.map((d, i) => (i === axis ? k : d));
        expect(values.shape).toEqual(outShape);
        expect(indices.shape).toEqual(outShape);
        expect(indices.dtype).toBe('int32');
        const v = values.data(), ix = indices.data();
        for (let f = 0; f < size(outShape); f++) {
          const idx = unravel(f, outShape);
          const lane = Array.from({ length: s.shape[axis]! }, (_, j) => ({ j, v: s.values[ravel(idx.map((x, d) => (d === axis ? j : x)), s.shape)]! }));
          // A stable sort: equal values keep their order, so the lower index comes first.
          const sorted = [...lane].sort((p, q) => (largest ? q.v - p.v : p.v - q.v));
          const want = sorted[idx[axis]!]!;
          expect(v[f], `value at ${idx}`).toBe(want.v);
          expect(ix[f], `index at ${idx}`).toBe(want.j);
        }
      }),
      { numRuns: 30 },
    );
  });
});

/** conv2d by its definition: 7 nested loops (batch, out channel, oy, ox, in channel of the group, ky, kx). */
function naiveConv2d(
  x: Spec, w: Spec, bias: number[] | null,
  [sh, sw]: [number, number], [ph, pw]: [number, number], [dh, dw]: [number, number], groups: number,
): { shape: number[]; values: number[] } {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, Cg, KH, KW] = w.shape as [number, number, number, number];
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  const Og = O / groups;
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let acc = bias ? bias[o]! : 0;
          for (let c = 0; c < Cg; c++) {
            for (let ky = 0; ky < KH; ky++) {
              for (let kx = 0; kx < KW; kx++) {
                const iy = oy * sh - ph + ky * dh, ix = ox * sw - pw + kx * dw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += x.values[((n * C + g * Cg + c) * H + iy) * W + ix]! * w.values[((o * Cg + c) * KH + ky) * KW + kx]!;
              }
            }
          }
          out.push(acc);
        }
      }
    }
  }
  return { shape: [N, O, OH, OW], values: out };
}

describe('conv2d agrees with a naive 7-loop reference', () => {
  it('generated stride, padding, dilation, groups, bias', () => {
    const axisArb = fc
      .record({ k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 3 }), p: fc.integer({ min: 0, max: 2 }), d: fc.integer({ min: 1, max: 2 }), extra: fc.integer({ min: 0, max: 4 }) })
      .map((a) => ({ ...a, size: Math.max(1, a.d * (a.k - 1) + 1 - 2 * a.p) + a.extra }));
    const arb = fc
      .record({ n: dimArb(2), groups: dimArb(3), cg: dimArb(2), og: dimArb(2), h: axisArb, w: axisArb, withBias: fc.boolean() })
      .chain((c) =>
        fc.record({
          c: fc.constant(c),
          x: specOf([c.n, c.groups * c.cg, c.h.size, c.w.size], (n) => valuesArb(n).map(f32)),
          w: specOf([c.groups * c.og, c.cg, c.h.k, c.w.k], (n) => valuesArb(n).map(f32)),
          b: valuesArb(c.groups * c.og).map(f32),
        }),
      );
    fc.assert(
      fc.property(arb, ({ c, x, w, b }) => {
        const stride: [number, number] = [c.h.s, c.w.s], padding: [number, number] = [c.h.p, c.w.p], dilation: [number, number] = [c.h.d, c.w.d];
        const y = conv2d(T(x), T(w), c.withBias ? T({ shape: [b.length], values: b }) : null, { stride, padding, dilation, groups: c.groups });
        const ref = naiveConv2d(x, w, c.withBias ? b : null, stride, padding, dilation, c.groups);
        expect(y.shape).toEqual(ref.shape);
        expectClose(y.data(), ref.values, 1e-5, 1e-5, 'conv2d');
      }),
      { numRuns: 30 },
    );
  });
});

describe('conv2d at stride 1 with width-preserving padding (im2col copies whole runs of lines)', () => {
  it('agrees with the 7-loop reference, also on reused storage that held NaN', () => {
    // OW = W needs padding pw = dw·(kw − 1)/2; the vertical padding is free. im2col then copies
    // each image's valid lines as one run and clears the columns that wrapped around: NaN left in
    // the backend's buffer pool would show if any padding position were not cleared.
    const arb = fc
      .record({
        n: dimArb(2), c: dimArb(3), o: dimArb(2), kh: fc.integer({ min: 1, max: 3 }), ph: fc.integer({ min: 0, max: 2 }), dh: fc.integer({ min: 1, max: 2 }),
        kw: fc.constantFrom(1, 3, 5), dw: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 6 }), w: fc.integer({ min: 1, max: 7 }),
      })
      .filter((c) => c.h + 2 * c.ph >= c.dh * (c.kh - 1) + 1)
      .chain((c) =>
        fc.record({
          c: fc.constant(c),
          x: specOf([c.n, c.c, c.h, c.w], (k) => valuesArb(k).map(f32)),
          w: specOf([c.o, c.c, c.kh, c.kw], (k) => valuesArb(k).map(f32)),
        }),
      );
    fc.assert(
      fc.property(arb, ({ c, x, w }) => {
        const pw = (c.dw * (c.kw - 1)) / 2;
        const be = new CpuBackend({ threads: 1 });
        const cols = c.c * c.kh * c.kw * c.n * (c.h + 2 * c.ph - c.dh * (c.kh - 1)) * c.w;
        for (let i = 0; i < 2; i++) be.dispose(be.fromArray(new Float32Array(cols).fill(NaN), 'float32'));
        const y = withBackend(be, () => conv2d(T(x), T(w), null, { padding: [c.ph, pw], dilation: [c.dh, c.dw] }));
        const ref = naiveConv2d(x, w, null, [1, 1], [c.ph, pw], [c.dh, c.dw], 1);
        expect(y.shape).toEqual(ref.shape);
        expect(be.bytesReused).toBeGreaterThan(0);
        expectClose(y.data(), ref.values, 1e-5, 1e-5, 'conv2d');
      }),
      { numRuns: 60 },
    );
  });
});

describe('gather, scatterAdd, indexSelect, indexAdd agree with naive loops', () => {
  const caseArb = shapeArb(1, 3, 4).chain((shape) =>
    fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
      dimArb(5).chain((idxLen) => {
        const idxShape = shape.map((d, i) => (i === axis ? idxLen : d));
        return fc.record({
          x: specOf(shape, (n) => valuesArb(n).map(f32)),
          axis: fc.constant(axis),
          idxShape: fc.constant(idxShape),
          idx: fc.array(fc.integer({ min: 0, max: shape[axis]! - 1 }), { minLength: size(idxShape), maxLength: size(idxShape) }),
          list: fc.array(fc.integer({ min: 0, max: shape[axis]! - 1 }), { minLength: idxLen, maxLength: idxLen }),
          src: specOf(idxShape, (n) => valuesArb(n).map(f32)),
        });
      }),
    ),
  );

  it('gather and scatterAdd (per-element indices)', () => {
    fc.assert(
      fc.property(caseArb, ({ x, axis, idxShape, idx, src }) => {
        const g = gather(T(x), axis, I(idx, idxShape));
        expect(g.shape).toEqual(idxShape);
        const expectedG = idx.map((_, f) => {
          const at = unravel(f, idxShape);
          at[axis] = idx[f]!;
          return x.values[ravel(at, x.shape)]!;
        });
        expectClose(g.data(), expectedG, 0, 0, 'gather');

        const s = scatterAdd(T(x), axis, I(idx, idxShape), T(src));
        expect(s.shape).toEqual(x.shape);
        const expectedS = [...x.values];
        idx.forEach((v, f) => {
          const at = unravel(f, idxShape);
          at[axis] = v;
          expectedS[ravel(at, x.shape)]! += src.values[f]!;
        });
        expectClose(s.data(), expectedS, 1e-6, 1e-6, 'scatterAdd');
      }),
      { numRuns: 30 },
    );
  });

  it('indexSelect and indexAdd (one list of indices)', () => {
    fc.assert(
      fc.property(caseArb, ({ x, axis, idxShape, list, src }) => {
        const sel = indexSelect(T(x), axis, I(list));
        expect(sel.shape).toEqual(idxShape);
        const expectedSel = Array.from({ length: size(idxShape) }, (_, f) => {
          const at = unravel(f, idxShape);
          at[axis] = list[at[axis]!]!;
          return x.values[ravel(at, x.shape)]!;
        });
        expectClose(sel.data(), expectedSel, 0, 0, 'indexSelect');

        const added = indexAdd(T(x), axis, I(list), T(src));
        const expectedAdd = [...x.values];
        src.values.forEach((v, f) => {
          const at = unravel(f, idxShape);
          at[axis] = list[at[axis]!]!;
          expectedAdd[ravel(at, x.shape)]! += v;
        });
        expectClose(added.data(), expectedAdd, 1e-6, 1e-6, 'indexAdd');
      }),
      { numRuns: 30 },
    );
  });

  it('oneHot', () => {
    const y = I([2, 0, 1], [3]).oneHot(3);
    expect(y.dtype).toBe('int32');
    expect(y.toArray()).toEqual([[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
    const f = I([1, 0], [2, 1]).oneHot(2, 'float32');
    expect(f.dtype).toBe('float32');
    expect(f.shape).toEqual([2, 1, 2]);
    expect(f.toArray()).toEqual([[[0, 1]], [[1, 0]]]);
  });
});

describe('NaN semantics (as in PyTorch)', () => {
  it('maximum / minimum / max / min propagate NaN; argmax points at it; topk ranks it first when largest', () => {
    const a = T({ shape: [3], values: [1, NaN, 3] }), b = T({ shape: [3], values: [NaN, 2, 0] });
    for (const y of [maximum(a, b), minimum(a, b), maximum(b, a), minimum(b, a)]) {
      expect(Array.from(y.data()).map(Number.isNaN)).toEqual([true, true, false]);
    }
    expect(Number.isNaN(max(a).item())).toBe(true);
    expect(Number.isNaN(min(a).item())).toBe(true);
    expect(argmax(a).item()).toBe(1);
    expect(argmin(a).item()).toBe(1);
    const { values, indices } = topk(a, 2);
    expect(Number.isNaN(values.data()[0]!)).toBe(true);
    expect(Array.from(indices.data())).toEqual([1, 2]);
  });
});
