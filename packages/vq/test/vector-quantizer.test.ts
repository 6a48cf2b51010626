/**
 * The straight-through quantizers — VectorQuantizer (ste, ste-ema) and SimVQ — against the spec:
 * the forward value is the nearest code, the gradient to z is the upstream gradient unchanged, the
 * codebook loss trains the codebook and the commitment loss the encoder; EMA updates match a hand
 * computation; k-means initialization and dead-code replacement do what they say.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, tensor } from '@simplex-vq/tensor';
import { Adam } from '@simplex-vq/nn';
import { SimVQ, VectorQuantizer, kmeans, type Quantizer } from '../src/index.js';
import { expectClose, flat, randT, rowsOf } from './helpers.js';

/** Index of the nearest row of `book` to `v` (float64; ties to the lower index). */
const nearest = (v: readonly number[], book: readonly (readonly number[])[]) => {
  let best = 0, bestD = Infinity;
  book.forEach((e, m) => {
    const d = e.reduce((s, x, i) => s + (x - v[i]!) ** 2, 0);
    if (d < bestD) [best, bestD] = [m, d];
  });
  return best;
};

/** The rows of each group's codebook: [G][M][d]. */
const books = (q: Quantizer) => q.effectiveCodebook().toArray() as number[][][];

const steArb = fc.record({
  n: fc.integer({ min: 1, max: 10 }),
  m: fc.integer({ min: 1, max: 6 }),
  d: fc.integer({ min: 1, max: 3 }),
  groups: fc.integer({ min: 1, max: 2 }),
  seed: fc.nat(10_000),
});

const makers = {
  ste: (o: { d: number; m: number; groups: number; seed: number }) => new VectorQuantizer({ dim: o.d * o.groups, codebookSize: o.m, groups: o.groups, generator: new Generator(o.seed) }),
  'ste-ema': (o: { d: number; m: number; groups: number; seed: number }) =>
    new VectorQuantizer({ dim: o.d * o.groups, codebookSize: o.m, groups: o.groups, ema: true, generator: new Generator(o.seed) }),
  simvq: (o: { d: number; m: number; groups: number; seed: number }) => new SimVQ({ dim: o.d * o.groups, codebookSize: o.m, groups: o.groups, generator: new Generator(o.seed) }),
};

