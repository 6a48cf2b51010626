/**
 * Reductions and topk at NaN and ±Inf, against PyTorch and against the rules' one statement
 * (src/elementwise.ts: referenceReduce, referenceTopk).
 *
 * - A table through the public ops: max/min/argmax/argmin along an axis (the last, and the first
 *   of the transpose, so the strided loop runs too), topk in both directions, several NaNs, an
 *   all-NaN row, k = cols. Values and indices are torch 1.13's (max/min: torch.max(x, dim);
 *   topk: torch.topk's values, which are also torch.sort(stable=True)'s, with the indices of the
 *   stable sort: torch.topk returns equal values in an unspecified order).
 * - Properties: on arrays with NaN, ±Inf, ±0 and repeated values injected, the ops give what the
 *   reference functions give, exactly, in float32, float64 and int32.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CpuBackend,
  RANKS_BEFORE,
  argmax,
  argmin,
  max,
  min,
  referenceReduce,
  referenceTopk,
  tensor,
  topk,
  withBackend,
  type DType,
  type Tensor,
} from '../src/index.js';

const inf = Infinity;
const fmt = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
/** Equal as the rules mean it: NaN matches NaN, +0 matches −0 (backends are not held to the sign of zero). */
const same = (a: number, b: number) => (a !== a && b !== b) || a === b;
const rows = (t: Tensor) => t.toArray() as number[][];

function expectRows(got: number[][], want: number[][], what: string): void {
  expect(got.length, what).toBe(want.length);
  got.forEach((row, r) => {
    const ok = row.length === want[r]!.length && row.every((v, i) => same(v, want[r]![i]!));
    expect(ok, `${what}, row ${r}: [${row.map(fmt).join(', ')}], want [${want[r]!.map(fmt).join(', ')}]`).toBe(true);
  });
}

