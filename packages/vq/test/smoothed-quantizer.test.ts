/**
 * SmoothedQuantizer against a float64 re-computation of the spec: ℓ = −‖z − E‖²/τ (or zW + b),
 * p = softmax(ℓ), training output pE, eval output E[argmax p], commitment β‖z − sg(q)‖², the
 * regularizer on p, a learnable temperature, and product quantization as independent groups.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, ShapeError, gradCheck, tensor, type Tensor } from '@simplex-vq/tensor';
import { functionalCall } from '@simplex-vq/nn';
import { SmoothedQuantizer, knnRegularizer, perplexityRegularizer, type SmoothedQuantizerOptions } from '../src/index.js';
import { expectClose, flat, randT, rowsOf, softmax64 } from './helpers.js';

/** Float64 reference of the distance-logit forward for one group: probs, soft and hard outputs. */
function reference(z: number[][], book: number[][], tau: number) {
  const logits = z.map((row) => book.map((e) => -row.reduce((s, v, c) => s + (v - e[c]!) ** 2, 0) / tau));
  const probs = logits.map(softmax64);
  const soft = probs.map((p) => book[0]!.map((_, c) => p.reduce((s, pm, m) => s + pm * book[m]![c]!, 0)));
  const indices = logits.map((l) => l.indexOf(Math.max(...l)));
  return { probs, soft, indices, hard: indices.map((k) => book[k]!) };
}

const caseArb = fc.record({
  n: fc.integer({ min: 1, max: 8 }),
  m: fc.integer({ min: 2, max: 6 }),
  c: fc.integer({ min: 1, max: 4 }),
  tau: fc.constantFrom(0.5, 1, 2),
  seed: fc.integer({ min: 0, max: 10_000 }),
});

const make = (o: Partial<SmoothedQuantizerOptions> & { dim: number; codebookSize: number }, seed = 0) =>
  new SmoothedQuantizer({ generator: new Generator(seed), ...o });

