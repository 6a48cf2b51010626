/**
 * Shared test helpers for @simplex-vq/vq: fast-check arbitraries for the matrices the KNN
 * regularizer sees, naive float64 references written with plain loops (the package is tested
 * against these, never against itself), closeness assertions, and the clustered 2-D data of the
 * training-loop tests.
 *
 * Arbitraries produce plain data (shapes and number arrays), never Tensors, so fast-check prints
 * readable counterexamples; tests build tensors with `mat()`.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { Generator, tensor, type Tensor } from '@simplex-vq/tensor';
import type { KnnDistance } from '../src/index.js';

// --- tensors and assertions ---------------------------------------------------------------------

/** A float32 [rows, cols] tensor from nested rows. */
export function mat(rows: readonly (readonly number[])[], requiresGrad = false): Tensor {
  const n = rows.length, m = rows[0]?.length ?? 0;
  return tensor(Float32Array.from(rows.flat()), { shape: [n, m], requiresGrad });
}

/** A float32 tensor of N(0, 1)·scale values from a seeded generator. */
export function randT(shape: readonly number[], seed: number, scale = 1): Tensor {
  const g = new Generator(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from({ length: size }, () => scale * g.normal()), { shape });
}

/** The values of a tensor as a plain number array. */
export const flat = (t: Tensor): number[] => Array.from(t.data());

/** The rows of a 2-D tensor as nested float64 arrays. */
export const rowsOf = (t: Tensor): number[][] => t.toArray() as number[][];

/** Float32 rounding of a nested matrix (what a float32 tensor stores). */
export const f32 = (rows: readonly (readonly number[])[]): number[][] => rows.map((r) => Array.from(Float32Array.from(r)));

/** |a − e| ≤ atol + rtol·|e| elementwise, naming the first offender. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-5, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      expect.fail(`${what} element ${i}: got ${a}, expected ${e} (|diff| ${Math.abs(a - e)}, atol ${atol}, rtol ${rtol})`);
    }
  }
}

// --- float64 references -------------------------------------------------------------------------

export function logSoftmax64(row: readonly number[]): number[] {
  const mx = Math.max(...row);
  const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
  return row.map((v) => v - lse);
}

export const softmax64 = (row: readonly number[]): number[] => logSoftmax64(row).map(Math.exp);

/** exp H(q) of a distribution (0 log 0 = 0; q need not be normalized: it is divided by its sum). */
export function perplexity64(q: readonly number[]): number {
  const total = q.reduce((a, b) => a + b, 0);
  let h = 0;
  for (const v of q) if (v > 0) h -= (v / total) * Math.log(v / total);
  return Math.exp(h);
}

export type KnnInput = 'logits' | 'logProbs' | 'probs';

/**
 * −D(e_m, p_n) for every row n and vertex m, in float64, from the matrix the regularizer is given:
 * CE: log p_n,m;  L2: −(1 − 2p_n,m + ‖p_n‖²).
 */
export function negDistances(x: readonly (readonly number[])[], distance: KnnDistance, input: KnnInput): number[][] {
  return x.map((row) => {
    const lp = input === 'logits' ? logSoftmax64(row) : input === 'logProbs' ? [...row] : row.map(Math.log);
    const p = input === 'probs' ? [...row] : lp.map(Math.exp);
    if (distance === 'ce') return lp;
    const sq = p.reduce((s, v) => s + v * v, 0);
    return p.map((v) => -(1 - 2 * v + sq));
  });
}

/**
 * Brute-force neighbour search: for each shard, each vertex of `vertices` (default all) and each
 * k, the row (in the whole matrix) of the k-th nearest quantizer; ties go to the lower row index.
 */
export function bruteNeighbours(score: readonly (readonly number[])[], k: number, shards = 1, vertices?: readonly number[]): number[][][] {
  const n = score.length, m = score[0]!.length, per = n / shards;
  const vs = vertices ?? Array.from({ length: m }, (_, j) => j);
  const out: number[][][] = [];
  for (let s = 0; s < shards; s++) {
    const rowsOfShard = Array.from({ length: per }, (_, i) => s * per + i);
    const byVertex = vs.map((j) => [...rowsOfShard].sort((a, b) => score[b]![j]! - score[a]![j]! || a - b).slice(0, k));
    // Layout of knnNeighbours: [shard][k][vertex].
    out.push(Array.from({ length: k }, (_, q) => byVertex.map((rows) => rows[q]!)));
  }
  return out;
}

