/**
 * What every codebook quantizer shares (CodebookQuantizer): initialization from the data
 * (k-means on the first training batch), N(0, initStd²) initialization as before, and dead-code
 * replacement — checked for each class that learns a codebook, against float64 re-computations
 * (nearest codes, usage EMA, Lloyd fixed points), then in a small training loop in which a start
 * far from the data collapses `ste` and both remedies bring the codes back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, ShapeError, tensor, zeros, type Tensor } from '@simplex-vq/tensor';
import { Adam, Linear, init as nnInit, mseLoss } from '@simplex-vq/nn';
import {
  CodeUsageTracker,
  GumbelQuantizer,
  SimVQ,
  SmoothedQuantizer,
  VectorQuantizer,
  createQuantizer,
  kmeans,
  type CodebookOptions,
  type CodebookQuantizer,
  type Method,
} from '../src/index.js';
import { clusteredData, expectClose, flat, randT, rowsOf } from './helpers.js';

// --- the classes ---------------------------------------------------------------------------------

type Options = CodebookOptions & { generator: Generator };

/**
 * Every class that learns a codebook. The EMA quantizer is built with EMA decay 1: its update then
 * leaves the codebook where it is, so what initialization and restarts write can be read back
 * directly (with any other decay the update moves the codes within the same forward).
 */
const CLASSES: Record<string, (o: Options) => CodebookQuantizer> = {
  VectorQuantizer: (o) => new VectorQuantizer(o),
  'VectorQuantizer (ema)': (o) => new VectorQuantizer({ ...o, ema: true, decay: 1 }),
  SmoothedQuantizer: (o) => new SmoothedQuantizer({ ...o, regularizer: { type: 'none' } }),
  GumbelQuantizer: (o) => new GumbelQuantizer(o),
  SimVQ: (o) => new SimVQ(o),
};
/** Those that take `restart` (codes chosen by distance to the codebook). */
const RESTARTABLE_CLASSES = Object.keys(CLASSES).filter((name) => name !== 'GumbelQuantizer');

/** The tensor that holds the initial N(0, initStd²) entries: the codebook, or SimVQ's basis C0. */
const initialEntries = (q: CodebookQuantizer): Tensor => (q instanceof SimVQ ? q.basis : (q as VectorQuantizer).codebook);

// --- float64 helpers -------------------------------------------------------------------------------

/** The effective codebook as [G][M][d]. */
const books = (q: CodebookQuantizer) => q.effectiveCodebook().toArray() as number[][][];

/** Rows [N][G·d] → groups [G][N][d]. */
const byGroup = (rows: readonly (readonly number[])[], groups: number) => {
  const d = rows[0]!.length / groups;
  return Array.from({ length: groups }, (_, g) => rows.map((r) => r.slice(g * d, (g + 1) * d)));
};

/** Index of the nearest row of `book` to `v` (float64; ties to the lower index). */
const nearest = (v: readonly number[], book: readonly (readonly number[])[]) => {
  let best = 0, bestD = Infinity;
  book.forEach((e, m) => {
    const d = e.reduce((s, x, i) => s + (x - v[i]!) ** 2, 0);
    if (d < bestD) [best, bestD] = [m, d];
  });
  return best;
};

const sameRow = (a: readonly number[], b: readonly number[], tol = 0) => a.every((v, i) => Math.abs(v - b[i]!) <= tol * (1 + Math.abs(b[i]!)));

const caseArb = fc.record({
  groups: fc.integer({ min: 1, max: 2 }),
  m: fc.integer({ min: 1, max: 5 }),
  d: fc.integer({ min: 1, max: 2 }),
  n: fc.integer({ min: 1, max: 10 }),
  seed: fc.nat(100_000),
});

// --- initialization from the data ----------------------------------------------------------------

