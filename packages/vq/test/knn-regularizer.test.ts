/**
 * The KNN regularizer: L_KNN = 1/(M·K) Σ_m Σ_k D(e_m, p_(m,k)), checked against brute force and
 * against its defining properties — non-negative, zero exactly at K one-hot neighbours per
 * vertex, invariant to row order, equivariant under code permutations, gradients that match
 * central differences with the selection fixed and vanish on rows nobody selected, shards and
 * vertex subsets as specified, and errors that name the numbers involved.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, ShapeError, gradCheck, tensor, type Tensor } from '@simplex-vq/tensor';
import { chooseVertices, knnNeighbours, knnRegularizer, type KnnOptions } from '../src/index.js';
import {
  bruteLoss,
  bruteNeighbours,
  caseMatrix,
  expectClose,
  hugeMarginLogits,
  knnCaseArb,
  mat,
  negDistances,
  oneHotBatchArb,
  permutationArb,
  rankingMargin,
  type KnnCase,
} from './helpers.js';

const RUNS = 60;

/** Options of a case. */
const optsOf = (c: KnnCase, extra: KnnOptions = {}): KnnOptions => ({ k: c.k, distance: c.distance, shards: c.shards, input: c.input, ...extra });

/** The ranking of a case is at least this far from a tie (float32 rounding cannot reorder it). */
const SEPARATED = 1e-3;

