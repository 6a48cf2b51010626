/**
 * The elementwise ops against their one definition (src/elementwise.ts).
 *
 * - The rules at the edges, written out: NaN, ±Inf and ±0 through every op, as PyTorch gives them
 *   (or as its fix for an acknowledged bug will: sign(NaN), gelu(−Inf)), through the public ops.
 * - Properties: the CPU backend gives `reference(op, dtype, …)` bit for bit on arbitrary doubles
 *   (fast-check's, which include NaN, ±Inf, ±0 and subnormals, mixed with SPECIAL_VALUES), in
 *   float64, float32 (inputs and results rounded with Math.fround) and int32, broadcasting included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BINARY_OPS,
  CpuBackend,
  SPECIAL_VALUES,
  UNARY_OPS,
  agrees,
  clamp,
  reference,
  tensor,
  type BinaryOp,
  type DType,
  type HostArray,
  type Tensor,
  type UnaryOp,
} from '../src/index.js';
import { broadcastShapesArb, ravel, size, unravel } from './helpers.js';
import { expf32 } from '../src/elementwise.js';

const inf = Infinity;
const same = (a: number, b: number) => Object.is(a, b);
const fmt = (v: number) => (Object.is(v, -0) ? '-0' : String(v));

describe('edge rules (PyTorch, NaN and ±Inf included)', () => {
  // [input, expected]: through the public op on a float32 tensor.
  const UNARY_EDGES: Record<UnaryOp, Array<[number, number]>> = {
    neg: [[NaN, NaN], [inf, -inf], [0, -0]],
    exp: [[-inf, 0], [inf, inf], [NaN, NaN], [100, inf]],
    log: [[0, -inf], [-0, -inf], [-1, NaN], [inf, inf], [NaN, NaN]],
    sqrt: [[-1, NaN], [inf, inf], [-0, -0], [-inf, NaN]],
    abs: [[NaN, NaN], [-inf, inf], [-0, 0]],
    sign: [[NaN, NaN], [-inf, -1], [inf, 1], [0, 0], [-0, 0], [-1e-30, -1]],
    relu: [[NaN, NaN], [inf, inf], [-inf, 0], [-0, 0], [-1e-30, 0]],
    sigmoid: [[inf, 1], [-inf, 0], [NaN, NaN], [-100, 3.720076e-44]],
    tanh: [[inf, 1], [-inf, -1], [NaN, NaN], [100, 1]],
    erf: [[inf, 1], [-inf, -1], [NaN, NaN], [0, 0]],
    gelu: [[inf, inf], [-inf, 0], [NaN, NaN], [-100, -0]],
    sin: [[inf, NaN], [-inf, NaN], [NaN, NaN]],
    cos: [[inf, NaN], [NaN, NaN], [0, 1]],
    square: [[-inf, inf], [NaN, NaN], [1e30, inf]],
    reciprocal: [[0, inf], [-0, -inf], [inf, 0], [-inf, -0], [NaN, NaN]],
    floor: [[-inf, -inf], [NaN, NaN], [-0.5, -1]],
    isFinite: [[NaN, 0], [inf, 0], [-inf, 0], [1e30, 1], [0, 1]],
  };
  const BINARY_EDGES: Record<BinaryOp, Array<[number, number, number]>> = {
    add: [[inf, -inf, NaN], [inf, 1, inf], [NaN, 1, NaN]],
    sub: [[inf, inf, NaN], [-inf, inf, -inf]],
    mul: [[0, inf, NaN], [-1, inf, -inf], [1e30, 1e30, inf]],
    div: [[1, 0, inf], [-1, 0, -inf], [1, -0, -inf], [0, 0, NaN], [inf, inf, NaN], [1, inf, 0]],
    // C's pow (torch.pow): pow(1, y) = 1 for every y, pow(−1, ±Inf) = 1, pow(x, 0) = 1 for every x.
    pow: [
      [1, NaN, 1], [1, inf, 1], [1, -inf, 1], [-1, inf, 1], [-1, -inf, 1], [-1, NaN, NaN], [NaN, 0, 1], [NaN, -0, 1],
      [NaN, 1, NaN], [0, -1, inf], [-0, -1, -inf], [-2, 0.5, NaN], [-2, 3, -8], [2, inf, inf], [0.5, inf, 0], [-inf, 3, -inf], [-inf, 0.5, inf],
    ],
    maximum: [[NaN, 1, NaN], [1, NaN, NaN], [-inf, 1, 1], [inf, NaN, NaN]],
    minimum: [[NaN, 1, NaN], [1, NaN, NaN], [inf, 1, 1], [-inf, NaN, NaN]],
    eq: [[NaN, NaN, 0], [inf, inf, 1], [0, -0, 1]],
    ne: [[NaN, NaN, 1], [NaN, 1, 1], [inf, inf, 0]],
    lt: [[NaN, 1, 0], [1, NaN, 0], [-inf, inf, 1]],
    le: [[NaN, NaN, 0], [inf, inf, 1]],
    gt: [[NaN, 1, 0], [inf, -inf, 1]],
    ge: [[NaN, NaN, 0], [-inf, -inf, 1]],
  };

  for (const [op, cases] of Object.entries(UNARY_EDGES) as Array<[UnaryOp, Array<[number, number]>]>) {
    it(op, () => {
      const x = tensor(cases.map(([v]) => v));
      const got = Array.from((x as unknown as Record<UnaryOp, () => Tensor>)[op]().data());
      cases.forEach(([v, want], i) => expect(same(got[i]!, want) || (want !== 0 && agrees(got[i]!, want, 1e-6)), `${op}(${fmt(v)}) = ${fmt(got[i]!)}, want ${fmt(want)}`).toBe(true));
    });
  }
  for (const [op, cases] of Object.entries(BINARY_EDGES) as Array<[BinaryOp, Array<[number, number, number]>]>) {
    it(op, () => {
      const x = tensor(cases.map(([a]) => a)), y = tensor(cases.map(([, b]) => b));
      const got = Array.from((x as unknown as Record<BinaryOp, (y: Tensor) => Tensor>)[op](y).data());
      cases.forEach(([a, b, want], i) => expect(same(got[i]!, want), `${op}(${fmt(a)}, ${fmt(b)}) = ${fmt(got[i]!)}, want ${fmt(want)}`).toBe(true));
    });
  }
  it('clamp propagates NaN and saturates ±Inf', () => {
    expect(Array.from(clamp(tensor([NaN, inf, -inf, 0.5]), 0, 1).data())).toEqual([NaN, 1, 0, 0.5]);
  });
});

/** Doubles of every kind: fast-check's (NaN, ±Inf, ±0, subnormals, extremes), the special values, small integers. */
const anyDouble = fc.oneof(fc.double(), fc.constantFrom(...SPECIAL_VALUES), fc.integer({ min: -4, max: 4 }));
const anyInt32 = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -3, max: 3 }), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 65536, 46341));