describe('reductions and topk at NaN and ±Inf (as PyTorch)', () => {
  // Row 0 is the example with two more entries; row 3 is all NaN.
  const M = [
    [1, NaN, 3, -inf, 0, 5],
    [NaN, NaN, 2, NaN, -1, 5],
    [-inf, inf, 0, -0, inf, -2],
    [NaN, NaN, NaN, NaN, NaN, NaN],
    [2, 2, -inf, -inf, -inf, 5],
    [0.5, -0, 0, 1, -1, 0.5],
  ];
  const m = tensor(M);
  const mT = m.transpose(0, 1); // the same rows down the columns: reduced along axis 0, inner = 6
  const col = (v: number[]) => v.map((x) => [x]);

  // torch.max(m, 1) / torch.min(m, 1): the first NaN wins; otherwise the first extreme.
  const MAX = { values: [NaN, NaN, inf, NaN, 5, 1], indices: [1, 0, 1, 0, 5, 3] };
  const MIN = { values: [NaN, NaN, -inf, NaN, -inf, -1], indices: [1, 0, 0, 0, 2, 4] };

  it('max, min, argmax, argmin along the last axis', () => {
    expectRows(col(Array.from(max(m, 1).data())), col(MAX.values), 'max');
    expectRows(col(Array.from(min(m, 1).data())), col(MIN.values), 'min');
    expect(Array.from(argmax(m, 1).data())).toEqual(MAX.indices);
    expect(Array.from(argmin(m, 1).data())).toEqual(MIN.indices);
  });

  it('the same along the first axis (a strided reduction) and with keepdim', () => {
    expectRows(col(Array.from(max(mT, 0).data())), col(MAX.values), 'max along 0');
    expectRows(col(Array.from(min(mT, 0).data())), col(MIN.values), 'min along 0');
    expect(Array.from(argmax(mT, 0).data())).toEqual(MAX.indices);
    expect(Array.from(argmin(mT, 0).data())).toEqual(MIN.indices);
    expect(max(mT, 0, true).shape).toEqual([1, 6]);
  });

  it('over the whole tensor: the first NaN, flattened (torch: max(x) = NaN, argmax(x) = 1)', () => {
    expect(max(m).item()).toBeNaN();
    expect(min(m).item()).toBeNaN();
    expect(argmax(m).item()).toBe(1);
    expect(argmin(m).item()).toBe(1);
    // The example.
    const x = tensor([1, NaN, 3, -inf]);
    expect([max(x).item(), argmax(x).item(), min(x).item(), argmin(x).item()]).toEqual([NaN, 1, NaN, 1]);
    // Without NaN, ±Inf are ordinary extremes; ties go to the first.
    const y = tensor([inf, inf, -inf, -inf, 0]);
    expect([max(y).item(), argmax(y).item(), min(y).item(), argmin(y).item()]).toEqual([inf, 0, -inf, 2]);
  });

  it('int32: ties go to the first', () => {
    const x = tensor(Int32Array.from([3, -2, 3, -2]), { shape: [4] });
    expect([max(x).item(), argmax(x).item(), min(x).item(), argmin(x).item()]).toEqual([3, 0, -2, 1]);
  });

  // topk: NaN counts as larger than +Inf (first for largest, last for smallest); equal values in index order.
  const TOPK: Array<{ k: number; largest: boolean; values: number[][]; indices: number[][] }> = [
    { k: 1, largest: true, values: [[NaN], [NaN], [inf], [NaN], [5], [1]], indices: [[1], [0], [1], [0], [5], [3]] },
    { k: 1, largest: false, values: [[-inf], [-1], [-inf], [NaN], [-inf], [-1]], indices: [[3], [4], [0], [0], [2], [4]] },
    {
      k: 3, largest: true,
      values: [[NaN, 5, 3], [NaN, NaN, NaN], [inf, inf, 0], [NaN, NaN, NaN], [5, 2, 2], [1, 0.5, 0.5]],
      indices: [[1, 5, 2], [0, 1, 3], [1, 4, 2], [0, 1, 2], [5, 0, 1], [3, 0, 5]],
    },
    {
      k: 3, largest: false,
      values: [[-inf, 0, 1], [-1, 2, 5], [-inf, -2, 0], [NaN, NaN, NaN], [-inf, -inf, -inf], [-1, -0, 0]],
      indices: [[3, 4, 0], [4, 2, 5], [0, 5, 2], [0, 1, 2], [2, 3, 4], [4, 1, 2]],
    },
    {
      k: 6, largest: true,
      values: [[NaN, 5, 3, 1, 0, -inf], [NaN, NaN, NaN, 5, 2, -1], [inf, inf, 0, -0, -2, -inf], [NaN, NaN, NaN, NaN, NaN, NaN], [5, 2, 2, -inf, -inf, -inf], [1, 0.5, 0.5, -0, 0, -1]],
      indices: [[1, 5, 2, 0, 4, 3], [0, 1, 3, 5, 2, 4], [1, 4, 2, 3, 5, 0], [0, 1, 2, 3, 4, 5], [5, 0, 1, 2, 3, 4], [3, 0, 5, 1, 2, 4]],
    },
    {
      k: 6, largest: false,
      values: [[-inf, 0, 1, 3, 5, NaN], [-1, 2, 5, NaN, NaN, NaN], [-inf, -2, 0, -0, inf, inf], [NaN, NaN, NaN, NaN, NaN, NaN], [-inf, -inf, -inf, 2, 2, 5], [-1, -0, 0, 0.5, 0.5, 1]],
      indices: [[3, 4, 0, 2, 5, 1], [4, 2, 5, 0, 1, 3], [0, 5, 2, 3, 1, 4], [0, 1, 2, 3, 4, 5], [2, 3, 4, 0, 1, 5], [4, 1, 2, 0, 5, 3]],
    },
  ];
  for (const { k, largest, values, indices } of TOPK) {
    it(`topk k=${k} largest=${largest}, along the last axis and along the first of the transpose`, () => {
      const r = topk(m, k, 1, largest);
      expectRows(rows(r.values), values, 'values');
      expect(rows(r.indices)).toEqual(indices);
      const t = topk(mT, k, 0, largest);
      expectRows(rows(t.values.transpose(0, 1)), values, 'values along 0');
      expect(rows(t.indices.transpose(0, 1))).toEqual(indices);
    });
  }

  it("the issue's example: topk([1, NaN, 3, −Inf], 2) = [NaN, 3] at [1, 2]; smallest: [−Inf, 1] at [3, 0]", () => {
    const x = tensor([1, NaN, 3, -inf]);
    const hi = topk(x, 2), lo = topk(x, 2, -1, false);
    expectRows([Array.from(hi.values.data())], [[NaN, 3]], 'largest');
    expect(Array.from(hi.indices.data())).toEqual([1, 2]);
    expectRows([Array.from(lo.values.data())], [[-inf, 1]], 'smallest');
    expect(Array.from(lo.indices.data())).toEqual([3, 0]);
  });

  it('topk with k > 32 (the sorting path): NaN last for smallest, first for largest, in index order', () => {
    const v = Array.from({ length: 40 }, (_, i) => (i % 7 === 3 ? NaN : (i * 37) % 11 - 5));
    const x = tensor(v);
    for (const largest of [true, false]) {
      const want = referenceTopk(v, 36, largest);
      const r = topk(x, 36, 0, largest);
      expectRows([Array.from(r.values.data())], [want.values], `largest=${largest}`);
      expect(Array.from(r.indices.data())).toEqual(want.indices);
      // Six NaNs (at 3, 10, …, 38): the first six for largest; for smallest they rank last, so the
      // top 36 of 40 end with the first two of them.
      const nanAt = want.values.flatMap((w, i) => (w !== w ? [i] : []));
      if (largest) expect([nanAt, want.indices.slice(0, 6)]).toEqual([[0, 1, 2, 3, 4, 5], [3, 10, 17, 24, 31, 38]]);
      else expect([nanAt, want.indices.slice(34)]).toEqual([[34, 35], [3, 10]]);
    }
  });

  it('gradients at NaN follow from the ops: max over a NaN row is NaN along it (torch.amax); topk feeds the selected NaN', () => {
    const x = tensor([[1, NaN, 3], [1, 4, 4]], { requiresGrad: true });
    max(x, 1).sum().backward();
    expectRows(rows(x.grad!), [[NaN, NaN, NaN], [0, 0.5, 0.5]], 'max');
    const y = tensor([1, NaN, 3, -inf], { requiresGrad: true });
    topk(y, 2).values.sum().backward();
    expect(Array.from(y.grad!.data())).toEqual([0, 1, 1, 0]);
  });
});

