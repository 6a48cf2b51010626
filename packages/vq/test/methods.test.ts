/**
 * createQuantizer: each of the eight method names builds the quantizer the spec describes, passes
 * its options through, and every quantizer honours the shared contract (shapes with leading axes
 * and groups, hard codes in eval, a differentiable loss).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator } from '@simplex-vq/tensor';
import { FiniteScalarQuantizer, GumbelQuantizer, METHODS, PAPER_METHODS, RESTARTABLE, SimVQ, hasCodebook, SmoothedQuantizer, VectorQuantizer, createQuantizer, isMethod, type Method } from '../src/index.js';
import { expectClose, flat, randT } from './helpers.js';

describe('METHODS and isMethod', () => {
  it('lists the eight methods of the paper, in order, then ste+restart, fsq and lfq', () => {
    expect([...PAPER_METHODS]).toEqual(['ste', 'ste-ema', 'gumbel', 'smooth', 'perplexity', 'simvq', 'knn-l2', 'knn-ce']);
    expect([...METHODS]).toEqual([...PAPER_METHODS, 'ste+restart', 'fsq', 'lfq']);
    for (const m of METHODS) expect(isMethod(m)).toBe(true);
    for (const m of ['', 'knn', 'KNN-CE', 'vq', 'ste ', 'gumbel+restart', 'fsq+restart', 'lfq+restart', '+restart', 'ste+restart+restart']) expect(isMethod(m), m).toBe(false);
    for (const m of RESTARTABLE) expect(isMethod(`${m}+restart`), m).toBe(true);
  });

  it('hasCodebook: every method but fsq and lfq', () => {
    expect(METHODS.filter((m) => !hasCodebook(m))).toEqual(['fsq', 'lfq']);
  });

  it('an unknown method is an error that lists the known ones', () => {
    expect(() => createQuantizer('kmeans' as Method, { dim: 2, codebookSize: 4 })).toThrow(/unknown method 'kmeans'; expected one of ste, ste-ema, gumbel, smooth, perplexity, simvq, knn-l2, knn-ce, ste\+restart, fsq, lfq/);
  });
});

describe('createQuantizer: what each method is', () => {
  const base = { dim: 4, codebookSize: 8 };

  it('ste and ste-ema: VectorQuantizer, codebook loss or EMA, β = 0.25', () => {
    const ste = createQuantizer('ste', base) as VectorQuantizer;
    expect(ste).toBeInstanceOf(VectorQuantizer);
    expect([ste.ema, ste.commitment]).toEqual([false, 0.25]);
    expect(ste.namedParameters().map(([n]) => n)).toEqual(['codebook']);
    const ema = createQuantizer('ste-ema', { ...base, commitment: 0.5 }) as VectorQuantizer;
    expect([ema.ema, ema.commitment]).toEqual([true, 0.5]);
    expect(ema.namedParameters()).toEqual([]);
  });

  it('gumbel: GumbelQuantizer, τ 2 → 0.5, diversity weight 0.1 (both configurable)', () => {
    const g = createQuantizer('gumbel', base) as GumbelQuantizer;
    expect(g).toBeInstanceOf(GumbelQuantizer);
    expect(g.schedule).toEqual({ start: 2, end: 0.5, decay: 0.999995 });
    expect(g.diversityWeight).toBe(0.1);
    const h = createQuantizer('gumbel', { ...base, gumbelTemperature: { start: 1, end: 0.1, decay: 0.9 }, diversityWeight: 0.3 }) as GumbelQuantizer;
    expect(h.schedule).toEqual({ start: 1, end: 0.1, decay: 0.9 });
    expect(h.diversityWeight).toBe(0.3);
  });

  it('smooth, perplexity, knn-l2, knn-ce: SmoothedQuantizer with no, perplexity, KNN-L2, KNN-CE regularizer', () => {
    const kinds: Array<[Method, string, string | undefined]> = [
      ['smooth', 'none', undefined],
      ['perplexity', 'perplexity', undefined],
      ['knn-l2', 'knn', 'l2'],
      ['knn-ce', 'knn', 'ce'],
    ];
    for (const [method, type, distance] of kinds) {
      const q = createQuantizer(method, base) as SmoothedQuantizer;
      expect(q, method).toBeInstanceOf(SmoothedQuantizer);
      expect(q.regularizer.type, method).toBe(type);
      if (distance) expect((q.regularizer as { distance: string }).distance).toBe(distance);
      expect(q.logitsKind).toBe('distance');
      expect(q.commitment).toBe(0.25);
      expect(q.temperature).toBeCloseTo(1, 6);
    }
  });

  it('KNN options reach the regularizer; smoothed options reach the quantizer', () => {
    const q = createQuantizer('knn-ce', { ...base, k: 3, shards: 2, vertexSubset: 0.5, regularizerWeight: 2, commitment: 0.1, temperature: 0.5, learnTemperature: true }) as SmoothedQuantizer;
    expect(q.regularizer).toMatchObject({ type: 'knn', distance: 'ce', k: 3, shards: 2, vertexSubset: 0.5, weight: 2 });
    expect(q.commitment).toBe(0.1);
    expect(q.temperature).toBeCloseTo(0.5, 6);
    expect(q.namedParameters().map(([n]) => n)).toContain('logTemperature');
    const lin = createQuantizer('knn-l2', { ...base, logits: 'linear' }) as SmoothedQuantizer;
    expect(lin.logitsKind).toBe('linear');
    expect(lin.commitment).toBe(0);
    const ppl = createQuantizer('perplexity', { ...base, regularizerWeight: 0.3 }) as SmoothedQuantizer;
    expect(ppl.regularizer).toEqual({ type: 'perplexity', weight: 0.3 });
    // The options are really used: K = 3 with 2 shards needs 3 rows per shard.
    expect(() => q.forward(randT([4, 4], 1))).toThrow(/K = 3/);
  });

  it('simvq: SimVQ, frozen basis and learned projection', () => {
    const s = createQuantizer('simvq', { ...base, groups: 2 }) as SimVQ;
    expect(s).toBeInstanceOf(SimVQ);
    expect(s.basis.shape).toEqual([2, 8, 2]);
    expect(s.projection.shape).toEqual([2, 2, 2]);
    expect(s.commitment).toBe(0.25);
  });

  it('the generator makes construction reproducible', () => {
    for (const m of METHODS) {
      const a = createQuantizer(m, { ...base, generator: new Generator(5) });
      const b = createQuantizer(m, { ...base, generator: new Generator(5) });
      expect(flat(a.effectiveCodebook()), m).toEqual(flat(b.effectiveCodebook()));
    }
  });
});

describe('every method honours the quantizer contract', () => {
  it('shapes with leading axes and groups; eval gives codebook rows; the loss is finite and differentiable', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Method>(...METHODS, ...RESTARTABLE.map((m) => `${m}+restart` as Method)),
        fc.record({ b: fc.integer({ min: 1, max: 3 }), t: fc.integer({ min: 1, max: 4 }), d: fc.integer({ min: 1, max: 3 }), groups: fc.integer({ min: 1, max: 2 }), m0: fc.integer({ min: 2, max: 6 }), init: fc.constantFrom('normal' as const, 'data' as const), seed: fc.nat(1000) }),
        (method, { b, t, d, groups: G, m0, init, seed }) => {
          const C = d * G;
          const q = createQuantizer(method, { dim: C, codebookSize: m0, groups: G, init, generator: new Generator(seed) });
          // fsq and lfq make the number of codes their grid gives (levels ≈ M; 2^round(log2 M)).
          const m = hasCodebook(method) ? m0 : q.codebookSize;
          if (method === 'lfq') expect(m).toBe(2 ** Math.round(Math.log2(m0)));
          expect([q.dim, q.codebookSize, q.groups, q.groupDim]).toEqual([C, m, G, d]);
          const z = randT([b, t, C], seed + 1).requiresGrad_();
          const out = q.forward(z);
          expect(out.quantized.shape).toEqual([b, t, C]);
          expect(out.indices.shape).toEqual(G === 1 ? [b, t] : [b, t, G]);
          expect(out.indices.dtype).toBe('int32');
          flat(out.indices).forEach((i) => expect(i >= 0 && i < m).toBe(true));
          if (out.probs) expect(out.probs.shape).toEqual(G === 1 ? [b * t, m] : [b * t, G, m]);
          expect(out.loss.shape).toEqual([]);
          expect(Number.isFinite(out.loss.item())).toBe(true);
          expect(out.stats.batchUsage).toBeGreaterThan(0);
          expect(out.stats.batchUsage).toBeLessThanOrEqual(1);
          out.quantized.square().mean().add(out.loss).backward();
          expect(flat(z.grad!).every(Number.isFinite)).toBe(true);
          // One row and a data start: every code is that row, so q = z whatever p is and the loss is flat.
          // FSQ with a level of 2: the bound is tanh(z + atanh(0.999))·½ − ½, which float32 saturates (gradient
          // exactly 0) for z ≳ 1.5; the paper recommends levels ≥ 5, fsqLevels picks 2 only for M < 4.
          const degenerate = (init === 'data' && hasCodebook(method) && b * t === 1) || (method === 'fsq' && (q as FiniteScalarQuantizer).levels.includes(2));
          if (!degenerate) expect(flat(z.grad!).some((g) => g !== 0)).toBe(true);
          for (const [name, p] of q.namedParameters()) expect(p.grad, `${method}: ${name} has a gradient`).not.toBeNull();
          q.eval();
          const ev = q.forward(z.detach());
          const book = q.effectiveCodebook().toArray() as number[][][];
          const idx = flat(ev.indices);
          const expected = idx.map((k, i) => book[i % G]![k]!).flat();
          expectClose(flat(ev.quantized), expected, 1e-5, 1e-5, `${method} eval output`);
        },
      ),
      { numRuns: 40 },
    );
  });
});
