/**
 * FiniteScalarQuantizer (Mentzer et al., 2023) against a float64 re-computation of its definition:
 *
 *   bound(h)_i = tanh(h_i + s_i)·a_i − o_i,  a_i = (L_i − 1)(1 + 10⁻³)/2,  o_i = ½ (L_i even) or 0,
 *                s_i = atanh(o_i / a_i);      ĥ_i = round(bound(h)_i) / ⌊L_i/2⌋ (straight-through)
 *   index = Σ_i (round(bound(h)_i) + ⌊L_i/2⌋) · ∏_{j<i} L_j
 *
 * and the level table fsqLevels(M). Every check here would catch a wrong scale, offset, shift,
 * rounding, radix order or gradient.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, ShapeError, gradCheck, tensor, type Tensor } from '@simplex-vq/tensor';
import { FiniteScalarQuantizer, fsqLevels } from '../src/index.js';
import { expectClose, flat, gridValue, randT, rowsOf } from './helpers.js';

// --- float64 reference ---------------------------------------------------------------------------

/** The constants of one level count L, in float64. */
function level64(L: number) {
  const a = ((L - 1) * (1 + 1e-3)) / 2;
  const o = L % 2 === 0 ? 0.5 : 0;
  return { a, o, s: Math.atanh(o / a), half: Math.floor(L / 2) };
}
const bound64 = (h: number, L: number) => {
  const { a, o, s } = level64(L);
  return Math.tanh(h + s) * a - o;
};
/** d bound / dh = (1 − tanh²(h + s))·a. */
const boundGrad64 = (h: number, L: number) => {
  const { a, s } = level64(L);
  return (1 - Math.tanh(h + s) ** 2) * a;
};
/** Mixed radix, first level fastest: Σ (r_i + ⌊L_i/2⌋) ∏_{j<i} L_j. */
function index64(r: readonly number[], levels: readonly number[]): number {
  let idx = 0, radix = 1;
  levels.forEach((L, i) => {
    idx += (r[i]! + Math.floor(L / 2)) * radix;
    radix *= L;
  });
  return idx;
}
const product = (levels: readonly number[]) => levels.reduce((a, b) => a * b, 1);

/** A tensor [rows.length, cols] from nested rows (float32). */
const mat = (rows: readonly (readonly number[])[]) => tensor(Float32Array.from(rows.flat()), { shape: [rows.length, rows[0]!.length] });

// --- arbitraries -----------------------------------------------------------------------------------

/** Levels (1–4 channels, 2–8 levels each), groups, and rows of channel values (many past saturation). */
const fsqCaseArb = fc
  .record({
    levels: fc.array(fc.integer({ min: 2, max: 8 }), { minLength: 1, maxLength: 4 }),
    groups: fc.integer({ min: 1, max: 2 }),
    n: fc.integer({ min: 1, max: 8 }),
    seed: fc.nat(10_000),
  })
  .chain((o) =>
    fc
      .array(fc.array(fc.oneof(gridValue(-4, 4), fc.constantFrom(0, -30, 30)), { minLength: o.levels.length * o.groups, maxLength: o.levels.length * o.groups }), {
        minLength: o.n,
        maxLength: o.n,
      })
      .map((z) => ({ ...o, z })),
  );

const plain = (levels: readonly number[], groups = 1, seed = 0) =>
  new FiniteScalarQuantizer({ dim: levels.length * groups, levels, groups, project: false, generator: new Generator(seed) });

describe('FiniteScalarQuantizer: the bound', () => {
  it('bound(h) is tanh(h + s)·a − o in float64, and bound(0) = 0', () => {
    fc.assert(
      fc.property(fsqCaseArb, ({ levels, z }) => {
        const q = plain(levels);
        const h = z.map((r) => r.slice(0, levels.length));
        const b = q.bound(mat(h).unsqueeze(0));
        expect(b.shape).toEqual([1, h.length, levels.length]);
        expectClose(flat(b), h.flatMap((r) => r.map((v, i) => bound64(v, levels[i]!))), 2e-6, 1e-6, 'bound');
        expectClose(flat(q.bound(mat([levels.map(() => 0)]))), levels.map(() => 0), 1e-6, 0, 'bound(0)');
      }),
      { numRuns: 60 },
    );
  });

  it('its gradient against central differences (gradCheck, float64)', () => {
    fc.assert(
      fc.property(fsqCaseArb, ({ levels, z }) => {
        const q = plain(levels);
        const h = mat(z.map((r) => r.slice(0, levels.length)).map((r) => r.map((v) => Math.max(-4, Math.min(4, v)))));
        const r = gradCheck((t: Tensor) => q.bound(t), [h], { atol: 1e-6, rtol: 1e-5 });
        expect(r.ok, r.message).toBe(true);
      }),
      { numRuns: 20 },
    );
  });
});