describe("init 'data': k-means centres of the first training batch", () => {
  for (const [name, build] of Object.entries(CLASSES)) {
    it(`${name}: the effective codebook is kmeans(first batch, M, initIters) with the quantizer's generator`, () => {
      fc.assert(
        fc.property(caseArb, fc.constantFrom(0, 2, 20), ({ groups, m, d, n, seed }, initIters) => {
          const gen = new Generator(seed);
          const q = build({ dim: d * groups, codebookSize: m, groups, init: 'data', initIters, generator: gen });
          expect(q.initialized!.item()).toBe(0);
          const z = randT([n, d * groups], seed + 1, 2);
          const state = gen.getState();
          const out = q.forward(z);
          expect(q.initialized!.item()).toBe(1);
          const zg = byGroup(rowsOf(z), groups);
          const centres = kmeans(tensor(Float32Array.from(zg.flat(2)), { shape: [groups, n, d] }), m, initIters, new Generator().setState(state));
          const B = books(q);
          expectClose(B.flat(2), flat(centres), 1e-6, 1e-6, 'codebook = k-means centres');
          if (q instanceof SimVQ) {
            // C0 = the centres and W = I, so E = C0 W is the centres too.
            expect(flat(q.basis)).toEqual(flat(centres));
            expect(q.projection.toArray()).toEqual(Array.from({ length: groups }, () => Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)))));
          }
          // Independent of kmeans(): with no Lloyd step every centre is a row of its own group;
          // after 20 steps each centre is the float64 mean of the rows nearest to it.
          for (let g = 0; g < groups; g++) {
            B[g]!.forEach((c, j) => {
              if (initIters === 0) expect(zg[g]!.some((r) => sameRow(c, r)), `group ${g} code ${j} is a row of the group`).toBe(true);
              if (initIters === 20) {
                const mine = zg[g]!.filter((r) => nearest(r, B[g]!) === j);
                if (mine.length > 0) expectClose(c, c.map((_, k) => mine.reduce((s, r) => s + r[k]!, 0) / mine.length), 1e-5, 1e-5, `group ${g} centre ${j}`);
              }
            });
          }
          // The batch is quantized with the new codebook (the hard quantizers' indices are its nearest codes).
          if (!(q instanceof SmoothedQuantizer) && !(q instanceof GumbelQuantizer)) {
            const idx = rowsOf(out.indices.reshape([n, groups]));
            zg.forEach((rows, g) => rows.forEach((r, i) => expect(idx[i]![g]).toBe(nearest(r, B[g]!))));
          }
        }),
        { numRuns: 15 },
      );
    });

    it(`${name}: only once, only in training; 'initialized' is saved in the state dict, so a resumed model does not re-initialize`, () => {
      const gen = new Generator(7);
      const q = build({ dim: 2, codebookSize: 3, init: 'data', generator: gen });
      const start = books(q);
      q.eval();
      q.forward(randT([8, 2], 1, 3));
      expect(books(q), 'eval does not initialize').toEqual(start);
      expect(q.initialized!.item()).toBe(0);
      q.train();
      q.forward(randT([8, 2], 2, 3));
      const first = books(q);
      expect(first).not.toEqual(start);
      q.forward(randT([8, 2], 3, 30));
      expectClose(books(q).flat(2), first.flat(2), 1e-6, 1e-6, 'the second batch does not initialize again');
      const state = q.stateDict();
      expect(state.initialized!.item()).toBe(1);
      // A fresh quantizer loading that state keeps the loaded codebook on its next training batch.
      const resumed = build({ dim: 2, codebookSize: 3, init: 'data', generator: new Generator(8) });
      resumed.loadStateDict(state);
      resumed.forward(randT([8, 2], 4, 30));
      expectClose(books(resumed).flat(2), books(q).flat(2), 1e-6, 1e-6, 'resumed codebook');
      // With init 'normal' there is no such buffer.
      expect(build({ dim: 2, codebookSize: 3, generator: new Generator(0) }).initialized).toBeNull();
      expect(Object.keys(build({ dim: 2, codebookSize: 3, generator: new Generator(0) }).stateDict())).not.toContain('initialized');
    });
  }
});

// --- N(0, initStd²) initialization, as before -----------------------------------------------------