describe('straight-through quantizers (ste, ste-ema, simvq)', () => {
  for (const [name, build] of Object.entries(makers)) {
    it(`${name}: in training the output is the nearest code (the effective codebook's rows at the indices)`, () => {
      fc.assert(
        fc.property(steArb, (o) => {
          const q = build(o);
          const C = o.d * o.groups;
          const z = randT([o.n, C], o.seed + 1, 1.5);
          // The codebook before the forward: the batch is quantized with it (for ste-ema, the EMA
          // update made in the forward takes effect from the next step, as in the reference VQ-VAE).
          const B = books(q);
          const out = q.forward(z);
          const idx = rowsOf(out.indices.reshape([o.n, o.groups]));
          const zr = rowsOf(z);
          const expected = zr.map((_, n) => Array.from({ length: o.groups }, (_, g) => B[g]![idx[n]![g]!]!).flat());
          // z + sg(e − z) equals e up to float32 rounding of the sum.
          expectClose(flat(out.quantized), expected.flat(), 1e-5, 1e-5, 'quantized');
          // Indices are the nearest codes of z under that codebook.
          zr.forEach((row, n) => {
            for (let g = 0; g < o.groups; g++) expect(idx[n]![g]).toBe(nearest(row.slice(g * o.d, (g + 1) * o.d), B[g]!));
          });
          expect(out.indices.shape).toEqual(o.groups === 1 ? [o.n] : [o.n, o.groups]);
          expect(out.probs).toBeUndefined();
        }),
        { numRuns: 30 },
      );
    });

    it(`${name}: the gradient to z through the output is the upstream gradient, exactly`, () => {
      fc.assert(
        fc.property(steArb, (o) => {
          const q = build(o);
          const C = o.d * o.groups;
          const z = randT([o.n, 2, C], o.seed + 1).requiresGrad_();
          const upstream = randT([o.n, 2, C], o.seed + 2);
          q.forward(z).quantized.mul(upstream).sum().backward();
          expect(flat(z.grad!)).toEqual(flat(upstream));
        }),
        { numRuns: 30 },
      );
    });

    it(`${name}: eval gives the nearest codes too, and changes nothing`, () => {
      const q = build({ d: 2, m: 4, groups: 1, seed: 3 });
      q.eval();
      const before = q.stateDict();
      const snapshot = Object.fromEntries(Object.entries(before).map(([k, t]) => [k, flat(t)]));
      const z = randT([5, 2], 4);
      const out = q.forward(z);
      const B = books(q)[0]!;
      expect(flat(out.indices)).toEqual(rowsOf(z).map((r) => nearest(r, B)));
      for (const [k, t] of Object.entries(q.stateDict())) expect(flat(t), k).toEqual(snapshot[k]);
    });
  }

  it('ste: loss = codebook ‖sg(z) − e‖² + β·commitment ‖z − sg(e)‖²; the first trains E, the second z', () => {
    fc.assert(
      fc.property(steArb, fc.constantFrom(0.25, 1), (o, beta) => {
        const C = o.d * o.groups;
        const q = new VectorQuantizer({ dim: C, codebookSize: o.m, groups: o.groups, commitment: beta, generator: new Generator(o.seed) });
        const z = randT([o.n, C], o.seed + 1).requiresGrad_();
        const out = q.forward(z);
        const B = books(q);
        const idx = rowsOf(out.indices.reshape([o.n, o.groups]));
        const zr = rowsOf(z);
        let sq = 0;
        const dz = zr.map(() => new Array<number>(C).fill(0));
        const dE = B.map((b) => b.map((e) => e.map(() => 0)));
        const count = o.n * C;
        zr.forEach((row, n) => {
          for (let g = 0; g < o.groups; g++) {
            const e = B[g]![idx[n]![g]!]!;
            for (let i = 0; i < o.d; i++) {
              const diff = row[g * o.d + i]! - e[i]!;
              sq += diff * diff;
              dz[n]![g * o.d + i] = (2 * beta * diff) / count;
              dE[g]![idx[n]![g]!]![i]! -= (2 * diff) / count;
            }
          }
        });
        expect(out.stats.commitment!).toBeCloseTo(sq / count, 5);
        expect(out.stats.codebook!).toBeCloseTo(sq / count, 5);
        expect(out.loss.item()).toBeCloseTo((1 + beta) * (sq / count), 5);
        out.loss.backward();
        expectClose(flat(z.grad!), dz.flat(), 1e-6, 1e-4, 'dz');
        expectClose(flat(q.codebook.grad!), dE.flat(2), 1e-6, 1e-4, 'dE');
      }),
      { numRuns: 30 },
    );
  });
});