/** L_KNN in float64: the mean distance of the chosen neighbours. */
export function bruteLoss(score: readonly (readonly number[])[], k: number, shards = 1, vertices?: readonly number[]): number {
  const nb = bruteNeighbours(score, k, shards, vertices);
  const vs = vertices ?? Array.from({ length: score[0]!.length }, (_, j) => j);
  let total = 0, count = 0;
  for (const shard of nb) for (const row of shard) row.forEach((r, jj) => {
    total -= score[r]![vs[jj]!]!;
    count++;
  });
  return total / count;
}

/**
 * The smallest gap between consecutive values among the top k + 1 of each column within each
 * shard, for the columns of `vertices`: how far the neighbour ranking is from a tie.
 */
export function rankingMargin(score: readonly (readonly number[])[], k: number, shards = 1): number {
  const n = score.length, m = score[0]!.length, per = n / shards;
  let margin = Infinity;
  for (let s = 0; s < shards; s++) {
    for (let j = 0; j < m; j++) {
      const col = Array.from({ length: per }, (_, i) => score[s * per + i]![j]!).sort((a, b) => b - a);
      for (let q = 0; q < Math.min(k + 1, per) - 1; q++) margin = Math.min(margin, col[q]! - col[q + 1]!);
    }
  }
  return margin;
}

/** The input matrix for each KNN input kind, from logits, rounded through float32 as stored. */
export function asInput(logits: readonly (readonly number[])[], input: KnnInput): number[][] {
  if (input === 'logits') return f32(logits);
  return f32(logits.map((r) => (input === 'logProbs' ? logSoftmax64(r) : softmax64(r))));
}

// --- arbitraries --------------------------------------------------------------------------------

/**
 * Uniform values on a fine grid of [min, max]. Unbiased on purpose: fast-check's default bias
 * favours the bounds and small values, which makes exact ties in every column.
 */
export const gridValue = (min = -3, max = 3) =>
  fc.noBias(fc.integer({ min: 0, max: 1_000_000 })).map((i) => min + ((max - min) * i) / 1_000_000);

/** An [n, m] matrix of grid values. */
export const matrixArb = (n: number, m: number, min = -3, max = 3) =>
  fc.array(fc.array(gridValue(min, max), { minLength: m, maxLength: m }), { minLength: n, maxLength: n });

export interface KnnCase {
  /** Rows N = shards · perShard. */
  n: number;
  m: number;
  k: number;
  shards: number;
  distance: KnnDistance;
  input: KnnInput;
  /** Logits [N, M] (the matrix handed over is `asInput(logits, input)`). */
  logits: number[][];
}

/** A small KNN problem: M ∈ [2, 5], K ∈ [1, 3], S ∈ [1, maxShards], K to K·M + 2 rows per shard. */
export const knnCaseArb = (opts: { maxShards?: number; distance?: KnnDistance; input?: KnnInput; maxM?: number } = {}) =>
  fc
    .record({
      m: fc.integer({ min: 2, max: opts.maxM ?? 5 }),
      k: fc.integer({ min: 1, max: 3 }),
      shards: fc.integer({ min: 1, max: opts.maxShards ?? 1 }),
      distance: opts.distance ? fc.constant(opts.distance) : fc.constantFrom<KnnDistance>('ce', 'l2'),
      input: opts.input ? fc.constant(opts.input) : fc.constantFrom<KnnInput>('logits', 'logProbs', 'probs'),
      extra: fc.integer({ min: 0, max: 12 }),
    })
    .chain(({ m, k, shards, distance, input, extra }) => {
      const perShard = k + (extra % (k * m + 3));
      const n = shards * perShard;
      return matrixArb(n, m).map((logits): KnnCase => ({ n, m, k, shards, distance, input, logits }));
    });

/** The [N, M] matrix of a case, as handed to knnRegularizer, and its float64 −D scores. */
export function caseMatrix(c: KnnCase): { x: number[][]; score: number[][] } {
  const x = asInput(c.logits, c.input);
  return { x, score: negDistances(x, c.distance, c.input) };
}

/** A permutation of 0..n−1. */
export const permutationArb = (n: number) =>
  fc.shuffledSubarray(
    Array.from({ length: n }, (_, i) => i),
    { minLength: n, maxLength: n },
  );