describe('the reference functions', () => {
  it('state the rules: RANKS_BEFORE puts NaN above +Inf; referenceReduce lets the first NaN win', () => {
    expect(RANKS_BEFORE.largest(NaN, inf)).toBe(true);
    expect(RANKS_BEFORE.largest(inf, NaN)).toBe(false);
    expect(RANKS_BEFORE.smallest(inf, NaN)).toBe(true);
    expect(RANKS_BEFORE.smallest(NaN, -inf)).toBe(false);
    expect(RANKS_BEFORE.largest(NaN, NaN) || RANKS_BEFORE.smallest(NaN, NaN)).toBe(false);
    expect(RANKS_BEFORE.largest(0, -0) || RANKS_BEFORE.largest(-0, 0)).toBe(false);
    const x = [1, NaN, 3, -inf, NaN];
    expect(['max', 'argmax', 'min', 'argmin'].map((op) => referenceReduce(op as 'max', x))).toEqual([NaN, 1, NaN, 1]);
    expect(referenceTopk(x, 3)).toEqual({ values: [NaN, NaN, 3], indices: [1, 4, 2] });
    expect(referenceTopk(x, 5, false)).toEqual({ values: [-inf, 1, 3, NaN, NaN], indices: [3, 0, 2, 1, 4] });
  });
});