describe('FiniteScalarQuantizer: codes and indices', () => {
  it('outputs lie on the grid, within half a step of bound(h)/⌊L/2⌋; indices are the mixed-radix codes in [0, ∏L)', () => {
    fc.assert(
      fc.property(fsqCaseArb, fc.boolean(), ({ levels, groups, z }, training) => {
        const q = plain(levels, groups);
        if (!training) q.eval();
        const n = levels.length;
        const out = q.forward(mat(z));
        expect(out.quantized.shape).toEqual([z.length, n * groups]);
        expect(out.indices.shape).toEqual(groups === 1 ? [z.length] : [z.length, groups]);
        expect(out.indices.dtype).toBe('int32');
        expect(out.loss.item()).toBe(0);
        const qv = rowsOf(out.quantized);
        const idx = flat(out.indices);
        z.forEach((row, r) => {
          for (let g = 0; g < groups; g++) {
            const levelsHere: number[] = [];
            levels.forEach((L, i) => {
              const c = g * n + i, half = Math.floor(L / 2);
              const v = qv[r]![c]!;
              const level = v * half;
              // On the grid: an integer level in [−⌊L/2⌋, L − 1 − ⌊L/2⌋] …
              expect(Math.abs(level - Math.round(level)), `channel ${c}: ${v}·${half} is not an integer`).toBeLessThan(1e-5);
              expect(Math.round(level)).toBeGreaterThanOrEqual(-half);
              expect(Math.round(level)).toBeLessThanOrEqual(L - 1 - half);
              // … and the rounding of bound(h): within half a step (float32 slack).
              expect(Math.abs(level - bound64(row[c]!, L)), `channel ${c} of row ${r}`).toBeLessThanOrEqual(0.5 + 2e-6);
              levelsHere.push(Math.round(level));
            });
            const i = idx[r * groups + g]!;
            expect(i).toBe(index64(levelsHere, levels));
            expect(i).toBeGreaterThanOrEqual(0);
            expect(i).toBeLessThan(product(levels));
          }
        });
      }),
      { numRuns: 80 },
    );
  });

  it('indicesToCodes and codesToIndices are inverse bijections over the whole grid (first level fastest)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 2, max: 8 }), { minLength: 1, maxLength: 4 }), (levels) => {
        const q = plain(levels);
        const M = product(levels);
        expect(q.codebookSize).toBe(M);
        const all = tensor(Int32Array.from({ length: M }, (_, i) => i), { shape: [1, M] });
        const codes = q.indicesToCodes(all);
        expect(codes.shape).toEqual([1, M, levels.length]);
        const rows = rowsOf(codes.reshape([M, levels.length]));
        // Each index decodes to its mixed-radix digits, normalized: (digit − ⌊L/2⌋) / ⌊L/2⌋.
        rows.forEach((row, i) => {
          let rest = i;
          const expected = levels.map((L) => {
            const digit = rest % L;
            rest = Math.floor(rest / L);
            return (digit - Math.floor(L / 2)) / Math.floor(L / 2);
          });
          expectClose(row, expected, 1e-7, 1e-6, `code of index ${i}`);
        });
        expect(new Set(rows.map((r) => r.join(','))).size).toBe(M);
        expect(flat(q.codesToIndices(codes))).toEqual(flat(all));
      }),
      { numRuns: 40 },
    );
  });

  it('every grid point is reachable: the preimage of each code under bound maps to its index', () => {
    for (const levels of [[8, 5, 3], [2, 2, 2], [7, 6], [4], [8, 6, 5]]) {
      const q = plain(levels);
      const M = product(levels);
      // h_i = atanh((r_i + o_i)/a_i) − s_i, so bound(h)_i = r_i exactly (in float64).
      const z = Array.from({ length: M }, (_, i) => {
        let rest = i;
        return levels.map((L) => {
          const r = (rest % L) - Math.floor(L / 2);
          rest = Math.floor(rest / L);
          const { a, o, s } = level64(L);
          return Math.atanh((r + o) / a) - s;
        });
      });
      q.eval();
      expect(flat(q.forward(mat(z)).indices), `levels [${levels}]`).toEqual(Array.from({ length: M }, (_, i) => i));
    }
  });

  it('effectiveCodebook rows are exactly the eval outputs at their indices (with and without projection)', () => {
    fc.assert(
      fc.property(fsqCaseArb, fc.boolean(), ({ levels, groups, n, seed }, project) => {
        const d = project ? 3 : levels.length;
        const q = new FiniteScalarQuantizer({ dim: d * groups, levels, groups, project, generator: new Generator(seed) });
        q.eval();
        const z = randT([n, d * groups], seed + 1, 2);
        const out = q.forward(z);
        const book = q.effectiveCodebook().toArray() as number[][][];
        expect([book.length, book[0]!.length, book[0]![0]!.length]).toEqual([groups, product(levels), d]);
        const idx = flat(out.indices);
        const qv = rowsOf(out.quantized);
        for (let r = 0; r < n; r++) {
          for (let g = 0; g < groups; g++) expectClose(qv[r]!.slice(g * d, (g + 1) * d), book[g]![idx[r * groups + g]!]!, 1e-5, 1e-5, `row ${r} group ${g}`);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('FiniteScalarQuantizer: straight-through gradient', () => {
  it('without projection: dL/dz = upstream · tanh′(h + s)·a / ⌊L/2⌋ (round passes the gradient unchanged)', () => {
    fc.assert(
      fc.property(fsqCaseArb, ({ levels, groups, z, seed }) => {
        const q = plain(levels, groups);
        const n = levels.length;
        const zt = mat(z).requiresGrad_();
        const up = randT([z.length, n * groups], seed + 7);
        q.forward(zt).quantized.mul(up).sum().backward();
        const u = rowsOf(up);
        const expected = z.flatMap((row, r) => row.map((v, c) => {
          const L = levels[c % n]!;
          return (u[r]![c]! * boundGrad64(v, L)) / Math.floor(L / 2);
        }));
        expectClose(flat(zt.grad!), expected, 1e-6, 1e-4, 'dz');
      }),
      { numRuns: 40 },
    );
  });

  it('with projection: q = ĥ W_out + b_out, h = z W_in + b_in, and the gradient flows through both maps', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 2, max: 8 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 4 }), fc.nat(10_000), (levels, d, seed) => {
        const q = new FiniteScalarQuantizer({ dim: d, levels, project: true, generator: new Generator(seed) });
        const Win = (q.projectIn!.weight.toArray() as number[][][])[0]!, bin = flat(q.projectIn!.bias);
        const Wout = (q.projectOut!.weight.toArray() as number[][][])[0]!, bout = flat(q.projectOut!.bias);
        const z = randT([5, d], seed + 1, 2).requiresGrad_();
        const up = randT([5, d], seed + 2);
        const out = q.forward(z);
        out.quantized.mul(up).sum().backward();
        const zr = rowsOf(z), ur = rowsOf(up);
        const expectedQ: number[] = [], expectedDz: number[] = [];
        zr.forEach((row, r) => {
          const h = levels.map((_, j) => row.reduce((s, v, i) => s + v * Win[i]![j]!, bin[j]!));
          const code = h.map((v, j) => Math.floor(bound64(v, levels[j]!) + 0.5) / Math.floor(levels[j]! / 2));
          for (let k = 0; k < d; k++) expectedQ.push(code.reduce((s, v, j) => s + v * Wout[j]![k]!, bout[k]!));
          // dL/dĥ_j = Σ_k up_k W_out[j][k];  dĥ_j/dh_j = bound′(h_j)/⌊L_j/2⌋;  dh_j/dz_i = W_in[i][j].
          const dh = levels.map((L, j) => (ur[r]!.reduce((s, v, k) => s + v * Wout[j]![k]!, 0) * boundGrad64(h[j]!, L)) / Math.floor(L / 2));
          for (let i = 0; i < d; i++) expectedDz.push(dh.reduce((s, v, j) => s + v * Win[i]![j]!, 0));
        });
        expectClose(flat(out.quantized), expectedQ, 1e-5, 1e-4, 'q');
        expectClose(flat(z.grad!), expectedDz, 1e-5, 1e-4, 'dz');
        expect(q.projectIn!.weight.grad).not.toBeNull();
      }),
      { numRuns: 30 },
    );
  });
});

describe('FiniteScalarQuantizer: options', () => {
  it("project 'auto' projects exactly when the group's channels differ from the number of levels", () => {
    const same = new FiniteScalarQuantizer({ dim: 6, levels: [8, 5, 5], groups: 2, generator: new Generator(0) });
    expect(same.projectIn).toBeNull();
    expect(same.namedParameters()).toEqual([]);
    const diff = new FiniteScalarQuantizer({ dim: 8, levels: [8, 5, 5], groups: 2, generator: new Generator(0) });
    expect(diff.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([
      ['projectIn.weight', [2, 4, 3]],
      ['projectIn.bias', [2, 1, 3]],
      ['projectOut.weight', [2, 3, 4]],
      ['projectOut.bias', [2, 1, 4]],
    ]);
    expect(new FiniteScalarQuantizer({ dim: 3, levels: [8, 5, 5], project: true }).projectIn).not.toBeNull();
  });

  it('default levels: fsqLevels(codebookSize), and fsqLevels(256) when neither is given', () => {
    expect(new FiniteScalarQuantizer({ dim: 4, codebookSize: 1024 }).levels).toEqual([8, 5, 5, 5]);
    const q = new FiniteScalarQuantizer({ dim: 3 });
    expect([q.levels, q.codebookSize]).toEqual([[8, 6, 5], 240]);
  });

  it('groups are independent grids: group g of a row is quantized as that group alone would be', () => {
    fc.assert(
      fc.property(fsqCaseArb, ({ levels, groups, z }) => {
        fc.pre(groups === 2);
        const n = levels.length;
        const both = plain(levels, 2).forward(mat(z));
        const single = plain(levels, 1);
        for (let g = 0; g < 2; g++) {
          const alone = single.forward(mat(z.map((r) => r.slice(g * n, (g + 1) * n))));
          expect(rowsOf(both.indices).map((r) => r[g])).toEqual(flat(alone.indices));
          expect(rowsOf(both.quantized).map((r) => r.slice(g * n, (g + 1) * n))).toEqual(rowsOf(alone.quantized));
        }
      }),
      { numRuns: 30 },
    );
  });

  it('bad options are ShapeErrors naming the problem', () => {
    const bad: Array<[() => unknown, RegExp]> = [
      [() => new FiniteScalarQuantizer({ dim: 2, levels: [] }), /levels must be integers ≥ 2, got \[\]/],
      [() => new FiniteScalarQuantizer({ dim: 2, levels: [8, 1] }), /levels must be integers ≥ 2, got \[8, 1\]/],
      [() => new FiniteScalarQuantizer({ dim: 2, levels: [8, 2.5] }), /levels must be integers ≥ 2/],
      [() => new FiniteScalarQuantizer({ dim: 9, levels: Array(9).fill(8) }), /make 134217728 codes; at most 2\^24/],
      [() => new FiniteScalarQuantizer({ dim: 4, levels: [8, 5, 5], project: false }), /without projection each group's 4 channels must equal the 3 levels/],
      [() => new FiniteScalarQuantizer({ dim: 5, levels: [8, 5, 5], groups: 2 }), /dim = 5 channels cannot be split into 2 groups/],
      [() => fsqLevels(1), /fsqLevels: needs a codebook size ≥ 2, got 1/],
      [() => fsqLevels(100.5), /needs a codebook size ≥ 2, got 100.5/],
    ];
    for (const [make, message] of bad) {
      expect(make).toThrow(ShapeError);
      expect(make).toThrow(message);
    }
    expect(() => plain([8, 5]).forward(randT([2, 3], 0))).toThrow(/expects input \[\.\.\., 2\], got \[2, 3\]/);
  });
});

describe('fsqLevels', () => {
  it("the FSQ paper's recommended levels for 2^8 … 2^16 codes", () => {
    expect(fsqLevels(256)).toEqual([8, 6, 5]);
    expect(fsqLevels(1024)).toEqual([8, 5, 5, 5]);
    expect(fsqLevels(4096)).toEqual([7, 5, 5, 5, 5]);
    expect(fsqLevels(16384)).toEqual([8, 8, 8, 6, 5]);
    expect(fsqLevels(65536)).toEqual([8, 8, 8, 5, 5, 5]);
  });

  it('for every M in [2, 5000]: non-increasing levels in [2, 8] ([5, 8] from M = 25), product within a factor 1.4 of M', () => {
    // The worst case is the gap between 8² = 64 and 5³ = 125 (products of levels in [5, 8]):
    // M ≈ 89 is about √(125/64) ≈ 1.40 from either; below 25 any product of 2…8 is allowed and the
    // worst ratio is 1.09 (M = 11). Measured: max ratio 1.39 (M = 89, levels [8, 8]).
    let worst = 1;
    for (let m = 2; m <= 5000; m++) {
      const levels = fsqLevels(m);
      const lo = m < 25 ? 2 : 5;
      for (let i = 0; i < levels.length; i++) {
        expect(Number.isInteger(levels[i]) && levels[i]! >= lo && levels[i]! <= 8, `M = ${m}: [${levels}]`).toBe(true);
        if (i > 0) expect(levels[i]!, `M = ${m}: [${levels}] increases`).toBeLessThanOrEqual(levels[i - 1]!);
      }
      const ratio = Math.max(product(levels) / m, m / product(levels));
      worst = Math.max(worst, ratio);
      expect(ratio, `M = ${m}: [${levels}] has ${product(levels)} codes`).toBeLessThanOrEqual(1.4);
    }
    expect(worst).toBeGreaterThan(1.3); // the bound above is tight, not vacuous
  });

  it('exact when M is a product of allowed levels: M = 2^k for small k, 6·7, 8^3', () => {
    expect(product(fsqLevels(2))).toBe(2);
    expect(product(fsqLevels(16))).toBe(16);
    expect(fsqLevels(42)).toEqual([7, 6]);
    expect(fsqLevels(512)).toEqual([8, 8, 8]);
  });
});