describe("init 'normal': N(0, initStd²) entries, the same draws as before init 'data' existed", () => {
  for (const [name, build] of Object.entries(CLASSES)) {
    it(`${name}: entries = initStd · the generator's first G·M·d normals; nothing else drawn, in construction or in a training step`, () => {
      fc.assert(
        fc.property(caseArb, fc.constantFrom(0.5, 1, 2), fc.boolean(), ({ groups, m, d, n, seed }, initStd, explicit) => {
          const gen = new Generator(seed);
          const q = build({ dim: d * groups, codebookSize: m, groups, initStd, generator: gen, ...(explicit ? { init: 'normal' as const } : {}) });
          expect(q.init).toBe('normal');
          // The reference: the draws each constructor made before this change (powers of two keep
          // the product exact, so the comparison is bit for bit).
          const ref = new Generator(seed);
          const expected = Array.from({ length: groups * m * d }, () => Math.fround(ref.normal()) * initStd);
          expect(flat(initialEntries(q))).toEqual(expected);
          if (q instanceof GumbelQuantizer) expect(flat(q.logitLayer.weight)).toEqual(flat(new Linear(d * groups, groups * m, { generator: ref }).weight));
          if (q instanceof SimVQ) expect(flat(q.projection)).toEqual(flat(nnInit.uniform(zeros([groups, d, d]), -1 / Math.sqrt(d), 1 / Math.sqrt(d), { generator: ref })));
          expect(gen.getState(), 'construction drew nothing more').toEqual(ref.getState());
          q.forward(randT([n, d * groups], seed + 1));
          // A training step draws only the Gumbel noise, [G, N, M] uniforms.
          if (q instanceof GumbelQuantizer) for (let i = 0; i < groups * n * m; i++) ref.random();
          expect(gen.getState(), 'a training step drew nothing for initialization').toEqual(ref.getState());
        }),
        { numRuns: 15 },
      );
    });

    it(`${name}: initStd scales the entries (sample std of 16384 entries within 3% of it)`, () => {
      for (const initStd of [0.05, 3]) {
        const q = build({ dim: 4, codebookSize: 4096, initStd, generator: new Generator(11) });
        const v = flat(initialEntries(q));
        const mean = v.reduce((a, b) => a + b, 0) / v.length;
        const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
        // The standard error of a sample std is σ/√(2n) ≈ 0.55% here: 3% is over 5 of them.
        expect(Math.abs(std / initStd - 1), `std ${std} for initStd ${initStd}`).toBeLessThan(0.03);
        expect(Math.abs(mean) / initStd).toBeLessThan(0.05);
      }
    });
  }
});

// --- dead-code replacement -----------------------------------------------------------------------

