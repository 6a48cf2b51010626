/**
 * entropy, perplexityRegularizer, and the paper's argument for the KNN regularizer: the perplexity
 * of the batch mean cannot tell quantizers at the simplex vertices from quantizers at its centre,
 * while individual perplexity and L_KNN can.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradCheck, tensor, type Tensor } from '@simplex-vq/tensor';
import { CodeUsageTracker, entropy, knnRegularizer, perplexityRegularizer } from '../src/index.js';
import { logSoftmax64, mat, matrixArb, perplexity64, softmax64 } from './helpers.js';

describe('entropy', () => {
  it('is −Σ p log p per row, with 0 log 0 = 0', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }).chain((m) => matrixArb(4, m, -4, 4)), fc.boolean(), (logits, zeros) => {
        const p = logits.map((r, i) => {
          const q = softmax64(r);
          if (zeros && i % 2 === 0 && q.length > 1) q[0] = 0; // unnormalized with an exact zero: still −Σ p log p
          return q;
        });
        const h = Array.from(entropy(mat(p)).data());
        p.forEach((q, i) => {
          const ref = -q.reduce((s, v) => s + (v > 0 ? Math.fround(v) * Math.log(Math.fround(v)) : 0), 0);
          expect(h[i]!).toBeCloseTo(ref, 5);
        });
      }),
      { numRuns: 50 },
    );
  });

  it('has a finite gradient at exact zeros', () => {
    const p = mat([[1, 0, 0]], true);
    entropy(p).sum().backward();
    expect(Array.from(p.grad!.data()).every(Number.isFinite)).toBe(true);
  });
});

describe('perplexityRegularizer', () => {
  it('is (M − exp H(p̄))/M for logits and for probs', () => {
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 2, max: 6 }), n: fc.integer({ min: 1, max: 5 }) }).chain(({ m, n }) => matrixArb(n, m)),
        (logits) => {
          const n = logits.length, m = logits[0]!.length;
          const p = logits.map(softmax64);
          const pbar = Array.from({ length: m }, (_, j) => p.reduce((s, r) => s + r[j]!, 0) / n);
          const expected = (m - perplexity64(pbar)) / m;
          expect(perplexityRegularizer(mat(logits)).shape).toEqual([]);
          expect(perplexityRegularizer(mat(logits)).item()).toBeCloseTo(expected, 5);
          expect(perplexityRegularizer(mat(p), { input: 'probs' }).item()).toBeCloseTo(expected, 5);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('lies in [0, (M − 1)/M]: 0 for a balanced batch, (M − 1)/M when every row is the same one-hot', () => {
    const balanced = mat([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(perplexityRegularizer(balanced, { input: 'probs' }).item()).toBeCloseTo(0, 6);
    const collapsed = mat([
      [1, 0, 0],
      [1, 0, 0],
    ]);
    expect(perplexityRegularizer(collapsed, { input: 'probs' }).item()).toBeCloseTo(2 / 3, 6);
  });

  it('has the gradient central differences give', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }).chain((m) => matrixArb(3, m)), (logits) => {
        const r = gradCheck((t: Tensor) => perplexityRegularizer(t), [mat(logits)]);
        expect(r.ok, r.message).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('refuses a non-matrix', () => {
    expect(() => perplexityRegularizer(mat([[1, 2]]).reshape([2]))).toThrow(/expects a \[N, M\] matrix, got shape \[2\]/);
  });
});

describe("the paper's argument: same mean, different distance to the vertices", () => {
  /**
   * M codes, r rows per code. Vertices: row (m, i) is (1 − ε)e_m + ε/M (near one-hot, balanced);
   * centre: row (m, i) is (1 − δ)/M + δ e_m (near uniform, balanced). Both batches have the
   * uniform mean.
   */
  const batches = (m: number, r: number, eps: number, delta: number) => {
    const vertices: number[][] = [], centre: number[][] = [];
    for (let c = 0; c < m; c++) {
      for (let i = 0; i < r; i++) {
        vertices.push(Array.from({ length: m }, (_, j) => (1 - eps) * (j === c ? 1 : 0) + eps / m));
        centre.push(Array.from({ length: m }, (_, j) => (1 - delta) / m + delta * (j === c ? 1 : 0)));
      }
    }
    return { vertices, centre, codes: vertices.map((_, n) => Math.floor(n / r)) };
  };

  it('equal perplexity of the mean and perplexity regularizer; very different individual perplexity and L_KNN', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        fc.integer({ min: 1, max: 3 }),
        (m, r, eps, delta, kRaw) => {
          const k = Math.min(kRaw, r);
          const { vertices, centre, codes } = batches(m, r, eps, delta);
          const stats = (p: number[][]) => {
            const t = new CodeUsageTracker(m);
            t.update(tensor(Int32Array.from(codes)), { probs: mat(p) });
            return t.result().overall;
          };
          const a = stats(vertices), b = stats(centre);
          // What the perplexity regularizer sees: the same.
          expect(a.perplexityOfMeanSoft!).toBeCloseTo(m, 3);
          expect(b.perplexityOfMeanSoft!).toBeCloseTo(m, 3);
          const ra = perplexityRegularizer(mat(vertices), { input: 'probs' }).item();
          const rb = perplexityRegularizer(mat(centre), { input: 'probs' }).item();
          expect(Math.abs(ra)).toBeLessThan(1e-5);
          expect(Math.abs(rb)).toBeLessThan(1e-5);
          // What individual perplexity and L_KNN see: vertices near 1 and 0, the centre near M and log M.
          const perRow = (p: number[]) => perplexity64(p);
          expect(a.individualPerplexity).toBeCloseTo(perRow(vertices[0]!), 4);
          expect(b.individualPerplexity).toBeCloseTo(perRow(centre[0]!), 4);
          expect(a.individualPerplexity).toBeLessThan(1.5);
          expect(b.individualPerplexity).toBeGreaterThan(0.8 * m);
          for (const distance of ['ce', 'l2'] as const) {
            const la = knnRegularizer(mat(vertices), { input: 'probs', k, distance }).item();
            const lb = knnRegularizer(mat(centre), { input: 'probs', k, distance }).item();
            // Each vertex's nearest rows are its own r rows: D of row (m, i) to e_m.
            const dist = (p: number[], c: number) => (distance === 'ce' ? -Math.log(p[c]!) : p.reduce((s, v, j) => s + (v - (j === c ? 1 : 0)) ** 2, 0));
            expect(la).toBeCloseTo(dist(vertices[0]!, 0), 5);
            expect(lb).toBeCloseTo(dist(centre[0]!, 0), 5);
            expect(lb - la).toBeGreaterThan(distance === 'ce' ? 0.5 * Math.log(m) : 0.4);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the exact extremes: one-hot vs uniform rows give L_KNN 0 vs log M (CE) and 0 vs 1 − 1/M (L2)', () => {
    const m = 8;
    const { vertices, centre } = batches(m, 2, 0, 0);
    expect(knnRegularizer(mat(vertices), { input: 'probs', k: 2 }).item() === 0).toBe(true);
    expect(knnRegularizer(mat(centre), { input: 'probs', k: 2 }).item()).toBeCloseTo(Math.log(m), 6);
    expect(knnRegularizer(mat(vertices), { input: 'probs', k: 2, distance: 'l2' }).item() === 0).toBe(true);
    expect(knnRegularizer(mat(centre), { input: 'probs', k: 2, distance: 'l2' }).item()).toBeCloseTo(1 - 1 / m, 6);
    // Logits of the same batches agree.
    const logit = (p: number[][]) => p.map((row) => logSoftmax64(row.map((v) => Math.log(Math.max(v, 1e-300)))));
    expect(knnRegularizer(mat(logit(centre)), { k: 2 }).item()).toBeCloseTo(Math.log(m), 5);
  });
});