describe('knnRegularizer: value', () => {
  it('equals the brute-force mean distance of the K nearest quantizers of each vertex', () => {
    fc.assert(
      fc.property(knnCaseArb({ maxShards: 3 }), (c) => {
        const { x, score } = caseMatrix(c);
        fc.pre(rankingMargin(score, c.k, c.shards) > SEPARATED);
        const loss = knnRegularizer(mat(x), optsOf(c)).item();
        expect(loss).toBeCloseTo(bruteLoss(score, c.k, c.shards), 5);
      }),
      { numRuns: RUNS },
    );
  });

  it('is a scalar; ce on logits equals ce on their log-softmax and on their softmax', () => {
    fc.assert(
      fc.property(knnCaseArb({ distance: 'ce', input: 'logits' }), (c) => {
        const out = knnRegularizer(mat(c.logits), optsOf(c));
        expect(out.shape).toEqual([]);
        const viaLogProbs = knnRegularizer(mat(c.logits).logSoftmax(-1), { ...optsOf(c), input: 'logProbs' }).item();
        const viaProbs = knnRegularizer(mat(c.logits).softmax(-1), { ...optsOf(c), input: 'probs' }).item();
        expect(viaLogProbs).toBeCloseTo(out.item(), 5);
        expect(viaProbs).toBeCloseTo(out.item(), 4);
      }),
      { numRuns: 30 },
    );
  });

  it('hand-computed example (CE and L2, K = 1 and 2)', () => {
    const p = [
      [0.7, 0.2, 0.1],
      [0.1, 0.8, 0.1],
      [0.5, 0.4, 0.1],
      [0.2, 0.2, 0.6],
    ];
    const x = mat(p);
    // CE, K = 1: vertex 0 ← row 0 (0.7), vertex 1 ← row 1 (0.8), vertex 2 ← row 3 (0.6).
    const ce1 = -(Math.log(0.7) + Math.log(0.8) + Math.log(0.6)) / 3;
    expect(knnRegularizer(x, { input: 'probs', k: 1 }).item()).toBeCloseTo(ce1, 6);
    // CE, K = 2: second nearest: vertex 0 ← row 2 (0.5), vertex 1 ← row 2 (0.4), vertex 2 ← rows 0/1/2 tie (0.1).
    const ce2 = -(Math.log(0.7) + Math.log(0.5) + Math.log(0.8) + Math.log(0.4) + Math.log(0.6) + Math.log(0.1)) / 6;
    expect(knnRegularizer(x, { input: 'probs', k: 2 }).item()).toBeCloseTo(ce2, 6);
    // L2: D = 1 − 2p_m + ‖p‖².
    const sq = p.map((r) => r.reduce((s, v) => s + v * v, 0));
    const d = (n: number, m: number) => 1 - 2 * p[n]![m]! + sq[n]!;
    const l2 = Math.min(d(0, 0), d(1, 0), d(2, 0), d(3, 0)) + Math.min(d(0, 1), d(1, 1), d(2, 1), d(3, 1)) + Math.min(d(0, 2), d(1, 2), d(2, 2), d(3, 2));
    expect(knnRegularizer(x, { input: 'probs', distance: 'l2' }).item()).toBeCloseTo(l2 / 3, 6);
  });

  it('is ≥ 0 for every input (CE exactly; L2 up to float32 rounding of 1 − 2p + ‖p‖²)', () => {
    fc.assert(
      fc.property(knnCaseArb({ maxShards: 2 }), (c) => {
        const loss = knnRegularizer(mat(caseMatrix(c).x), optsOf(c)).item();
        if (c.distance === 'ce') expect(loss).toBeGreaterThanOrEqual(0);
        else expect(loss).toBeGreaterThanOrEqual(-1e-6);
      }),
      { numRuns: RUNS },
    );
  });

  it('is exactly 0 when every vertex has K exactly one-hot neighbours (in every shard), as probs, logProbs or logits', () => {
    fc.assert(
      fc.property(oneHotBatchArb({ lacking: false }), fc.constantFrom('ce', 'l2'), (b, distance) => {
        const opts = { k: b.k, shards: b.shards, distance } as const;
        const logits = hugeMarginLogits(b.probs);
        const values = [
          knnRegularizer(mat(b.probs), { ...opts, input: 'probs' }).item(),
          knnRegularizer(mat(logits), { ...opts, input: 'logits' }).item(),
          knnRegularizer(mat(logits).logSoftmax(-1), { ...opts, input: 'logProbs' }).item(),
        ];
        // == 0 (not toBe: −0 is a fine zero).
        for (const v of values) expect(v === 0, `L_KNN = ${v}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('is > 0 as soon as one vertex of one shard has only K − 1 one-hot rows (the rest near one-hot)', () => {
    fc.assert(
      fc.property(oneHotBatchArb({ lacking: true }), fc.constantFrom('ce', 'l2'), (b, distance) => {
        const opts = { k: b.k, shards: b.shards, distance } as const;
        expect(knnRegularizer(mat(b.probs), { ...opts, input: 'probs' }).item()).toBeGreaterThan(0);
        expect(knnRegularizer(mat(hugeMarginLogits(b.probs)), { ...opts, input: 'logits' }).item()).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('knnRegularizer: symmetries', () => {
  it('is invariant to permuting the rows (one shard), and the chosen rows move with them', () => {
    fc.assert(
      fc.property(
        knnCaseArb().chain((c) => fc.tuple(fc.constant(c), permutationArb(c.n))),
        ([c, perm]) => {
          const { x, score } = caseMatrix(c);
          fc.pre(rankingMargin(score, c.k) > SEPARATED);
          const permuted = perm.map((i) => x[i]!); // new row r is old row perm[r]
          const before = knnRegularizer(mat(x), optsOf(c)).item();
          const after = knnRegularizer(mat(permuted), optsOf(c)).item();
          expect(after).toBeCloseTo(before, 6);
          const inverse = new Array<number>(c.n);
          perm.forEach((old, r) => (inverse[old] = r));
          const rows = knnNeighbours(mat(x), optsOf(c)).rows;
          const rowsAfter = knnNeighbours(mat(permuted), optsOf(c)).rows;
          expect(rowsAfter).toEqual(rows.map((shard) => shard.map((ks) => ks.map((r) => inverse[r]!))));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('is equivariant under permuting the codes: same loss, the neighbours of vertex σ(j) become those of j', () => {
    fc.assert(
      fc.property(
        knnCaseArb({ maxShards: 2 }).chain((c) => fc.tuple(fc.constant(c), permutationArb(c.m))),
        ([c, sigma]) => {
          const { x, score } = caseMatrix(c);
          fc.pre(rankingMargin(score, c.k, c.shards) > SEPARATED);
          const permuted = x.map((row) => sigma.map((j) => row[j]!)); // new column j is old column σ(j)
          expect(knnRegularizer(mat(permuted), optsOf(c)).item()).toBeCloseTo(knnRegularizer(mat(x), optsOf(c)).item(), 5);
          const rows = knnNeighbours(mat(x), optsOf(c)).rows;
          const rowsAfter = knnNeighbours(mat(permuted), optsOf(c)).rows;
          expect(rowsAfter).toEqual(rows.map((shard) => shard.map((ks) => sigma.map((j) => ks[j]!))));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('knnNeighbours', () => {
  it('equals a brute-force search under each distance and input (CE: top-K of log p per column; L2: the K smallest 1 − 2p_m + ‖p‖²)', () => {
    fc.assert(
      fc.property(knnCaseArb({ maxShards: 3 }), (c) => {
        const { x, score } = caseMatrix(c);
        fc.pre(rankingMargin(score, c.k, c.shards) > SEPARATED);
        const { rows, vertices } = knnNeighbours(mat(x), optsOf(c));
        expect(vertices).toBeNull();
        expect(rows).toEqual(bruteNeighbours(score, c.k, c.shards));
        // Rows are global indices inside their own shard.
        const per = c.n / c.shards;
        rows.forEach((shard, s) => shard.flat().forEach((r) => expect(Math.floor(r / per)).toBe(s)));
      }),
      { numRuns: RUNS },
    );
  });

  it('breaks ties toward the lower row index (duplicated rows)', () => {
    fc.assert(
      fc.property(knnCaseArb({ input: 'probs' }), fc.integer({ min: 1, max: 3 }), (c, copies) => {
        fc.pre(rankingMargin(caseMatrix(c).score, c.k) > SEPARATED); // ties only between copies
        // Every row repeated `copies` times in a row: identical rows give bit-identical scores.
        const x = caseMatrix(c).x.flatMap((r) => Array.from({ length: copies }, () => r));
        const score = negDistances(x, c.distance, 'probs');
        const { rows } = knnNeighbours(mat(x), { ...optsOf(c), shards: 1 });
        expect(rows).toEqual(bruteNeighbours(score, c.k, 1));
      }),
      { numRuns: 40 },
    );
  });

  it('a column of equal values selects rows 0..K−1 in order', () => {
    const x = mat([
      [0.5, 0.5],
      [0.5, 0.5],
      [0.5, 0.5],
    ]);
    expect(knnNeighbours(x, { input: 'probs', k: 2 }).rows).toEqual([
      [
        [0, 0],
        [1, 1],
      ],
    ]);
  });
});

describe('knnRegularizer: gradient', () => {
  it('matches central differences with the selection held fixed (well-separated rankings)', () => {
    fc.assert(
      fc.property(knnCaseArb({ maxShards: 2 }), (c) => {
        const { x, score } = caseMatrix(c);
        fc.pre(rankingMargin(score, c.k, c.shards) > SEPARATED);
        const r = gradCheck((t: Tensor) => knnRegularizer(t, optsOf(c)), [mat(x)], { atol: 1e-6, rtol: 1e-4 });
        expect(r.ok, r.message).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('also with a vertex subset (the same seed each evaluation)', () => {
    fc.assert(
      fc.property(knnCaseArb({ input: 'logits' }), fc.integer({ min: 0, max: 1000 }), (c, seed) => {
        const { x, score } = caseMatrix(c);
        fc.pre(rankingMargin(score, c.k) > SEPARATED);
        const fn = (t: Tensor) => knnRegularizer(t, optsOf(c, { vertexSubset: 0.5, generator: new Generator(seed) }));
        const r = gradCheck(fn, [mat(x)], { atol: 1e-6, rtol: 1e-4 });
        expect(r.ok, r.message).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('is exactly zero on every row no vertex selected, for each distance and input kind', () => {
    fc.assert(
      fc.property(knnCaseArb({ maxShards: 2 }), (c) => {
        const { x, score } = caseMatrix(c);
        fc.pre(rankingMargin(score, c.k, c.shards) > SEPARATED);
        const t = mat(x, true);
        knnRegularizer(t, optsOf(c)).backward();
        const grad = t.grad!.toArray() as number[][];
        const selected = new Set(knnNeighbours(mat(x), optsOf(c)).rows.flat(2));
        grad.forEach((row, n) => {
          if (!selected.has(n)) expect(row.every((g) => g === 0), `row ${n} gradient ${row}`).toBe(true);
        });
        // Every selected row receives some gradient (the selected distances do carry one).
        for (const n of selected) expect(grad[n]!.some((g) => g !== 0), `selected row ${n}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('CE on logProbs or probs: only the selected entries get gradient; on logProbs it is −1/(S·K·M) each', () => {
    fc.assert(
      fc.property(knnCaseArb({ maxShards: 2, distance: 'ce' }).filter((c) => c.input !== 'logits'), (c) => {
        const { x, score } = caseMatrix(c);
        fc.pre(rankingMargin(score, c.k, c.shards) > SEPARATED);
        const t = mat(x, true);
        knnRegularizer(t, optsOf(c)).backward();
        const grad = t.grad!.toArray() as number[][];
        const picked = new Set<string>();
        knnNeighbours(mat(x), optsOf(c)).rows.forEach((shard) => shard.forEach((ks) => ks.forEach((r, j) => picked.add(`${r},${j}`))));
        const w = 1 / (c.shards * c.k * c.m);
        grad.forEach((row, n) =>
          row.forEach((g, j) => {
            if (!picked.has(`${n},${j}`)) expect(g, `entry ${n},${j}`).toBe(0);
            else if (c.input === 'logProbs') expect(g).toBeCloseTo(-w, 7);
            else expect(g).toBeCloseTo(-w / x[n]![j]!, 3); // d(−log p)/dp
          }),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('with logits input the log-softmax spreads a selected entry over its whole row, and nowhere else', () => {
    // Column 0's nearest is row 1, column 1's is row 2; rows 0 and 3 are chosen by no vertex.
    const x = mat(
      [
        [0, 0, 0],
        [3, 0, 0],
        [0, 3, 0],
        [0, 0, 1],
        [0, 0, 4],
      ],
      true,
    );
    knnRegularizer(x, { k: 1 }).backward();
    const g = x.grad!.toArray() as number[][];
    expect(g[0]).toEqual([0, 0, 0]);
    expect(g[3]).toEqual([0, 0, 0]);
    for (const n of [1, 2, 4]) expect(g[n]!.every((v) => v !== 0)).toBe(true);
    // d/dℓ of −log softmax(ℓ)_m / M is (p − e_m)/M: each selected row's gradient sums to zero.
    for (const n of [1, 2, 4]) expect(Math.abs(g[n]!.reduce((a, b) => a + b, 0))).toBeLessThan(1e-7);
  });
});

describe('knnRegularizer: shards', () => {
  it('one shard is the unsharded loss', () => {
    fc.assert(
      fc.property(knnCaseArb(), (c) => {
        const x = mat(caseMatrix(c).x);
        expect(knnRegularizer(x, optsOf(c, { shards: 1 })).item()).toBe(knnRegularizer(x, { k: c.k, distance: c.distance, input: c.input }).item());
      }),
      { numRuns: 30 },
    );
  });

  it('S shards give the mean of the per-shard losses, each shard finding its own neighbours', () => {
    fc.assert(
      fc.property(knnCaseArb({ maxShards: 4 }), (c) => {
        const { x } = caseMatrix(c);
        const per = c.n / c.shards;
        const parts = Array.from({ length: c.shards }, (_, s) => x.slice(s * per, (s + 1) * per));
        const perShard = parts.map((p) => knnRegularizer(mat(p), optsOf(c, { shards: 1 })).item());
        const mean = perShard.reduce((a, b) => a + b, 0) / c.shards;
        expect(knnRegularizer(mat(x), optsOf(c)).item()).toBeCloseTo(mean, 6);
        const rows = knnNeighbours(mat(x), optsOf(c)).rows;
        parts.forEach((p, s) => {
          const own = knnNeighbours(mat(p), optsOf(c, { shards: 1 })).rows[0]!;
          expect(rows[s]).toEqual(own.map((ks) => ks.map((r) => r + s * per)));
        });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('knnRegularizer: vertex subsets', () => {
  it('a subset holding every vertex (count ≥ M, or a fraction rounding to M) is the full loss', () => {
    fc.assert(
      fc.property(knnCaseArb({ maxShards: 2 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 100 }), (c, over, seed) => {
        const x = mat(caseMatrix(c).x);
        const full = knnRegularizer(x, optsOf(c)).item();
        const count = knnRegularizer(x, optsOf(c, { vertexSubset: c.m + over, generator: new Generator(seed) })).item();
        const fraction = knnRegularizer(x, optsOf(c, { vertexSubset: 1 - 0.4 / c.m, generator: new Generator(seed) })).item();
        expect(count).toBe(full);
        expect(fraction).toBe(full);
        expect(knnNeighbours(x, optsOf(c, { vertexSubset: c.m + over })).vertices).toBeNull();
      }),
      { numRuns: 30 },
    );
  });

  it('a subset is reproducible for a seed, and its loss averages over the subset only', () => {
    fc.assert(
      fc.property(
        knnCaseArb({ maxShards: 2, maxM: 6 }),
        fc.oneof(fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.integer({ min: 1, max: 6 })),
        fc.integer({ min: 0, max: 10_000 }),
        (c, subset, seed) => {
          const { x, score } = caseMatrix(c);
          fc.pre(rankingMargin(score, c.k, c.shards) > SEPARATED);
          const opts = () => optsOf(c, { vertexSubset: subset, generator: new Generator(seed) });
          const a = knnRegularizer(mat(x), opts()).item();
          const b = knnRegularizer(mat(x), opts()).item();
          expect(a).toBe(b);
          const { rows, vertices } = knnNeighbours(mat(x), opts());
          const expectedCount = subset < 1 ? Math.max(1, Math.round(subset * c.m)) : Math.min(c.m, Math.floor(subset));
          if (expectedCount >= c.m) {
            expect(vertices).toBeNull();
            return;
          }
          expect(vertices).not.toBeNull();
          expect(vertices!.length).toBe(expectedCount);
          expect(new Set(vertices).size).toBe(expectedCount);
          expect([...vertices!].sort((p, q) => p - q)).toEqual(vertices);
          vertices!.forEach((v) => expect(v >= 0 && v < c.m).toBe(true));
          expect(knnNeighbours(mat(x), opts()).vertices).toEqual(vertices);
          expect(rows).toEqual(bruteNeighbours(score, c.k, c.shards, vertices!));
          expect(a).toBeCloseTo(bruteLoss(score, c.k, c.shards, vertices!), 5);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('different seeds draw different subsets; over many draws every vertex is used', () => {
    const seen = new Set<number>();
    const subsets = new Set<string>();
    for (let seed = 0; seed < 50; seed++) {
      const v = chooseVertices(10, 3, new Generator(seed))!;
      v.forEach((j) => seen.add(j));
      subsets.add(v.join());
    }
    expect(seen.size).toBe(10);
    expect(subsets.size).toBeGreaterThan(20);
  });

  it('draws subsets uniformly: each of the C(5, 2) = 10 pairs about equally often', () => {
    const g = new Generator(11);
    const counts = new Map<string, number>();
    const draws = 10_000;
    for (let i = 0; i < draws; i++) {
      const key = chooseVertices(5, 2, g)!.join();
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(10);
    // Binomial(10 000, 0.1): sd 30; allow 5 sd.
    for (const [key, c] of counts) expect(Math.abs(c - draws / 10), `subset ${key}: ${c}`).toBeLessThan(150);
  });

  it('consumes the generator: successive calls with one generator use fresh subsets', () => {
    const g = new Generator(7);
    const draws = Array.from({ length: 10 }, () => chooseVertices(8, 0.25, g)!.join());
    expect(new Set(draws).size).toBeGreaterThan(1);
  });

  it('rejects a non-positive subset', () => {
    const x = mat([[0.5, 0.5]]);
    for (const bad of [0, -1, Number.NaN]) {
      expect(() => knnRegularizer(x, { input: 'probs', vertexSubset: bad })).toThrow(/vertexSubset/);
    }
  });
});

describe('knnRegularizer: errors', () => {
  it('too few rows per shard: a ShapeError naming N, the shards and K', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), (shards, perShard, extraK) => {
        const n = shards * perShard, k = perShard + extraK;
        const x = tensor(new Float32Array(n * 3), { shape: [n, 3] });
        let err: unknown;
        try {
          knnRegularizer(x, { k, shards });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ShapeError);
        const msg = (err as Error).message;
        expect(msg).toContain(`N = ${n}`);
        expect(msg).toContain(`K = ${k}`);
        expect(msg).toContain(`${shards} shard`);
        expect(() => knnNeighbours(x, { k, shards })).toThrow(ShapeError);
      }),
      { numRuns: 30 },
    );
  });

  it('N not divisible by the shards: a ShapeError naming both', () => {
    const x = tensor(new Float32Array(7 * 2), { shape: [7, 2] });
    expect(() => knnRegularizer(x, { shards: 2 })).toThrow(ShapeError);
    expect(() => knnRegularizer(x, { shards: 2 })).toThrow(/N = 7 rows cannot be split into 2 equal shards/);
  });

  it('bad k, shards, distance or rank', () => {
    const x = tensor(new Float32Array(8), { shape: [4, 2] });
    expect(() => knnRegularizer(x, { k: 0 })).toThrow(/k must be a positive integer, got 0/);
    expect(() => knnRegularizer(x, { k: 1.5 })).toThrow(/k must be a positive integer/);
    expect(() => knnRegularizer(x, { shards: 0 })).toThrow(/shards must be a positive integer/);
    expect(() => knnRegularizer(x, { distance: 'cosine' as never })).toThrow(/distance must be 'ce' or 'l2', got 'cosine'/);
    expect(() => knnRegularizer(x.reshape([8]))).toThrow(/expects a \[N, M\] matrix of logits, got shape \[8\]/);
    expect(() => knnRegularizer(x.reshape([2, 2, 2]), { input: 'probs' })).toThrow(/matrix of probs/);
  });

  it('K = N per shard is allowed: every row is a neighbour of every vertex', () => {
    const x = mat([
      [0.9, 0.1],
      [0.3, 0.7],
    ]);
    const expected = -(Math.log(0.9) + Math.log(0.3) + Math.log(0.1) + Math.log(0.7)) / 4;
    expect(knnRegularizer(x, { input: 'probs', k: 2 }).item()).toBeCloseTo(expected, 6);
    expect(() => knnRegularizer(x, { input: 'probs', k: 3 })).toThrow(/K = 3/);
  });
});

describe('knnRegularizer: brute force agrees on a large random case', () => {
  it('N = 64, M = 16, K = 3, S = 4, each distance and input kind', () => {
    const g = new Generator(3);
    const logits = Array.from({ length: 64 }, () => Array.from({ length: 16 }, () => 2 * g.normal()));
    for (const input of ['logits', 'logProbs', 'probs'] as const) {
      for (const distance of ['ce', 'l2'] as const) {
        const c: KnnCase = { n: 64, m: 16, k: 3, shards: 4, distance, input, logits };
        const { x, score } = caseMatrix(c);
        expect(rankingMargin(score, 3, 4)).toBeGreaterThan(1e-5);
        expect(knnNeighbours(mat(x), optsOf(c)).rows).toEqual(bruteNeighbours(score, 3, 4));
        expectClose([knnRegularizer(mat(x), optsOf(c)).item()], [bruteLoss(score, 3, 4)], 1e-5, 1e-5, `${input}/${distance}`);
      }
    }
  });
});