describe('restart: dead-code replacement', () => {
  for (const name of RESTARTABLE_CLASSES) {
    const build = CLASSES[name]!;

    it(`${name}: usage EMA, replaced codes and the restarts counter match a float64 hand computation over 3 steps`, () => {
      fc.assert(
        fc.property(caseArb, fc.constantFrom(0.5, 1, 2), fc.constantFrom(0, 0.5, 0.9), ({ groups, m, d, n, seed }, threshold, decay) => {
          const q = build({ dim: d * groups, codebookSize: m, groups, restart: { threshold, decay }, generator: new Generator(seed) });
          expect(q.restart).toEqual({ threshold, decay });
          let usage: number[] = Array.from({ length: groups * m }, () => threshold); // every code starts alive
          let restarts = 0;
          for (let step = 0; step < 3; step++) {
            const before = books(q);
            const z = randT([n, d * groups], seed * 7 + step, 1.5);
            const zg = byGroup(rowsOf(z), groups);
            q.forward(z);
            // u ← decay·u + (1 − decay)·(rows assigned this batch); a code below the threshold is dead.
            const dead = new Set<number>();
            usage = usage.map((u, c) => {
              const g = Math.floor(c / m), k = c % m;
              const count = zg[g]!.filter((r) => nearest(r, before[g]!) === k).length;
              const next = decay * u + (1 - decay) * count;
              if (next < threshold) dead.add(c);
              return next < threshold ? threshold : next;
            });
            restarts += dead.size;
            expectClose(flat(q.usage!), usage, 1e-5, 1e-5, `usage after step ${step}`);
            // EMA (decay 1 here, so counts are frozen): a restarted code's count is the threshold.
            if ((q as VectorQuantizer).ema) for (const c of dead) expect(flat((q as VectorQuantizer).emaCount!)[c], `count of restarted code ${c}`).toBe(threshold);
            expect(q.restarts!.item(), `restarts after step ${step}`).toBe(restarts);
            const after = books(q);
            // SimVQ writes C0_k = z W⁻¹ (float64 inverse, float32 product). EMA: a restarted code's count is
            // set to the threshold, which changes the Laplace smoothing's total n and so every entry by ~Mε/n.
            const tol = q instanceof SimVQ ? 1e-4 : (q as VectorQuantizer).ema ? 1e-4 : 1e-6;
            for (let c = 0; c < groups * m; c++) {
              const g = Math.floor(c / m), k = c % m;
              if (dead.has(c)) expect(zg[g]!.some((r) => sameRow(after[g]![k]!, r, tol)), `step ${step}: dead code ${c} is now a row of group ${g}`).toBe(true);
              else expect(sameRow(after[g]![k]!, before[g]![k]!, tol), `step ${step}: live code ${c} moved`).toBe(true);
            }
          }
          expect(Object.keys(q.stateDict())).toEqual(expect.arrayContaining(['usage', 'restarts']));
        }),
        { numRuns: 15 },
      );
    });

    it(`${name}: with the defaults, a code far from every row is replaced by a batch row in one step, and chosen at once`, () => {
      const q = build({ dim: 2, codebookSize: 4, restart: true, generator: new Generator(5) });
      expect(q.restart).toEqual({ threshold: 1, decay: 0.99 });
      const codes = [0, 0, 5, 5, 1000, 1000, -5, 5];
      // Two rows around each of codes 0, 1 and 3; none anywhere near code 2.
      const z = tensor(Float32Array.from([0.1, 0, -0.1, 0.1, 5.1, 5, 4.9, 5.1, -5.1, 5, -4.9, 4.9]), { shape: [6, 2] });
      if (q instanceof SimVQ) {
        q.basis.assign(tensor(Float32Array.from(codes), { shape: [1, 4, 2] }));
        q.projection.assign(tensor(Float32Array.from([1, 0, 0, 1]), { shape: [1, 2, 2] }));
      } else {
        (q as VectorQuantizer).codebook.assign(tensor(Float32Array.from(codes), { shape: [1, 4, 2] }));
        if ((q as VectorQuantizer).emaSum) (q as VectorQuantizer).emaSum!.assign((q as VectorQuantizer).codebook);
      }
      const out = q.forward(z);
      const B = books(q)[0]!;
      const rows = rowsOf(z);
      expect(q.restarts!.item()).toBe(1);
      expect(rows.some((r) => sameRow(B[2]!, r, 1e-6)), `code 2 = ${B[2]} is a batch row`).toBe(true);
      for (const k of [0, 1, 3]) expect(B[k]).toEqual(codes.slice(2 * k, 2 * k + 2));
      // u = 0.99·1 + 0.01·(rows): 2 rows each for the live codes; the restarted one is set to the threshold.
      expectClose(flat(q.usage!), [1.01, 1.01, 1, 1.01], 1e-6, 0, 'usage');
      // The batch is assigned again after the restart: the row the code restarted on now takes it.
      expect(flat(out.indices)).toContain(2);
    });
  }

  it('SimVQ: a restarted code gets C0_k = z W⁻¹, so E_k = z, and W is left alone; a singular W gives C0_k = z', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.nat(10_000), (d, seed) => {
        const q = new SimVQ({ dim: d, codebookSize: 3, restart: { threshold: 1, decay: 0 }, generator: new Generator(seed) });
        // Far codes: the rows all go to the one or two codes nearest to them; the others die at once.
        q.basis.assign(q.basis.add(1000));
        const W = flat(q.projection), before = rowsOf(q.basis.reshape([3, d]));
        const z = randT([4, d], seed + 1);
        q.forward(z);
        expect(flat(q.projection)).toEqual(W);
        const rows = rowsOf(z), C0 = rowsOf(q.basis.reshape([3, d])), E = rowsOf(q.effectiveCodebook().reshape([3, d]));
        const restarted = [0, 1, 2].filter((k) => !sameRow(C0[k]!, before[k]!));
        expect(restarted.length).toBeGreaterThan(0);
        expect(q.restarts!.item()).toBe(restarted.length);
        const Wm = rowsOf(q.projection.reshape([d, d]));
        for (const k of restarted) {
          // C0_k W (float64) is a batch row, and so is E_k.
          const back = Wm[0]!.map((_, j) => C0[k]!.reduce((s, v, i) => s + v * Wm[i]![j]!, 0));
          expect(rows.some((r) => sameRow(back, r, 1e-4)), `C0_${k} W = ${back}`).toBe(true);
          expect(rows.some((r) => sameRow(E[k]!, r, 1e-4)), `E_${k} = ${E[k]}`).toBe(true);
        }
      }),
      { numRuns: 20 },
    );
    const q = new SimVQ({ dim: 2, codebookSize: 2, restart: { threshold: 1, decay: 0 }, generator: new Generator(1) });
    q.projection.assign(zeros([1, 2, 2]));
    const z = randT([3, 2], 2);
    q.forward(z);
    // E = C0·0 puts every code at 0, so code 0 takes every row and code 1 is dead: it restarts on a row.
    expect(rowsOf(z).some((r) => sameRow(rowsOf(q.basis.reshape([2, 2]))[1]!, r))).toBe(true);
  });

  it("GumbelQuantizer and SmoothedQuantizer with 'linear' logits refuse restart, saying why", () => {
    const o = { dim: 2, codebookSize: 4, restart: true, generator: new Generator(0) };
    expect(() => new GumbelQuantizer(o)).toThrow(ShapeError);
    expect(() => new GumbelQuantizer(o)).toThrow(/GumbelQuantizer: restart does not apply: its codes are chosen by a linear layer/);
    expect(() => new SmoothedQuantizer({ ...o, logits: 'linear' })).toThrow(ShapeError);
    expect(() => new SmoothedQuantizer({ ...o, logits: 'linear' })).toThrow(/SmoothedQuantizer: restart needs 'distance' logits/);
    // Both still take init 'data'.
    expect(new GumbelQuantizer({ ...o, restart: false, init: 'data' }).init).toBe('data');
    expect(new SmoothedQuantizer({ ...o, restart: false, init: 'data', logits: 'linear' }).init).toBe('data');
  });

  it('is off unless asked for: no usage or restarts buffers', () => {
    for (const build of Object.values(CLASSES)) {
      const q = build({ dim: 2, codebookSize: 4, generator: new Generator(0) });
      expect([q.restart, q.usage, q.restarts]).toEqual([null, null, null]);
    }
  });
});

