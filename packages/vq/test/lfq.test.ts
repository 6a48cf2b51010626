/**
 * LookupFreeQuantizer (MAGVIT-v2's LFQ) against a float64 re-computation of its definition:
 *
 *   q = sign(h) (0 → −1, as `h > 0` decides), straight-through;   index = Σ_i [h_i > 0] · 2^(b−1−i)
 *   p_n = softmax_c(2 h_n·c / τ) over the 2^b codes c ∈ {−1, 1}^b
 *   L = w_e · (mean_n H(p_n) − γ · H(mean_n p_n)) + β · mean ‖h − sg(q)‖²
 *
 * The entropy terms are checked against a brute-force softmax over every code, their bounds
 * (0 ≤ per-sample ≤ codebook ≤ log M: H is concave, so H(mean p) ≥ mean H(p)) as properties, and
 * their gradient against central differences.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, ShapeError, gradCheck, tensor, type Tensor } from '@simplex-vq/tensor';
import { LookupFreeQuantizer, type LookupFreeQuantizerOptions } from '../src/index.js';
import { expectClose, flat, gridValue, randT, rowsOf, softmax64 } from './helpers.js';

// --- float64 reference -----------------------------------------------------------------------------

/** Code c as ±1 bits, most significant first. */
const bitsOf = (c: number, b: number) => Array.from({ length: b }, (_, i) => ((c >> (b - 1 - i)) & 1 ? 1 : -1));
const entropy64 = (p: readonly number[]) => -p.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0);

/** Brute force over all 2^b codes: per-sample and codebook entropies of rows h [G][N][b], averaged over groups. */
function entropies64(h: readonly (readonly (readonly number[])[])[], invT: number) {
  const b = h[0]![0]!.length, M = 2 ** b;
  const codes = Array.from({ length: M }, (_, c) => bitsOf(c, b));
  let perSample = 0, codebook = 0;
  for (const rows of h) {
    const p = rows.map((row) => softmax64(codes.map((c) => 2 * invT * row.reduce((s, v, i) => s + v * c[i]!, 0))));
    perSample += p.reduce((s, pn) => s + entropy64(pn), 0) / rows.length;
    codebook += entropy64(codes.map((_, c) => p.reduce((s, pn) => s + pn[c]!, 0) / rows.length));
  }
  return { perSample: perSample / h.length, codebook: codebook / h.length };
}

/** Rows z [N][G·b] as groups [G][N][b]. */
const byGroup = (z: readonly (readonly number[])[], groups: number) => {
  const b = z[0]!.length / groups;
  return Array.from({ length: groups }, (_, g) => z.map((r) => r.slice(g * b, (g + 1) * b)));
};

const mat = (rows: readonly (readonly number[])[]) => tensor(Float32Array.from(rows.flat()), { shape: [rows.length, rows[0]!.length] });

// --- arbitraries -----------------------------------------------------------------------------------

/** 1–5 bits, 1–2 groups, 1–8 rows of values in [−2, 2] (zeros included), an inverse temperature. */
const lfqCaseArb = fc
  .record({
    bits: fc.integer({ min: 1, max: 5 }),
    groups: fc.integer({ min: 1, max: 2 }),
    n: fc.integer({ min: 1, max: 8 }),
    invT: fc.constantFrom(0.1, 1, 10, 100),
    seed: fc.nat(10_000),
  })
  .chain((o) =>
    fc
      .array(fc.array(fc.oneof({ weight: 5, arbitrary: gridValue(-2, 2) }, { weight: 1, arbitrary: fc.constant(0) }), { minLength: o.bits * o.groups, maxLength: o.bits * o.groups }), {
        minLength: o.n,
        maxLength: o.n,
      })
      .map((z) => ({ ...o, z })),
  );

const plain = (bits: number, groups = 1, o: Partial<LookupFreeQuantizerOptions> = {}) =>
  new LookupFreeQuantizer({ dim: bits * groups, codebookSize: 2 ** bits, groups, project: false, generator: new Generator(0), ...o });