describe('VectorQuantizer with EMA (ste-ema)', () => {
  const emaQuantizer = (book: number[], dim: number, opts: { decay?: number } = {}) => {
    const m = book.length / dim;
    const q = new VectorQuantizer({ dim, codebookSize: m, ema: true, decay: opts.decay ?? 0.5, generator: new Generator(0) });
    const b = tensor(Float32Array.from(book), { shape: [1, m, dim] });
    q.codebook.assign(b);
    q.emaSum!.assign(b); // counts start at 1, so sums start at the codes
    return q;
  };

  it('hand computation: codes {0, 10}, batch {1, 2, 9}, decay 0.5 → codes ≈ {1, 9.5}', () => {
    const q = emaQuantizer([0, 10], 1);
    expect(q.namedParameters()).toEqual([]);
    const out = q.forward(tensor(Float32Array.from([1, 2, 9]), { shape: [3, 1] }));
    expect(flat(out.indices)).toEqual([0, 0, 1]);
    // counts: 0.5·1 + 0.5·{2, 1} = {1.5, 1};  sums: 0.5·{0, 10} + 0.5·{3, 9} = {1.5, 9.5}
    expectClose(flat(q.emaCount!), [1.5, 1], 1e-7, 0, 'counts');
    expectClose(flat(q.emaSum!), [1.5, 9.5], 1e-6, 0, 'sums');
    // Laplace smoothing: N_m ← (N_m + ε)/(n + Mε)·n with n = 2.5, ε = 1e-5.
    const eps = 1e-5, n = 2.5;
    const smoothed = [1.5, 1].map((c) => ((c + eps) / (n + 2 * eps)) * n);
    expectClose(flat(q.codebook), [1.5 / smoothed[0]!, 9.5 / smoothed[1]!], 1e-6, 1e-6, 'codes');
    expectClose(flat(q.codebook), [1, 9.5], 1e-4, 0, 'codes (rounded)');
    // No codebook loss (the codebook is not trained by gradient); commitment only.
    expect(out.stats.codebook).toBeUndefined();
    expect(out.loss.item()).toBeCloseTo(0.25 * out.stats.commitment!, 6);
  });

  it('matches a float64 EMA over several batches', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(0.5, 0.9, 0.99), fc.nat(1000), (m, dim, decay, seed) => {
        const g = new Generator(seed);
        const init = Array.from({ length: m * dim }, () => 3 * g.normal());
        const q = emaQuantizer(init, dim, { decay });
        let codes = Array.from({ length: m }, (_, j) => init.slice(j * dim, (j + 1) * dim));
        let count = new Array<number>(m).fill(1);
        let sum = codes.map((c) => [...c]);
        for (let step = 0; step < 3; step++) {
          const z = randT([6, dim], seed * 10 + step, 3);
          const rows = rowsOf(z);
          q.forward(z);
          const idx = rows.map((r) => nearest(r, codes));
          count = count.map((c, j) => decay * c + (1 - decay) * idx.filter((i) => i === j).length);
          sum = sum.map((s, j) => s.map((v, k) => decay * v + (1 - decay) * rows.reduce((a, r, n) => a + (idx[n] === j ? r[k]! : 0), 0)));
          const n = count.reduce((a, b) => a + b, 0);
          codes = sum.map((s, j) => s.map((v) => v / (((count[j]! + 1e-5) / (n + m * 1e-5)) * n)));
          expectClose(flat(q.codebook), codes.flat(), 1e-4, 1e-4, `codes after step ${step}`);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('eval does not update the EMA state', () => {
    const q = emaQuantizer([0, 10], 1);
    q.eval();
    q.forward(tensor(Float32Array.from([1, 2, 9]), { shape: [3, 1] }));
    expect(flat(q.codebook)).toEqual([0, 10]);
    expect(flat(q.emaCount!)).toEqual([1, 1]);
  });
});

describe('k-means initialization', () => {
  /** `k` tight blobs at well-separated corners, rows shuffled. */
  const blobs = (seed: number, k: number, per = 16) => {
    const g = new Generator(seed);
    const centres = Array.from({ length: k }, (_, i) => [10 * Math.cos((2 * Math.PI * i) / k), 10 * Math.sin((2 * Math.PI * i) / k)]);
    const rows: number[][] = [];
    for (const c of centres) for (let i = 0; i < per; i++) rows.push([c[0]! + 0.2 * g.normal(), c[1]! + 0.2 * g.normal()]);
    for (let i = rows.length - 1; i > 0; i--) {
      const j = g.randint(0, i + 1);
      [rows[i], rows[j]] = [rows[j]!, rows[i]!];
    }
    return { centres, z: tensor(Float32Array.from(rows.flat()), { shape: [rows.length, 2] }) };
  };

  it('M = number of well-separated clusters: after the first training batch each code sits at a cluster centre', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.integer({ min: 2, max: 6 }), fc.boolean(), (seed, k, ema) => {
        const { centres, z } = blobs(seed, k);
        const q = new VectorQuantizer({ dim: 2, codebookSize: k, init: 'data', ema, generator: new Generator(seed + 1) });
        expect(q.initialized!.item()).toBe(0);
        q.forward(z);
        expect(q.initialized!.item()).toBe(1);
        const book = books(q)[0]!;
        // One code per cluster, each within 0.3 of its centre (the blobs have std 0.2, 16 points).
        const owner = centres.map((c) => nearest(c, book));
        expect(new Set(owner).size).toBe(k);
        centres.forEach((c, i) => expect(Math.hypot(book[owner[i]!]![0]! - c[0]!, book[owner[i]!]![1]! - c[1]!)).toBeLessThan(0.3));
        if (ema) expectClose(flat(q.emaSum!), flat(q.codebook.mul(q.emaCount!.unsqueeze(-1))), 1e-5, 1e-5, 'EMA sums agree');
      }),
      { numRuns: 30 },
    );
  });

  it('runs once, on the first training batch only (not in eval)', () => {
    const { z } = blobs(1, 3);
    const q = new VectorQuantizer({ dim: 2, codebookSize: 3, init: 'data', generator: new Generator(2) });
    q.eval();
    const before = flat(q.codebook);
    q.forward(z);
    expect(flat(q.codebook)).toEqual(before);
    q.train();
    q.forward(z);
    const after = flat(q.codebook);
    expect(after).not.toEqual(before);
    q.forward(z.mul(100));
    expect(flat(q.codebook)).toEqual(after);
  });

  it('kmeans(): a Lloyd fixed point, every centre the mean of its rows; repeats rows when N < M', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 12 }), (seed, m, n) => {
        const x = randT([1, n, 2], seed, 2);
        const c = kmeans(x, m, 20, new Generator(seed));
        expect(c.shape).toEqual([1, m, 2]);
        const rows = rowsOf(x.reshape([n, 2])), centres = rowsOf(c.reshape([m, 2]));
        const assign = rows.map((r) => nearest(r, centres));
        centres.forEach((ce, j) => {
          const mine = rows.filter((_, i) => assign[i] === j);
          if (mine.length === 0) return;
          expectClose(ce, [0, 1].map((k) => mine.reduce((s, r) => s + r[k]!, 0) / mine.length), 1e-5, 1e-5, `centre ${j}`);
        });
        // Every centre is a row or a mean of rows: with N ≤ M every row is a centre.
        if (n <= m) rows.forEach((r) => expect(centres.some((ce) => ce[0] === Math.fround(r[0]!) && ce[1] === Math.fround(r[1]!))).toBe(true));
      }),
      { numRuns: 40 },
    );
  });
});

