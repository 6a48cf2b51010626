/**
 * CodeUsageTracker against brute-force definitions: code usage, perplexity of the mean (hard and
 * soft), individual perplexity and per-sample code usage; streaming equals one batch; groups are
 * independent trackers averaged; bad input is refused with a readable message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShapeError, tensor } from '@simplex-vq/tensor';
import { CodeUsageTracker } from '../src/index.js';
import { perplexity64 } from './helpers.js';

const ints = (v: readonly number[], shape: readonly number[] = [v.length]) => tensor(Int32Array.from(v), { shape });
const floats = (v: readonly number[], shape: readonly number[]) => tensor(Float32Array.from(v), { shape });

/** A batch: M codes, N rows of hard codes and probability rows (not tied to the codes). */
const batchArb = (maxM = 6, maxN = 24) =>
  fc.integer({ min: 1, max: maxM }).chain((m) =>
    fc.integer({ min: 1, max: maxN }).chain((n) =>
      fc.record({
        m: fc.constant(m),
        n: fc.constant(n),
        codes: fc.array(fc.integer({ min: 0, max: m - 1 }), { minLength: n, maxLength: n }),
        // Unnormalized weights; some rows get exact zeros.
        weights: fc.array(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100 })), { minLength: m, maxLength: m }), { minLength: n, maxLength: n }),
      }),
    ),
  ).map(({ m, n, codes, weights }) => {
    const probs = weights.map((w, i) => {
      const v = w.some((x) => x > 0) ? w : w.map((_, j) => (j === codes[i] ? 1 : 0));
      const t = v.reduce((a, b) => a + b, 0);
      return v.map((x) => x / t);
    });
    return { m, n, codes, probs };
  });

const probsT = (probs: readonly (readonly number[])[], m: number) => floats(probs.flat(), [probs.length, m]);

describe('CodeUsageTracker: figures against their definitions', () => {
  it('code usage, hard and soft perplexity of the mean, individual perplexity', () => {
    fc.assert(
      fc.property(batchArb(), ({ m, n, codes, probs }) => {
        const t = new CodeUsageTracker(m);
        t.update(ints(codes), { probs: probsT(probs, m) });
        const r = t.result().overall;
        const hist = Array.from({ length: m }, (_, j) => codes.filter((c) => c === j).length);
        expect(r.histogram).toEqual(hist);
        expect(r.rows).toBe(n);
        expect(r.codeUsage).toBe(new Set(codes).size / m);
        expect(r.perplexityOfMean).toBeCloseTo(perplexity64(hist), 9);
        const pbar = Array.from({ length: m }, (_, j) => probs.reduce((s, p) => s + Math.fround(p[j]!), 0) / n);
        expect(r.perplexityOfMeanSoft!).toBeCloseTo(perplexity64(pbar), 5);
        const indiv = probs.reduce((s, p) => s + perplexity64(p), 0) / n;
        expect(r.individualPerplexity).toBeCloseTo(indiv, 4);
      }),
      { numRuns: 100 },
    );
  });

  it('perplexities lie in [1, M], code usage in [0, 1]', () => {
    fc.assert(
      fc.property(batchArb(8, 40), ({ m, codes, probs }) => {
        const t = new CodeUsageTracker(m);
        t.update(ints(codes), { probs: probsT(probs, m), rowsPerSample: 1 });
        const r = t.result().overall;
        const tol = 1e-5 * m;
        for (const v of [r.perplexityOfMean, r.perplexityOfMeanSoft!, r.individualPerplexity]) {
          expect(v).toBeGreaterThanOrEqual(1 - tol);
          expect(v).toBeLessThanOrEqual(m + tol);
        }
        for (const v of [r.codeUsage, r.perSampleCodeUsage]) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
        // One row per sample: every sample uses exactly one code.
        expect(r.perSampleCodeUsage).toBeCloseTo(1 / m, 12);
      }),
      { numRuns: 100 },
    );
  });

  it('individual perplexity is 1 on one-hot rows and M on uniform rows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (m, raw) => {
        const codes = raw.map((c) => c % m);
        const onehot = codes.map((c) => Array.from({ length: m }, (_, j) => (j === c ? 1 : 0)));
        const a = new CodeUsageTracker(m);
        a.update(ints(codes), { probs: probsT(onehot, m) });
        expect(a.result().overall.individualPerplexity).toBe(1);
        const uniform = codes.map(() => Array.from({ length: m }, () => 1 / m));
        const b = new CodeUsageTracker(m);
        b.update(ints(codes), { probs: probsT(uniform, m) });
        expect(b.result().overall.individualPerplexity).toBeCloseTo(m, 4);
        expect(b.result().overall.perplexityOfMeanSoft!).toBeCloseTo(m, 4);
      }),
      { numRuns: 60 },
    );
  });

  it('hard quantizers (no probabilities): individual perplexity 1, no soft perplexity', () => {
    const t = new CodeUsageTracker(4);
    t.update(ints([0, 1, 1, 3]));
    const r = t.result().overall;
    expect(r.individualPerplexity).toBe(1);
    expect(r.perplexityOfMeanSoft).toBeNull();
    expect(r.codeUsage).toBe(0.75);
    // histogram [1, 2, 0, 1] / 4
    expect(r.perplexityOfMean).toBeCloseTo(Math.exp(-(0.25 * Math.log(0.25) * 2 + 0.5 * Math.log(0.5))), 12);
  });

  it('an empty tracker reports no usage and perplexity 1', () => {
    const r = new CodeUsageTracker(5).result().overall;
    expect(r).toMatchObject({ codeUsage: 0, perplexityOfMean: 1, perplexityOfMeanSoft: null, individualPerplexity: 1, perSampleCodeUsage: 0, rows: 0 });
  });
});