describe('LookupFreeQuantizer: codes', () => {
  it('indices are the sign bits, most significant first; quantized = ±1 (0 → −1); eval gives the same codes', () => {
    fc.assert(
      fc.property(lfqCaseArb, fc.boolean(), ({ bits, groups, z }, training) => {
        const q = plain(bits, groups);
        if (!training) q.eval();
        const out = q.forward(mat(z));
        expect(out.indices.shape).toEqual(groups === 1 ? [z.length] : [z.length, groups]);
        expect(out.indices.dtype).toBe('int32');
        expect(out.probs).toBeUndefined();
        const idx = flat(out.indices);
        z.forEach((row, r) => {
          for (let g = 0; g < groups; g++) {
            let expected = 0;
            for (let i = 0; i < bits; i++) expected = 2 * expected + (row[g * bits + i]! > 0 ? 1 : 0);
            expect(idx[r * groups + g], `row ${r} group ${g}`).toBe(expected);
          }
        });
        expect(rowsOf(out.quantized)).toEqual(z.map((row) => row.map((v) => (v > 0 ? 1 : -1))));
      }),
      { numRuns: 60 },
    );
  });

  it('effectiveCodebook: row c is the code of index c (±1 bits without projection, projected otherwise), matching eval outputs', () => {
    fc.assert(
      fc.property(lfqCaseArb, fc.boolean(), ({ bits, groups, n, seed }, project) => {
        const d = project ? 3 : bits;
        const q = new LookupFreeQuantizer({ dim: d * groups, codebookSize: 2 ** bits, groups, project, generator: new Generator(seed) });
        const book = q.effectiveCodebook().toArray() as number[][][];
        expect([book.length, book[0]!.length, book[0]![0]!.length]).toEqual([groups, 2 ** bits, d]);
        if (!project) book.forEach((rows) => rows.forEach((row, c) => expect(row).toEqual(bitsOf(c, bits))));
        q.eval();
        const out = q.forward(randT([n, d * groups], seed + 1));
        const idx = flat(out.indices), qv = rowsOf(out.quantized);
        for (let r = 0; r < n; r++) {
          for (let g = 0; g < groups; g++) expectClose(qv[r]!.slice(g * d, (g + 1) * d), book[g]![idx[r * groups + g]!]!, 1e-5, 1e-5, `row ${r} group ${g}`);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('the codebook has 2^round(log2 M) codes: b = round(log2 M) bits', () => {
    const table: Array<[number, number]> = [[2, 1], [3, 2], [4, 2], [5, 2], [6, 3], [11, 3], [12, 4], [16, 4], [100, 7], [256, 8], [1000, 10], [65536, 16]];
    for (const [m, bits] of table) {
      const q = new LookupFreeQuantizer({ dim: bits, codebookSize: m, generator: new Generator(0) });
      expect([q.bits, q.codebookSize], `M = ${m}`).toEqual([bits, 2 ** bits]);
      expect(q.projectIn, `M = ${m}: dim = bits, no projection`).toBeNull();
    }
  });

  it('the gradient to z through the output is the upstream gradient (straight-through), without projection', () => {
    fc.assert(
      fc.property(lfqCaseArb, ({ bits, groups, z, seed }) => {
        const zt = mat(z).requiresGrad_();
        const up = randT([z.length, bits * groups], seed);
        plain(bits, groups).forward(zt).quantized.mul(up).sum().backward();
        expect(flat(zt.grad!)).toEqual(flat(up));
      }),
      { numRuns: 30 },
    );
  });
});

describe('LookupFreeQuantizer: entropy terms and loss', () => {
  it('entropies(h) against a float64 softmax over all 2^b codes of 2·h·c/τ', () => {
    fc.assert(
      fc.property(lfqCaseArb, ({ bits, groups, z, invT }) => {
        const q = plain(bits, groups, { inverseTemperature: invT });
        const h = byGroup(z, groups);
        const ref = entropies64(h, invT);
        const e = q.entropies(tensor(Float32Array.from(h.flat(2)), { shape: [groups, z.length, bits] }));
        // Large 1/τ saturates the softmax: float32 logits of |2·h·c/τ| ≤ 2000 keep ~1e-4 absolute accuracy.
        expect(Math.abs(e.perSample.item() - ref.perSample), `per-sample ${e.perSample.item()} vs ${ref.perSample}`).toBeLessThan(2e-4);
        expect(Math.abs(e.codebook.item() - ref.codebook), `codebook ${e.codebook.item()} vs ${ref.codebook}`).toBeLessThan(2e-4);
      }),
      { numRuns: 60 },
    );
  });

  it('0 ≤ per-sample entropy ≤ codebook entropy ≤ log M (H is concave: H(mean p) ≥ mean H(p))', () => {
    fc.assert(
      fc.property(lfqCaseArb, ({ bits, groups, z, invT }) => {
        const q = plain(bits, groups, { inverseTemperature: invT });
        const { perSample, codebook } = q.entropies(tensor(Float32Array.from(byGroup(z, groups).flat(2)), { shape: [groups, z.length, bits] }));
        const ps = perSample.item(), cb = codebook.item(), logM = bits * Math.LN2;
        expect(ps).toBeGreaterThanOrEqual(-1e-6);
        expect(ps).toBeLessThanOrEqual(cb + 1e-5);
        expect(cb).toBeLessThanOrEqual(logM + 1e-5);
      }),
      { numRuns: 60 },
    );
  });

  it('the bounds are reached: h = 0 gives uniform p (both log M); one confident row gives per-sample ≈ codebook ≈ 0', () => {
    const q = plain(3, 1, { inverseTemperature: 100 });
    const zero = q.entropies(tensor(new Float32Array(6), { shape: [1, 2, 3] }));
    expect(zero.perSample.item()).toBeCloseTo(3 * Math.LN2, 5);
    expect(zero.codebook.item()).toBeCloseTo(3 * Math.LN2, 5);
    const sure = q.entropies(tensor(Float32Array.from([1, -1, 1]), { shape: [1, 1, 3] }));
    expect(sure.perSample.item()).toBeLessThan(1e-6);
    expect(sure.codebook.item()).toBeLessThan(1e-6);
  });

  it('the entropy loss mean H(p_n) − γ·H(p̄) has the gradient of central differences (gradCheck, small 1/τ)', () => {
    fc.assert(
      fc.property(lfqCaseArb, fc.constantFrom(0.5, 1, 2), ({ bits, groups, z }, gamma) => {
        const q = plain(bits, groups, { inverseTemperature: 0.5 });
        const h = tensor(Float32Array.from(byGroup(z, groups).flat(2)), { shape: [groups, z.length, bits] });
        const r = gradCheck(
          (t: Tensor) => {
            const { perSample, codebook } = q.entropies(t);
            return perSample.sub(codebook.mul(gamma));
          },
          [h],
          { atol: 1e-6, rtol: 1e-4 },
        );
        expect(r.ok, r.message).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('training loss = w_e·(per-sample − γ·codebook) + β·mean (h − q)², against float64; eval loss is 0', () => {
    fc.assert(
      fc.property(lfqCaseArb, fc.constantFrom(0.1, 1), fc.constantFrom(0.5, 1), fc.constantFrom(0, 0.25), ({ bits, groups, z, invT }, we, gamma, beta) => {
        const q = plain(bits, groups, { inverseTemperature: invT, entropyWeight: we, diversityGamma: gamma, commitment: beta });
        const out = q.forward(mat(z));
        const ref = entropies64(byGroup(z, groups), invT);
        const commit = z.flat().reduce((s, v) => s + (v - (v > 0 ? 1 : -1)) ** 2, 0) / (z.length * bits * groups);
        expect(out.stats.commitment!).toBeCloseTo(commit, 5);
        expect(Math.abs(out.stats.perSampleEntropy! - ref.perSample)).toBeLessThan(2e-4);
        expect(Math.abs(out.stats.codebookEntropy! - ref.codebook)).toBeLessThan(2e-4);
        expect(Math.abs(out.loss.item() - (we * (ref.perSample - gamma * ref.codebook) + beta * commit))).toBeLessThan(1e-4);
        q.eval();
        const ev = q.forward(mat(z));
        expect(ev.loss.item()).toBe(0);
        expect(ev.stats.perSampleEntropy).toBeUndefined();
        expect(flat(ev.indices)).toEqual(flat(out.indices));
      }),
      { numRuns: 40 },
    );
  });

  it('the loss trains the input projection (entropy and commitment reach z through W_in)', () => {
    const q = new LookupFreeQuantizer({ dim: 6, codebookSize: 8, inverseTemperature: 1, generator: new Generator(3) });
    expect(q.projectIn).not.toBeNull();
    const z = randT([16, 6], 4).requiresGrad_();
    q.forward(z).loss.backward();
    expect(flat(q.projectIn!.weight.grad!).some((g) => g !== 0)).toBe(true);
    expect(flat(z.grad!).some((g) => g !== 0)).toBe(true);
  });

  it('defaults follow vector-quantize-pytorch: 1/τ = 100, w_e = 0.1, γ = 1, β = 0.25', () => {
    const q = new LookupFreeQuantizer({ dim: 4, codebookSize: 16 });
    expect([q.inverseTemperature, q.entropyWeight, q.diversityGamma, q.commitment]).toEqual([100, 0.1, 1, 0.25]);
  });
});

describe('LookupFreeQuantizer: options', () => {
  it('bad options are ShapeErrors naming the problem', () => {
    const bad: Array<[() => unknown, RegExp]> = [
      [() => new LookupFreeQuantizer({ dim: 2, codebookSize: 1 }), /LookupFreeQuantizer: codebookSize must be an integer ≥ 2, got 1/],
      [() => new LookupFreeQuantizer({ dim: 2, codebookSize: 2.5 }), /codebookSize must be an integer ≥ 2, got 2.5/],
      [() => new LookupFreeQuantizer({ dim: 2, codebookSize: NaN }), /codebookSize must be an integer ≥ 2, got NaN/],
      [() => new LookupFreeQuantizer({ dim: 17, codebookSize: 2 ** 17 }), /codebookSize 131072 needs 17 bits; at most 16/],
      [() => new LookupFreeQuantizer({ dim: 4, codebookSize: 8, project: false }), /without projection each group's 4 channels must equal the 3 bits/],
      [() => new LookupFreeQuantizer({ dim: 5, codebookSize: 8, groups: 2 }), /dim = 5 channels cannot be split into 2 groups/],
    ];
    for (const [make, message] of bad) {
      expect(make).toThrow(ShapeError);
      expect(make).toThrow(message);
    }
  });
});