describe('dead-code replacement', () => {
  it('moves codes no row used onto rows of the batch, and leaves used codes alone', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.boolean(), (seed, ema) => {
        const q = new VectorQuantizer({ dim: 2, codebookSize: 4, restart: { threshold: 0.5, decay: 0 }, ema, generator: new Generator(seed) });
        const book = [0, 0, 100, 100, -100, 100, 5, 5];
        q.codebook.assign(tensor(Float32Array.from(book), { shape: [1, 4, 2] }));
        if (ema) q.emaSum!.assign(q.codebook.mul(q.emaCount!.unsqueeze(-1)));
        const z = randT([8, 2], seed + 1, 0.5).add(tensor(Float32Array.from([0, 0, 5, 5, 0, 0, 5, 5, 0, 0, 5, 5, 0, 0, 5, 5]), { shape: [8, 2] }));
        const out = q.forward(z);
        const B = books(q)[0]!;
        const zr = rowsOf(z);
        const idx = flat(out.indices);
        const qr = rowsOf(out.quantized);
        if (!ema) {
          // Codes 1 and 2 were far from every row: each is now one of the batch rows.
          for (const m of [1, 2]) expect(zr.some((r) => r[0] === B[m]![0] && r[1] === B[m]![1]), `code ${m} = a batch row`).toBe(true);
        } else {
          // The EMA update after the lookup moves the restarted codes on, so look at the output:
          // rows assigned to a restarted code are quantized to the batch row it restarted on.
          const assigned = idx.map((c, n) => (c === 1 || c === 2 ? n : -1)).filter((n) => n >= 0);
          expect(assigned.length, 'rows assigned to the restarted codes').toBeGreaterThan(0);
          for (const n of assigned) {
            expect(zr.some((r) => Math.abs(r[0]! - qr[n]![0]!) < 1e-5 && Math.abs(r[1]! - qr[n]![1]!) < 1e-5), `row ${n} quantized to a batch row`).toBe(true);
          }
        }
        if (!ema) {
          expect(B[0]).toEqual([0, 0]);
          expect(B[3]).toEqual([5, 5]);
          // The indices were recomputed against the new codebook.
          expect(idx).toEqual(zr.map((r) => nearest(r, B)));
        } else {
          // (the EMA update after the lookup has moved the codes on; the sums stay consistent)
          expectClose(flat(q.emaSum!), flat(q.codebook.mul(q.emaCount!.unsqueeze(-1))), 1e-5, 1e-5, 'EMA sums agree');
        }
      }),
      { numRuns: 20 },
    );
  });

  it('is off by default, and a used code is never replaced', () => {
    const q = new VectorQuantizer({ dim: 1, codebookSize: 2, generator: new Generator(0) });
    q.codebook.assign(tensor(Float32Array.from([0, 1000]), { shape: [1, 2, 1] }));
    q.forward(tensor(Float32Array.from([0.1, -0.1]), { shape: [2, 1] }));
    expect(flat(q.codebook)).toEqual([0, 1000]);
  });
});