describe('SmoothedQuantizer (distance logits)', () => {
  it('training output is pE and eval output is E[argmax p], both against a float64 re-computation', () => {
    fc.assert(
      fc.property(caseArb, ({ n, m, c, tau, seed }) => {
        const q = make({ dim: c, codebookSize: m, temperature: tau, regularizer: { type: 'none' } }, seed);
        const z = randT([n, c], seed + 1, 1.5);
        const ref = reference(rowsOf(z), rowsOf(q.codebook.reshape([m, c])), tau);
        const train = q.forward(z);
        expect(train.quantized.shape).toEqual([n, c]);
        expect(train.probs!.shape).toEqual([n, m]);
        expectClose(flat(train.probs!), ref.probs.flat(), 1e-5, 1e-4, 'probs');
        expectClose(flat(train.logProbs!.exp()), ref.probs.flat(), 1e-5, 1e-4, 'exp logProbs');
        expectClose(flat(train.quantized), ref.soft.flat(), 1e-5, 1e-4, 'pE');
        q.eval();
        const ev = q.forward(z);
        // The hard output is a row of the codebook, bit for bit, and it is the nearest one.
        expect(rowsOf(ev.quantized)).toEqual(rowsOf(q.codebook.reshape([m, c]).indexSelect(0, ev.indices)));
        expect(flat(ev.indices)).toEqual(ref.indices);
        expect(flat(train.indices)).toEqual(ref.indices);
        expectClose(flat(ev.probs!), ref.probs.flat(), 1e-5, 1e-4, 'eval probs');
      }),
      { numRuns: 40 },
    );
  });

  it('keeps leading axes: z [B, T, C] gives quantized [B, T, C], indices [B, T], probs [B·T, M]', () => {
    const q = make({ dim: 3, codebookSize: 5 });
    const out = q.forward(randT([2, 4, 3], 1));
    expect(out.quantized.shape).toEqual([2, 4, 3]);
    expect(out.indices.shape).toEqual([2, 4]);
    expect(out.indices.dtype).toBe('int32');
    expect(out.probs!.shape).toEqual([8, 5]);
    expect(() => q.forward(randT([2, 4], 1))).toThrow(ShapeError);
    expect(() => q.forward(randT([2, 4], 1))).toThrow(/expects input \[\.\.\., 3\], got \[2, 4\]/);
  });

  it('the commitment term is β·mean‖z − sg(q)‖²: its gradient reaches z, never the codebook', () => {
    fc.assert(
      fc.property(caseArb, fc.constantFrom(0.25, 1), ({ n, m, c, tau, seed }, beta) => {
        const q = make({ dim: c, codebookSize: m, temperature: tau, commitment: beta, regularizer: { type: 'none' } }, seed);
        const z = randT([n, c], seed + 1).requiresGrad_();
        const out = q.forward(z);
        const zq = rowsOf(z), qq = rowsOf(out.quantized);
        const commit = zq.flat().reduce((s, v, i) => s + (v - qq.flat()[i]!) ** 2, 0) / (n * c);
        expect(out.stats.commitment!).toBeCloseTo(commit, 5);
        expect(out.loss.item()).toBeCloseTo(beta * commit, 5);
        out.loss.backward();
        expectClose(flat(z.grad!), zq.flat().map((v, i) => (2 * beta * (v - qq.flat()[i]!)) / (n * c)), 1e-6, 1e-4, 'dz');
        // sg(q): the codebook gets nothing from the commitment term.
        expect(q.codebook.grad === null || flat(q.codebook.grad).every((g) => g === 0)).toBe(true);
        // In eval the commitment is measured against the hard codes.
        q.eval();
        const ev = q.forward(z.detach());
        const hq = rowsOf(ev.quantized).flat();
        const hard = zq.flat().reduce((s, v, i) => s + (v - hq[i]!) ** 2, 0) / (n * c);
        expect(ev.stats.commitment!).toBeCloseTo(hard, 5);
      }),
      { numRuns: 30 },
    );
  });

  it('commitment is on by default (β = 0.25) for distance logits, and off with commitment: 0', () => {
    expect(make({ dim: 2, codebookSize: 3 }).commitment).toBe(0.25);
    const off = make({ dim: 2, codebookSize: 3, commitment: 0, regularizer: { type: 'none' } });
    const out = off.forward(randT([4, 2], 2));
    expect(out.stats.commitment).toBeUndefined();
    expect(out.loss.item()).toBe(0);
  });

  it('the default regularizer is KNN-CE with K = 1 and weight 1, on the training probabilities', () => {
    const q = make({ dim: 2, codebookSize: 4 });
    expect(q.regularizer).toEqual({ type: 'knn', k: 1, distance: 'ce' });
    const out = q.forward(randT([6, 2], 3));
    const knn = knnRegularizer(out.logProbs!, { input: 'logProbs', k: 1, distance: 'ce' }).item();
    expect(out.stats.knn!).toBeCloseTo(knn, 6);
    expect(out.loss.item()).toBeCloseTo(0.25 * out.stats.commitment! + knn, 5);
  });

  it('KNN and perplexity regularizers enter the loss weighted by λ, in training only', () => {
    fc.assert(
      fc.property(
        caseArb,
        fc.constantFrom<'ce' | 'l2'>('ce', 'l2'),
        fc.integer({ min: 1, max: 2 }),
        fc.constantFrom(0.5, 2),
        ({ m, c, tau, seed }, distance, k, weight) => {
          const n = 8;
          const z = randT([n, c], seed + 7);
          const knnQ = make({ dim: c, codebookSize: m, temperature: tau, regularizer: { type: 'knn', k, distance, weight } }, seed);
          const out = knnQ.forward(z);
          const reg = knnRegularizer(out.logProbs!, { input: 'logProbs', k, distance }).item();
          expect(out.stats.knn!).toBeCloseTo(reg, 5);
          expect(out.loss.item()).toBeCloseTo(0.25 * out.stats.commitment! + weight * reg, 5);
          const pplQ = make({ dim: c, codebookSize: m, temperature: tau, regularizer: { type: 'perplexity', weight } }, seed);
          const out2 = pplQ.forward(z);
          const ppl = perplexityRegularizer(out2.probs!, { input: 'probs' }).item();
          expect(out2.stats.perplexity!).toBeCloseTo(ppl, 5);
          expect(out2.loss.item()).toBeCloseTo(0.25 * out2.stats.commitment! + weight * ppl, 5);
          for (const qz of [knnQ, pplQ]) {
            qz.eval();
            const ev = qz.forward(z);
            expect(ev.stats.knn).toBeUndefined();
            expect(ev.stats.perplexity).toBeUndefined();
            expect(ev.loss.item()).toBeCloseTo(0.25 * ev.stats.commitment!, 6);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('the regularizer trains the codebook and the encoder output (its gradient reaches both)', () => {
    const q = make({ dim: 2, codebookSize: 4, commitment: 0 });
    const z = randT([6, 2], 4).requiresGrad_();
    q.forward(z).loss.backward();
    expect(flat(z.grad!).some((g) => g !== 0)).toBe(true);
    expect(flat(q.codebook.grad!).some((g) => g !== 0)).toBe(true);
  });
});

describe('SmoothedQuantizer: temperature', () => {
  it('a fixed τ is a buffer; a learned τ is a parameter (log τ) that gets the gradient central differences give', () => {
    const fixed = make({ dim: 2, codebookSize: 3, temperature: 0.5 });
    expect(fixed.temperature).toBeCloseTo(0.5, 6);
    expect(fixed.namedParameters().map(([n]) => n)).toEqual(['codebook']);
    expect(fixed.namedBuffers().map(([n]) => n)).toContain('logTemperature');

    const q = make({ dim: 3, codebookSize: 4, temperature: 2, learnTemperature: true, regularizer: { type: 'none' } }, 5);
    expect(q.temperature).toBeCloseTo(2, 6);
    expect(q.namedParameters().map(([n]) => n).sort()).toEqual(['codebook', 'logTemperature']);
    const z = randT([5, 3], 6);
    const out = q.forward(z);
    out.quantized.square().sum().backward();
    expect(q.logTemperature.grad).not.toBeNull();
    expect(Math.abs(q.logTemperature.grad!.item())).toBeGreaterThan(1e-4);
    // d/d(z, E, log τ) of the soft output, in float64, against central differences.
    const r = gradCheck(
      (zz: Tensor, book: Tensor, logTau: Tensor) => functionalCall(q, { codebook: book, logTemperature: logTau }, () => q.forward(zz).quantized),
      [z, q.codebook, q.logTemperature],
    );
    expect(r.ok, r.message).toBe(true);
  });

  it('a lower temperature makes p sharper', () => {
    const z = randT([16, 2], 8);
    const entropyOf = (tau: number) => {
      const p = make({ dim: 2, codebookSize: 8, temperature: tau }, 1).forward(z).probs!;
      return -flat(p.mul(p.clamp(1e-30).log())).reduce((a, b) => a + b, 0);
    };
    expect(entropyOf(0.1)).toBeLessThan(entropyOf(1));
    expect(entropyOf(1)).toBeLessThan(entropyOf(10));
  });
});

describe('SmoothedQuantizer (linear logits)', () => {
  it('p = softmax((zWᵀ + b)/τ), training output pE, no commitment by default', () => {
    fc.assert(
      fc.property(caseArb, ({ n, m, c, tau, seed }) => {
        const q = make({ dim: c, codebookSize: m, logits: 'linear', temperature: tau, regularizer: { type: 'none' } }, seed);
        expect(q.commitment).toBe(0);
        const z = randT([n, c], seed + 2);
        const W = rowsOf(q.logitLayer!.weight), b = flat(q.logitLayer!.bias!);
        const probs = rowsOf(z).map((row) => softmax64(W.map((w, j) => (w.reduce((s, v, i) => s + v * row[i]!, 0) + b[j]!) / tau)));
        const book = rowsOf(q.codebook.reshape([m, c]));
        const out = q.forward(z);
        expectClose(flat(out.probs!), probs.flat(), 1e-5, 1e-4, 'probs');
        expectClose(flat(out.quantized), probs.flatMap((p) => book[0]!.map((_, k) => p.reduce((s, pm, j) => s + pm * book[j]![k]!, 0))), 1e-5, 1e-4, 'pE');
        expect(out.stats.commitment).toBeUndefined();
        expect(out.loss.item()).toBe(0);
        q.eval();
        const ev = q.forward(z);
        expect(flat(ev.indices)).toEqual(probs.map((p) => p.indexOf(Math.max(...p))));
      }),
      { numRuns: 30 },
    );
  });

  it('the linear layer is trained by the loss (with the KNN regularizer)', () => {
    const q = make({ dim: 2, codebookSize: 4, logits: 'linear' });
    q.forward(randT([6, 2], 1)).loss.backward();
    expect(flat(q.logitLayer!.weight.grad!).some((g) => g !== 0)).toBe(true);
    expect(make({ dim: 2, codebookSize: 4 }).logitLayer).toBeNull();
  });
});

describe('SmoothedQuantizer: groups (product quantization)', () => {
  it('G = 2: indices [N, G], probs [N, G, M], quantized like z; each group is an independent G = 1 quantizer', () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 2, max: 8 }), m: fc.integer({ min: 2, max: 5 }), d: fc.integer({ min: 1, max: 3 }), seed: fc.nat(10_000) }),
        fc.constantFrom<SmoothedQuantizerOptions['regularizer']>({ type: 'none' }, { type: 'knn', k: 2, distance: 'ce' }, { type: 'knn', distance: 'l2' }, { type: 'perplexity' }),
        ({ n, m, d, seed }, regularizer) => {
          const G = 2;
          const both = make({ dim: G * d, codebookSize: m, groups: G, regularizer }, seed);
          expect(both.codebook.shape).toEqual([G, m, d]);
          const singles = [0, 1].map((g) => {
            const s = make({ dim: d, codebookSize: m, regularizer }, seed + 1 + g);
            s.codebook.assign(both.codebook.slice(0, g, g + 1));
            return s;
          });
          const z = randT([n, G * d], seed + 9);
          for (const mode of ['train', 'eval'] as const) {
            [both, ...singles].forEach((q) => (mode === 'train' ? q.train() : q.eval()));
            const out = both.forward(z);
            expect(out.quantized.shape).toEqual([n, G * d]);
            expect(out.indices.shape).toEqual([n, G]);
            expect(out.probs!.shape).toEqual([n, G, m]);
            const parts = singles.map((s, g) => s.forward(z.slice(1, g * d, (g + 1) * d)));
            parts.forEach((p, g) => {
              expectClose(flat(out.quantized.slice(1, g * d, (g + 1) * d)), flat(p.quantized), 1e-6, 1e-5, `quantized group ${g}`);
              expect(flat(out.indices.slice(1, g, g + 1))).toEqual(flat(p.indices));
              expectClose(flat(out.probs!.slice(1, g, g + 1)), flat(p.probs!), 1e-6, 1e-5, `probs group ${g}`);
            });
            // Equal-sized groups: the commitment mean and the regularizer both average over groups.
            expect(out.loss.item()).toBeCloseTo((parts[0]!.loss.item() + parts[1]!.loss.item()) / 2, 5);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('G = 2 with leading axes: indices [B, T, G]', () => {
    const q = make({ dim: 4, codebookSize: 3, groups: 2 });
    const out = q.forward(randT([2, 3, 4], 1));
    expect(out.quantized.shape).toEqual([2, 3, 4]);
    expect(out.indices.shape).toEqual([2, 3, 2]);
    expect(out.probs!.shape).toEqual([6, 2, 3]);
  });

  it('refuses dims that do not split into the groups, and non-positive sizes', () => {
    expect(() => make({ dim: 5, codebookSize: 3, groups: 2 })).toThrow(/dim = 5 channels cannot be split into 2 groups/);
    expect(() => make({ dim: 4, codebookSize: 0 })).toThrow(/codebookSize must be a positive integer, got 0/);
    expect(() => make({ dim: 4, codebookSize: 2, groups: 1.5 })).toThrow(/groups must be a positive integer/);
  });
});

describe('SmoothedQuantizer: stats', () => {
  it('reports the temperature and the batch usage of its hard codes', () => {
    const q = make({ dim: 2, codebookSize: 4, temperature: 0.5 });
    // Put the codebook on four points and the batch on two of them.
    q.codebook.assign(tensor(Float32Array.from([0, 0, 10, 0, 0, 10, 10, 10]), { shape: [1, 4, 2] }));
    const out = q.forward(tensor(Float32Array.from([0.1, 0, 9.9, 0.2, 0, 0.1]), { shape: [3, 2] }));
    expect(flat(out.indices)).toEqual([0, 1, 0]);
    expect(out.stats.batchUsage).toBe(0.5);
    expect(out.stats.temperature).toBeCloseTo(0.5, 6);
  });
});