describe('CodeUsageTracker: per-sample code usage', () => {
  /** Brute force: mean over samples of distinct codes / M. */
  const perSample = (codes: readonly number[], lengths: readonly number[], m: number) => {
    let start = 0, total = 0;
    for (const len of lengths) {
      total += new Set(codes.slice(start, start + len)).size / m;
      start += len;
    }
    return total / lengths.length;
  };

  it('with variable sample lengths', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.array(fc.nat(), { minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 6 }),
        (m, samples) => {
          const codes = samples.flat().map((c) => c % m);
          const lengths = samples.map((s) => s.length);
          const t = new CodeUsageTracker(m);
          t.update(ints(codes), { sampleLengths: lengths });
          expect(t.result().overall.perSampleCodeUsage).toBeCloseTo(perSample(codes, lengths, m), 12);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('with a fixed number of rows per sample', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.nat(), { minLength: 30, maxLength: 30 }), (m, per, count, raw) => {
        const codes = raw.slice(0, per * count).map((c) => c % m);
        const t = new CodeUsageTracker(m);
        t.update(ints(codes), { rowsPerSample: per });
        expect(t.result().overall.perSampleCodeUsage).toBeCloseTo(perSample(codes, new Array(count).fill(per), m), 12);
      }),
      { numRuns: 100 },
    );
  });

  it('a hand-checked case: samples [0 0 1] and [2 3 2 3] of M = 4 → (2/4 + 2/4)/2', () => {
    const t = new CodeUsageTracker(4);
    t.update(ints([0, 0, 1, 2, 3, 2, 3]), { sampleLengths: [3, 4] });
    expect(t.result().overall.perSampleCodeUsage).toBe(0.5);
  });
});