describe('SimVQ', () => {
  it('the codebook is the frozen basis C0 times the learned W; only W is a parameter', () => {
    fc.assert(
      fc.property(steArb, (o) => {
        const q = new SimVQ({ dim: o.d * o.groups, codebookSize: o.m, groups: o.groups, generator: new Generator(o.seed) });
        expect(q.namedParameters().map(([n]) => n)).toEqual(['projection']);
        expect(q.namedBuffers().map(([n]) => n)).toContain('basis');
        const C0 = q.basis.toArray() as number[][][], W = q.projection.toArray() as number[][][];
        const E = C0.map((b, g) => b.map((row) => W[g]![0]!.map((_, j) => row.reduce((s, v, i) => s + v * W[g]![i]![j]!, 0))));
        expectClose(flat(q.effectiveCodebook()), E.flat(2), 1e-5, 1e-5, 'C0 W');
      }),
      { numRuns: 20 },
    );
  });

  it('training moves W (hence every code, chosen or not) and never the basis', () => {
    const q = new SimVQ({ dim: 2, codebookSize: 8, generator: new Generator(1) });
    const opt = new Adam(q.parameters(), { lr: 0.05 });
    const basis = flat(q.basis), before = rowsOf(q.effectiveCodebook().reshape([8, 2]));
    const z = randT([4, 2], 2, 3);
    const chosen = new Set(flat(q.forward(z).indices));
    for (let i = 0; i < 5; i++) {
      opt.zeroGrad();
      q.forward(z).loss.backward();
      opt.step();
    }
    expect(flat(q.basis)).toEqual(basis);
    const after = rowsOf(q.effectiveCodebook().reshape([8, 2]));
    for (let m = 0; m < 8; m++) {
      if (!chosen.has(m)) expect(after[m], `unchosen code ${m} moved`).not.toEqual(before[m]);
    }
  });

  it('loss = codebook term (trains W) + β·commitment (trains z)', () => {
    const q = new SimVQ({ dim: 2, codebookSize: 4, commitment: 0.5, generator: new Generator(3) });
    const z = randT([5, 2], 4).requiresGrad_();
    const out = q.forward(z);
    expect(out.loss.item()).toBeCloseTo(out.stats.codebook! + 0.5 * out.stats.commitment!, 6);
    expect(out.stats.codebook!).toBeCloseTo(out.stats.commitment!, 6);
    out.loss.backward();
    const e = rowsOf(out.quantized.detach());
    expectClose(flat(z.grad!), rowsOf(z).flatMap((r, n) => r.map((v, i) => (2 * 0.5 * (v - e[n]![i]!)) / 10)), 1e-6, 1e-3, 'dz');
    expect(flat(q.projection.grad!).some((g) => g !== 0)).toBe(true);
  });
});