describe('bad codebook options are ShapeErrors naming the class and the option', () => {
  const bad: Array<[Partial<CodebookOptions>, RegExp]> = [
    [{ init: 'kmeans' as 'data' }, /init must be 'normal' or 'data', got 'kmeans'/],
    [{ initStd: 0 }, /initStd must be a positive number, got 0/],
    [{ initStd: -1 }, /initStd must be a positive number, got -1/],
    [{ initStd: NaN }, /initStd must be a positive number, got NaN/],
    [{ initStd: Infinity }, /initStd must be a positive number, got Infinity/],
    [{ initIters: -1 }, /initIters must be a non-negative integer, got -1/],
    [{ initIters: 2.5 }, /initIters must be a non-negative integer, got 2.5/],
    [{ restart: { threshold: 0 } }, /restart.threshold must be positive, got 0/],
    [{ restart: { threshold: -1 } }, /restart.threshold must be positive, got -1/],
    [{ restart: { threshold: NaN } }, /restart.threshold must be positive, got NaN/],
    [{ restart: { decay: 1 } }, /restart.decay must be in \[0, 1\), got 1/],
    [{ restart: { decay: -0.1 } }, /restart.decay must be in \[0, 1\), got -0.1/],
  ];
  for (const [name, build] of Object.entries(CLASSES)) {
    it(name, () => {
      const cls = name.split(' ')[0]!;
      for (const [opts, message] of bad) {
        const make = () => build({ dim: 2, codebookSize: 4, generator: new Generator(0), ...opts });
        expect(make, JSON.stringify(opts)).toThrow(ShapeError);
        expect(make, JSON.stringify(opts)).toThrow(new RegExp(`^${cls}: ${message.source}`));
      }
    });
  }
});