describe('CodeUsageTracker: streaming and groups', () => {
  it('several batches give what one batch of their concatenation gives', () => {
    fc.assert(
      fc.property(
        batchArb(6, 30).filter((b) => b.n >= 2).chain((b) => fc.tuple(fc.constant(b), fc.uniqueArray(fc.integer({ min: 1, max: b.n - 1 }), { maxLength: 4 }).map((cuts) => [0, ...cuts.sort((x, y) => x - y), b.n]))),
        ([{ m, n, codes, probs }, cuts]) => {
          const whole = new CodeUsageTracker(m);
          whole.update(ints(codes), { probs: probsT(probs, m), rowsPerSample: 1 });
          const streamed = new CodeUsageTracker(m);
          for (let i = 0; i + 1 < cuts.length; i++) {
            const [a, b] = [cuts[i]!, cuts[i + 1]!];
            streamed.update(ints(codes.slice(a, b)), { probs: probsT(probs.slice(a, b), m), rowsPerSample: 1 });
          }
          const w = whole.result().overall, s = streamed.result().overall;
          expect(s.histogram).toEqual(w.histogram);
          expect(s.rows).toBe(n);
          expect(s.codeUsage).toBe(w.codeUsage);
          expect(s.perplexityOfMean).toBeCloseTo(w.perplexityOfMean, 10);
          expect(s.perplexityOfMeanSoft!).toBeCloseTo(w.perplexityOfMeanSoft!, 5);
          expect(s.individualPerplexity).toBeCloseTo(w.individualPerplexity, 5);
          expect(s.perSampleCodeUsage).toBeCloseTo(w.perSampleCodeUsage, 10);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reset() forgets everything', () => {
    const t = new CodeUsageTracker(3);
    t.update(ints([0, 1, 2]));
    t.reset();
    t.update(ints([1, 1]));
    expect(t.result().overall).toMatchObject({ codeUsage: 1 / 3, rows: 2, histogram: [0, 2, 0] });
  });

  it('G groups: each group is an independent tracker; overall is their mean, histograms concatenated', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 3 }), batchArb(5, 16), fc.array(fc.nat(), { minLength: 48, maxLength: 48 }), (G, b, raw) => {
        const { m, n } = b;
        // Group 0 takes the batch's codes and probs; the other groups get codes of their own and rotated probs.
        const codes = Array.from({ length: G }, (_, g) => (g === 0 ? b.codes : raw.slice((g - 1) * n, g * n).map((c) => c % m)));
        const probs = Array.from({ length: G }, (_, g) => b.probs.map((p) => p.map((_, j) => p[(j + g) % m]!)));
        const grouped = new CodeUsageTracker(m, G);
        const idx = Array.from({ length: n }, (_, r) => codes.map((c) => c[r]!)).flat();
        const pr = Array.from({ length: n }, (_, r) => probs.map((p) => p[r]!)).flat(2);
        grouped.update(ints(idx, [n, G]), { probs: floats(pr, [n, G, m]), rowsPerSample: 2 });
        const res = grouped.result();
        expect(res.groups).toHaveLength(G);
        const singles = codes.map((c, g) => {
          const t = new CodeUsageTracker(m);
          t.update(ints(c), { probs: probsT(probs[g]!, m), rowsPerSample: 2 });
          return t.result().overall;
        });
        singles.forEach((s, g) => {
          const r = res.groups[g]!;
          expect(r.histogram).toEqual(s.histogram);
          expect(r.codeUsage).toBe(s.codeUsage);
          expect(r.perplexityOfMean).toBeCloseTo(s.perplexityOfMean, 10);
          expect(r.perplexityOfMeanSoft!).toBeCloseTo(s.perplexityOfMeanSoft!, 5);
          expect(r.individualPerplexity).toBeCloseTo(s.individualPerplexity, 5);
          expect(r.perSampleCodeUsage).toBeCloseTo(s.perSampleCodeUsage, 10);
        });
        const mean = (f: (s: (typeof singles)[number]) => number) => singles.reduce((a, s) => a + f(s), 0) / G;
        expect(res.overall.codeUsage).toBeCloseTo(mean((s) => s.codeUsage), 12);
        expect(res.overall.perplexityOfMean).toBeCloseTo(mean((s) => s.perplexityOfMean), 10);
        expect(res.overall.individualPerplexity).toBeCloseTo(mean((s) => s.individualPerplexity), 5);
        expect(res.overall.perSampleCodeUsage).toBeCloseTo(mean((s) => s.perSampleCodeUsage), 10);
        expect(res.overall.histogram).toEqual(singles.flatMap((s) => s.histogram));
        expect(res.overall.rows).toBe(n);
      }),
      { numRuns: 60 },
    );
  });

  it('one group accepts indices [N] or [N, 1] and probs [N, M] or [N, 1, M]', () => {
    const a = new CodeUsageTracker(2);
    a.update(ints([0, 1, 1], [3, 1]), { probs: floats([1, 0, 0.5, 0.5, 0, 1], [3, 1, 2]) });
    const b = new CodeUsageTracker(2);
    b.update(ints([0, 1, 1]), { probs: floats([1, 0, 0.5, 0.5, 0, 1], [3, 2]) });
    expect(a.result()).toEqual(b.result());
  });
});

describe('CodeUsageTracker: errors', () => {
  it('refuses a bad codebook size, mismatched shapes, codes out of range and too-long samples', () => {
    expect(() => new CodeUsageTracker(0)).toThrow(/codebookSize must be a positive integer, got 0/);
    const t = new CodeUsageTracker(4, 2);
    expect(() => t.update(ints([0, 1, 2]))).toThrow(ShapeError);
    expect(() => t.update(ints([0, 1, 2]))).toThrow(/do not match 2 group\(s\)/);
    expect(() => t.update(ints([0, 4], [1, 2]))).toThrow(/code 4 is out of range for a codebook of 4/);
    expect(() => t.update(ints([0, -1], [1, 2]))).toThrow(/code -1 is out of range/);
    expect(() => t.update(ints([0, 1], [1, 2]), { probs: floats(new Array(8).fill(0.25), [2, 4]) })).toThrow(/probs of shape \[2, 4\] do not match \[1, 2, 4\]/);
    expect(() => t.update(ints([0, 1, 2, 3], [2, 2]), { sampleLengths: [2, 1] })).toThrow(/sample lengths add up to more than the 2 rows/);
    // Nothing was recorded by the refused updates.
    expect(t.result().overall.rows).toBe(0);
  });
});