/** Values with NaN, ±Inf, ±0 and ties injected among ordinary doubles. */
const floatValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(NaN, inf, -inf, 0, -0) },
  { weight: 3, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 4, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);
const intValue = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));

/** [outer, len, inner] with len up to 40 (topk's sorting path starts past k = 32), values, and a k in [0, len]. */
const caseArb = (value: fc.Arbitrary<number>) =>
  fc
    .record({ outer: fc.integer({ min: 1, max: 3 }), len: fc.integer({ min: 1, max: 40 }), inner: fc.integer({ min: 1, max: 3 }) })
    .chain(({ outer, len, inner }) =>
      fc.record({
        outer: fc.constant(outer),
        len: fc.constant(len),
        inner: fc.constant(inner),
        values: fc.array(value, { minLength: outer * len * inner, maxLength: outer * len * inner }),
        k: fc.integer({ min: 0, max: len }),
        largest: fc.boolean(),
      }),
    );

const SETUPS: Array<{ name: string; dtype: DType; value: fc.Arbitrary<number>; round: (v: number) => number; backend: CpuBackend }> = [
  { name: 'float32', dtype: 'float32', value: floatValue, round: Math.fround, backend: new CpuBackend({ threads: 1 }) },
  { name: 'float64', dtype: 'float32', value: floatValue, round: (v) => v, backend: new CpuBackend({ precision: 'float64', threads: 1 }) },
  { name: 'int32', dtype: 'int32', value: intValue, round: (v) => v | 0, backend: new CpuBackend({ threads: 1 }) },
];

describe('the public ops give the reference, exactly, on arrays with special values injected', () => {
  for (const { name, dtype, value, round, backend } of SETUPS) {
    it(`${name}: max/min/argmax/argmin and topk along the middle axis of [outer, len, inner]`, () => {
      fc.assert(
        fc.property(caseArb(value), ({ outer, len, inner, values, k, largest }) =>
          withBackend(backend, () => {
            const stored = values.map(round);
            const x = tensor(dtype === 'int32' ? Int32Array.from(stored) : stored, { shape: [outer, len, inner] });
            const row = (o: number, i: number) => Array.from({ length: len }, (_, l) => stored[(o * len + l) * inner + i]!);
            // The backend's own storage (data() gives float32 even on the float64 backend).
            const host = (t: Tensor) => t.backend.read(t.handle, t.size, t.dtype);
            const red = { max: host(max(x, 1)), min: host(min(x, 1)), argmax: host(argmax(x, 1)), argmin: host(argmin(x, 1)) };
            const t = topk(x, k, 1, largest);
            const tv = host(t.values), ti = host(t.indices);
            for (let o = 0; o < outer; o++) {
              for (let i = 0; i < inner; i++) {
                const r = row(o, i);
                for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
                  const got = red[op][o * inner + i]!, want = referenceReduce(op, r);
                  expect(same(got, want), `${op}([${r.map(fmt).join(', ')}]) = ${fmt(got)}, want ${fmt(want)}`).toBe(true);
                }
                const want = referenceTopk(r, k, largest);
                for (let q = 0; q < k; q++) {
                  const at = (o * k + q) * inner + i;
                  const what = `topk([${r.map(fmt).join(', ')}], ${k}, largest=${largest})[${q}] = ${fmt(tv[at]!)} at ${ti[at]}, want ${fmt(want.values[q]!)} at ${want.indices[q]}`;
                  expect(ti[at] === want.indices[q] && same(tv[at]!, want.values[q]!), what).toBe(true);
                }
              }
            }
          }),
        ),
        { numRuns: 200 },
      );
    });
  }
});