// --- end to end ----------------------------------------------------------------------------------

/**
 * A linear autoencoder around `ste` on 8 clusters of 2-D points (as training.test.ts), M = 16,
 * 300 steps of Adam (lr 0.05), the codebook moved +15 on both axes after construction: far from
 * every encoder output, so every row picks the same extreme code and the rest never move.
 *
 * Measured (eval code usage on the training set; mse = eval reconstruction), seeds 0 / 1 / 2 / 3 / 4:
 *
 *   ste, init normal (collapsed)   0.063 all five    mse 4.5–4.6
 *   ste, init 'data'               0.875 0.875 0.938 0.875 0.875   mse 0.065–0.074
 *   ste+restart, init normal       1.000 all five    mse 0.052–0.065 (18–24 codes restarted)
 *
 * The thresholds below (≤ 0.25, ≥ 0.6, ≥ 0.75; mse > 2 vs < 0.3) leave wide margins either way.
 */
describe('end to end: a start far from the data', () => {
  const M = 16;
  function train(method: Method, init: 'normal' | 'data', seed: number) {
    const gen = new Generator(seed);
    const x = clusteredData(100 + seed);
    const encoder = new Linear(2, 2, { generator: gen });
    const decoder = new Linear(2, 2, { generator: gen });
    const q = createQuantizer(method, { dim: 2, codebookSize: M, init, generator: gen }) as VectorQuantizer;
    q.codebook.assign(q.codebook.add(15)); // for init 'data' the first batch overwrites it
    const opt = new Adam([...encoder.parameters(), ...decoder.parameters(), ...q.parameters()], { lr: 0.05 });
    for (let step = 0; step < 300; step++) {
      opt.zeroGrad();
      const out = q.forward(encoder.forward(x));
      mseLoss(decoder.forward(out.quantized), x).add(out.loss).backward();
      opt.step();
    }
    q.eval();
    const out = q.forward(encoder.forward(x));
    const tracker = new CodeUsageTracker(M);
    tracker.update(out.indices);
    return { usage: tracker.result().overall.codeUsage, mse: mseLoss(decoder.forward(out.quantized), x).item(), restarts: q.restarts?.item() ?? 0 };
  }

  for (const seed of [0, 1, 2]) {
    it(`seed ${seed}: ste collapses; init 'data' and ste+restart use most codes and reconstruct far better`, () => {
      const collapsed = train('ste', 'normal', seed);
      const data = train('ste', 'data', seed);
      const restart = train('ste+restart', 'normal', seed);
      const table = JSON.stringify({ collapsed, data, restart });
      expect(collapsed.usage, table).toBeLessThanOrEqual(0.25);
      expect(collapsed.mse, table).toBeGreaterThan(2);
      expect(data.usage, table).toBeGreaterThanOrEqual(0.6);
      expect(data.mse, table).toBeLessThan(0.3);
      expect(restart.usage, table).toBeGreaterThanOrEqual(0.75);
      expect(restart.mse, table).toBeLessThan(0.3);
      expect(restart.restarts, table).toBeGreaterThan(0);
    });
  }
});