/** dtype as the reference sees it, and the CPU backend that stores it. */
const SETUPS: Array<{ name: string; dtype: DType; ref: DType | 'float64'; backend: CpuBackend }> = [
  { name: 'float64', dtype: 'float32', ref: 'float64', backend: new CpuBackend({ precision: 'float64', threads: 1 }) },
  { name: 'float32', dtype: 'float32', ref: 'float32', backend: new CpuBackend({ threads: 1 }) },
  { name: 'int32', dtype: 'int32', ref: 'int32', backend: new CpuBackend({ threads: 1 }) },
];
/** The ops the engine runs on int32 tensors (the others require floats). */
const INT32_UNARY = new Set<UnaryOp>(['neg', 'abs', 'sign', 'square', 'floor', 'isFinite']);
const INT32_BINARY = new Set<BinaryOp>(['add', 'sub', 'mul', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge']);

function mismatch(got: HostArray, want: number[], what: (i: number) => string): string | null {
  for (let i = 0; i < want.length; i++) if (!same(got[i]!, want[i]!)) return `${what(i)} = ${fmt(got[i]!)}, want ${fmt(want[i]!)}`;
  return null;
}

describe('the CPU backend agrees with the definitions, bit for bit, on arbitrary values', () => {
  for (const { name, dtype, ref, backend: b } of SETUPS) {
    const values = dtype === 'int32' ? anyInt32 : anyDouble;
    describe(name, () => {
      for (const op of Object.keys(UNARY_OPS) as UnaryOp[]) {
        if (dtype === 'int32' && !INT32_UNARY.has(op)) continue;
        it(`unary ${op}`, () => {
          fc.assert(
            fc.property(fc.array(values, { maxLength: 40 }), (xs) => {
              const outDtype = op === 'isFinite' ? 'int32' : dtype;
              const got = b.read(b.unary(op, b.fromArray(xs, dtype), xs.length, dtype), xs.length, outDtype);
              const err = mismatch(got, xs.map((x) => reference(op, ref, x)), (i) => `${op}(${fmt(xs[i]!)})`);
              expect(err, err ?? '').toBeNull();
            }),
          );
        });
      }
      for (const op of Object.keys(BINARY_OPS) as BinaryOp[]) {
        if (dtype === 'int32' && !INT32_BINARY.has(op)) continue;
        it(`binary ${op} (broadcasting)`, () => {
          const arb = broadcastShapesArb(2, 3, 3).chain(({ out, shapes: [sa, sb] }) =>
            fc.record({
              out: fc.constant(out),
              sa: fc.constant(sa!),
              sb: fc.constant(sb!),
              a: fc.array(values, { minLength: size(sa!), maxLength: size(sa!) }),
              bv: fc.array(values, { minLength: size(sb!), maxLength: size(sb!) }),
            }),
          );
          fc.assert(
            fc.property(arb, ({ out, sa, sb, a, bv }) => {
              const outDtype = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op) ? 'int32' : dtype;
              const got = b.read(b.binary(op, b.fromArray(a, dtype), sa, b.fromArray(bv, dtype), sb, out, dtype), size(out), outDtype);
              const at = (vs: number[], s: number[], idx: number[]) => vs[ravel(s.map((d, i) => (d === 1 ? 0 : idx[idx.length - s.length + i]!)), s)]!;
              const args = (f: number): [number, number] => {
                const idx = unravel(f, out);
                return [at(a, sa, idx), at(bv, sb, idx)];
              };
              const want = Array.from({ length: size(out) }, (_, f) => reference(op, ref, ...args(f)));
              const err = mismatch(got, want, (f) => `${op}(${args(f).map(fmt).join(', ')})`);
              expect(err, err ?? '').toBeNull();
            }),
          );
        });
      }
    });
  }
});

describe('expf32: exp on float32 storage, faster, the same float32 results', () => {
  // expf32 (src/elementwise.ts) claims Math.fround(Math.exp(x)) exactly for every float32 x; the
  // CPU backend runs it for exp on float32 tensors. Checked on its whole active range densely,
  // on random bit patterns (every exponent), and at the edges of the range.
  const f32 = new Float32Array(1);
  const bits = new Uint32Array(f32.buffer);
  const want = (x: number) => Math.fround(Math.exp(x));

  it('a dense sweep of (−104, 89) and the float32 neighbours of the range ends', () => {
    let checked = 0;
    for (let x = -105; x < 90; x += 0.000377) {
      const v = Math.fround(x);
      if (!same(expf32(v), want(v))) expect.fail(`expf32(${v}) = ${expf32(v)}, want ${want(v)}`);
      checked++;
    }
    // The overflow and subnormal thresholds: 200 float32 steps either side of each.
    for (const edge of [88.72283935546875, -87.33654022216797, -103.27892303466797, 89, -104]) {
      f32[0] = edge;
      const base = bits[0]!;
      for (let d = -200; d <= 200; d++) {
        bits[0] = base + d;
        const v = f32[0]!;
        if (!same(expf32(v), want(v))) expect.fail(`expf32(${v}) = ${expf32(v)}, want ${want(v)}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500_000);
  });

  it('random float32 bit patterns (NaN, ±Inf, ±0 and subnormals among them) and the special values', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: 1000, maxLength: 1000 }), (patterns) => {
        for (const p of patterns) {
          bits[0] = p;
          const v = f32[0]!;
          if (!same(expf32(v), want(v))) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
    for (const v of SPECIAL_VALUES) expect(same(expf32(Math.fround(v)), want(Math.fround(v))), `expf32(${v})`).toBe(true);
  });

  it('the CPU backend runs it on float32 storage only, with exp\'s results', () => {
    const x = Float32Array.from({ length: 5000 }, (_, i) => (i - 2500) * 0.0371);
    const cpu32 = new CpuBackend({ threads: 1 }), cpu64 = new CpuBackend({ threads: 1, precision: 'float64' });
    const y32 = cpu32.unary('exp', cpu32.fromArray(x, 'float32'), x.length, 'float32') as Float32Array;
    expect(y32.every((v, i) => same(v, want(x[i]!)))).toBe(true);
    const y64 = cpu64.unary('exp', cpu64.fromArray(x, 'float32'), x.length, 'float32') as Float64Array;
    expect(y64.every((v, i) => same(v, Math.exp(x[i]!)))).toBe(true);
  });
});