/**
 * A batch of probability rows in which every vertex of each shard has at least K exactly one-hot
 * rows, plus "filler" rows that are nowhere one-hot (every entry ≥ 0.04 before normalizing), the
 * rows of each shard shuffled. `lacking` (when set) names a shard and vertex that keeps only K − 1
 * one-hot rows; its missing rows become near-one-hot rows (1 − δ on the vertex).
 */
export interface OneHotBatch {
  m: number;
  k: number;
  shards: number;
  probs: number[][];
  lacking: { shard: number; vertex: number } | null;
}

export const oneHotBatchArb = (opts: { lacking: boolean; maxShards?: number }) =>
  fc
    .record({
      m: fc.integer({ min: 2, max: 5 }),
      k: fc.integer({ min: 1, max: 3 }),
      shards: fc.integer({ min: 1, max: opts.maxShards ?? 2 }),
    })
    .chain(({ m, k, shards }) => {
      const shardArb = fc
        .record({
          copies: fc.array(fc.integer({ min: k, max: k + 1 }), { minLength: m, maxLength: m }),
          fillers: fc.array(fc.array(fc.integer({ min: 1, max: 25 }), { minLength: m, maxLength: m }), { minLength: 0, maxLength: 3 }),
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        })
        .map(({ copies, fillers, seed }) => ({ copies, fillers, seed }));
      return fc.record({
        shardParts: fc.array(shardArb, { minLength: shards, maxLength: shards }),
        lacking: opts.lacking
          ? fc.record({ shard: fc.integer({ min: 0, max: shards - 1 }), vertex: fc.integer({ min: 0, max: m - 1 }), delta: fc.constantFrom(1e-3, 0.05, 0.5) })
          : fc.constant(null),
      }).map(({ shardParts, lacking }) => {
        // Every shard must have the same number of rows: pad with fillers up to the largest.
        const parts = shardParts.map((p, s) => {
          const rows: number[][] = [];
          p.copies.forEach((c, v) => {
            const keep = lacking && lacking.shard === s && lacking.vertex === v ? k - 1 : c;
            for (let i = 0; i < keep; i++) rows.push(Array.from({ length: m }, (_, j) => (j === v ? 1 : 0)));
            for (let i = keep; i < c; i++) {
              rows.push(Array.from({ length: m }, (_, j) => (j === v ? 1 - lacking!.delta : lacking!.delta / (m - 1))));
            }
          });
          for (const f of p.fillers) {
            const w = f.map((v) => v + 1); // ≥ 2 of at most 26·m: no entry above 1 − 0.04
            const t = w.reduce((a, b) => a + b, 0);
            rows.push(w.map((v) => v / t));
          }
          return { rows, seed: p.seed };
        });
        const size = Math.max(...parts.map((p) => p.rows.length));
        const probs: number[][] = [];
        for (const p of parts) {
          while (p.rows.length < size) p.rows.push(Array.from({ length: m }, () => 1 / m));
          const g = new Generator(p.seed);
          for (let i = p.rows.length - 1; i > 0; i--) {
            const j = g.randint(0, i + 1);
            [p.rows[i], p.rows[j]] = [p.rows[j]!, p.rows[i]!];
          }
          probs.push(...p.rows);
        }
        return { m, k, shards, probs, lacking: lacking ? { shard: lacking.shard, vertex: lacking.vertex } : null } satisfies OneHotBatch;
      });
    });

/**
 * Logits with huge margins for a probability matrix: log p, with −200 for zeros. In float32
 * exp(−200) underflows to 0, so softmax and log-softmax give the one-hot rows exactly.
 */
export const hugeMarginLogits = (probs: readonly (readonly number[])[]): number[][] => probs.map((r) => r.map((v) => (v === 0 ? -200 : Math.log(v))));

// --- data and training --------------------------------------------------------------------------

/** `clusters` Gaussian blobs of `perCluster` points on a circle of `radius`, [N, 2], in cluster order. */
export function clusteredData(seed: number, opts: { clusters?: number; perCluster?: number; radius?: number; noise?: number } = {}): Tensor {
  const { clusters = 8, perCluster = 32, radius = 3, noise = 0.3 } = opts;
  const g = new Generator(seed);
  const v: number[] = [];
  for (let c = 0; c < clusters; c++) {
    const a = (2 * Math.PI * c) / clusters;
    for (let i = 0; i < perCluster; i++) v.push(radius * Math.cos(a) + noise * g.normal(), radius * Math.sin(a) + noise * g.normal());
  }
  return tensor(Float32Array.from(v), { shape: [clusters * perCluster, 2] });
}
