/**
 * GumbelQuantizer (wav2vec 2.0) against the spec: τ annealed max(end, start·decay^step) from 2 to
 * 0.5; a hard one-hot forward whose gradient is that of the Gumbel-softmax sample (straight
 * through), re-computed in float64 from the same noise; the diversity loss
 * (G·M − Σ_g exp H(p̄_g))/(G·M) weighted 0.1; a deterministic argmax in eval.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, rand } from '@simplex-vq/tensor';
import { GumbelQuantizer } from '../src/index.js';
import { expectClose, flat, perplexity64, randT, rowsOf, softmax64 } from './helpers.js';

const make = (o: { dim: number; codebookSize: number; groups?: number; seed?: number; temperature?: { start?: number; end?: number; decay?: number }; diversityWeight?: number }) => {
  const generator = new Generator(o.seed ?? 0);
  const q = new GumbelQuantizer({ dim: o.dim, codebookSize: o.codebookSize, groups: o.groups, temperature: o.temperature, diversityWeight: o.diversityWeight, generator });
  return { q, generator };
};

/** Logits [N][G·M] of the quantizer's linear layer, in float64. */
const logitsOf = (q: GumbelQuantizer, z: number[][]) => {
  const W = rowsOf(q.logitLayer.weight), b = flat(q.logitLayer.bias!);
  return z.map((row) => W.map((w, j) => w.reduce((s, v, i) => s + v * row[i]!, 0) + b[j]!));
};

describe('GumbelQuantizer: temperature schedule', () => {
  it('defaults to wav2vec 2.0: 2 → 0.5 with decay 0.999995 per training step', () => {
    const { q } = make({ dim: 2, codebookSize: 4 });
    expect(q.schedule).toEqual({ start: 2, end: 0.5, decay: 0.999995 });
    expect(q.diversityWeight).toBe(0.1);
    expect(q.temperature).toBe(2);
    q.step.assign(q.step.zerosLike().add(100_000));
    expect(q.temperature).toBeCloseTo(2 * Math.exp(100_000 * Math.log(0.999995)), 6); // ≈ 2·e^−0.5
    q.step.assign(q.step.zerosLike().add(1_000_000));
    expect(q.temperature).toBe(0.5);
  });

  it('τ(step) = max(end, start·decay^step); each training forward is one step, eval is none', () => {
    fc.assert(
      fc.property(fc.double({ min: 1, max: 4, noNaN: true }), fc.double({ min: 0.1, max: 0.9, noNaN: true }), fc.double({ min: 0.3, max: 0.95, noNaN: true }), (start, endFrac, decay) => {
        const end = start * endFrac;
        const { q } = make({ dim: 2, codebookSize: 3, temperature: { start, end, decay } });
        const z = randT([4, 2], 1);
        for (let step = 0; step < 8; step++) {
          const expected = Math.max(end, start * decay ** step);
          expect(q.temperature).toBeCloseTo(expected, 10);
          if (step % 3 === 2) {
            q.eval();
            expect(q.forward(z).stats.temperature).toBeCloseTo(expected, 10);
            q.train();
          }
          expect(q.forward(z).stats.temperature).toBeCloseTo(expected, 10);
        }
        expect(q.step.item()).toBe(8);
      }),
      { numRuns: 30 },
    );
  });

  it('a partial schedule keeps the other defaults, also for fields given as undefined', () => {
    expect(make({ dim: 2, codebookSize: 3, temperature: { decay: 0.5 } }).q.schedule).toEqual({ start: 2, end: 0.5, decay: 0.5 });
    const q = make({ dim: 2, codebookSize: 3, temperature: { start: 1, end: undefined, decay: undefined } }).q;
    expect(q.schedule).toEqual({ start: 1, end: 0.5, decay: 0.999995 });
    expect(q.temperature).toBe(1);
  });
});

describe('GumbelQuantizer: training forward', () => {
  const caseArb = fc.record({
    n: fc.integer({ min: 1, max: 8 }),
    m: fc.integer({ min: 2, max: 5 }),
    d: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 2 }),
    seed: fc.nat(10_000),
    steps: fc.integer({ min: 0, max: 3 }),
  });

  it('is one-hot straight-through: the output rows are codebook rows, the indices the argmax of the Gumbel sample, the gradient that of the sample', () => {
    fc.assert(
      fc.property(caseArb, ({ n, m, d, groups: G, seed, steps }) => {
        const C = d * G;
        const { q, generator } = make({ dim: C, codebookSize: m, groups: G, seed, temperature: { decay: 0.7 } });
        for (let s = 0; s < steps; s++) q.forward(randT([2, C], 99 + s)); // move τ along the schedule
        const tau = q.temperature;
        const z = randT([n, C], seed + 1).requiresGrad_();
        // The noise the forward will draw, from a copy of the generator's state.
        const u = flat(rand([G, n, m], { generator: new Generator().setState(generator.getState()) }).clamp(1e-10, 1 - 1e-7));
        const out = q.forward(z);
        const logits = logitsOf(q, rowsOf(z));
        const book = q.codebook.toArray() as number[][][];
        const upstream = randT([n, C], seed + 2);
        out.quantized.mul(upstream).sum().backward();
        const up = rowsOf(upstream);
        const idx = rowsOf(out.indices.reshape([n, G]));
        const dLogits = logits.map((row) => row.map(() => 0)); // dL/dℓ [N][G·M]
        for (let r = 0; r < n; r++) {
          for (let g = 0; g < G; g++) {
            const perturbed = Array.from({ length: m }, (_, j) => (logits[r]![g * m + j]! - Math.log(-Math.log(u[(g * n + r) * m + j]!))) / tau);
            const y = softmax64(perturbed);
            expect(idx[r]![g]).toBe(perturbed.indexOf(Math.max(...perturbed)));
            // Forward: the chosen code; backward: through y = softmax((ℓ + g)/τ).
            expectClose(flat(out.quantized).slice(r * C + g * d, r * C + (g + 1) * d), book[g]![idx[r]![g]!]!, 1e-5, 1e-5, 'hard row');
            const dy = book[g]!.map((e) => e.reduce((s, v, i) => s + v * up[r]![g * d + i]!, 0));
            const dot = y.reduce((s, v, j) => s + v * dy[j]!, 0);
            y.forEach((v, j) => (dLogits[r]![g * m + j] = (v * (dy[j]! - dot)) / tau));
          }
        }
        const W = rowsOf(q.logitLayer.weight);
        const dz = dLogits.map((dl) => W[0]!.map((_, i) => dl.reduce((s, v, j) => s + v * W[j]![i]!, 0)));
        expectClose(flat(z.grad!), dz.flat(), 1e-5, 1e-3, 'dz through the Gumbel-softmax sample');
        // The codebook's gradient is that of the hard rows: onehotᵀ · upstream.
        const dE = book.map((b) => b.map((e) => e.map(() => 0)));
        for (let r = 0; r < n; r++) for (let g = 0; g < G; g++) for (let i = 0; i < d; i++) dE[g]![idx[r]![g]!]![i]! += up[r]![g * d + i]!;
        expectClose(flat(q.codebook.grad!), dE.flat(2), 1e-5, 1e-4, 'dE');
      }),
      { numRuns: 30 },
    );
  });

  it('diversity loss = (G·M − Σ_g exp H(p̄_g))/(G·M) of the noise-free softmax, weighted 0.1 by default', () => {
    fc.assert(
      fc.property(caseArb, fc.constantFrom(undefined, 0.5), ({ n, m, d, groups: G, seed }, weight) => {
        const { q } = make({ dim: d * G, codebookSize: m, groups: G, seed, diversityWeight: weight });
        const z = randT([n, d * G], seed + 3);
        const out = q.forward(z);
        const logits = logitsOf(q, rowsOf(z));
        let sum = 0;
        for (let g = 0; g < G; g++) {
          const p = logits.map((row) => softmax64(row.slice(g * m, (g + 1) * m)));
          const pbar = Array.from({ length: m }, (_, j) => p.reduce((s, r) => s + r[j]!, 0) / n);
          sum += perplexity64(pbar);
          expectClose(flat(out.probs!).filter((_, i) => Math.floor(i / m) % G === g), p.flat(), 1e-5, 1e-4, `probs of group ${g}`);
        }
        const diversity = (G * m - sum) / (G * m);
        expect(out.stats.diversity!).toBeCloseTo(diversity, 5);
        expect(out.loss.item()).toBeCloseTo((weight ?? 0.1) * diversity, 6);
        expect(out.probs!.shape).toEqual(G === 1 ? [n, m] : [n, G, m]);
        expect(out.indices.shape).toEqual(G === 1 ? [n] : [n, G]);
      }),
      { numRuns: 30 },
    );
  });

  it('draws its noise from its generator: the same seed gives the same sample, another seed another', () => {
    const z = randT([32, 2], 5);
    const a = make({ dim: 2, codebookSize: 8, seed: 1 }).q.forward(z);
    const b = make({ dim: 2, codebookSize: 8, seed: 1 }).q.forward(z);
    expect(flat(a.indices)).toEqual(flat(b.indices));
    const { q } = make({ dim: 2, codebookSize: 8, seed: 1 });
    const first = flat(q.forward(z).indices);
    const later = Array.from({ length: 5 }, () => flat(q.forward(z).indices).join());
    expect(later.some((s) => s !== first.join())).toBe(true);
  });
});

describe('GumbelQuantizer: eval', () => {
  it('is the deterministic argmax of the logits, no noise, no loss, no step', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.integer({ min: 1, max: 2 }), (seed, G) => {
        const { q, generator } = make({ dim: 2 * G, codebookSize: 5, groups: G, seed });
        q.eval();
        const z = randT([6, 2 * G], seed + 1);
        const state = generator.getState();
        const a = q.forward(z), b = q.forward(z);
        expect(generator.getState()).toEqual(state);
        expect(q.step.item()).toBe(0);
        expect(flat(a.indices)).toEqual(flat(b.indices));
        expect(a.loss.item()).toBe(0);
        const logits = logitsOf(q, rowsOf(z));
        const idx = logits.flatMap((row) => Array.from({ length: G }, (_, g) => {
          const part = row.slice(g * 5, (g + 1) * 5);
          return part.indexOf(Math.max(...part));
        }));
        expect(flat(a.indices)).toEqual(idx);
        const book = q.codebook.toArray() as number[][][];
        expect(flat(a.quantized)).toEqual(Array.from({ length: 6 }, (_, r) => Array.from({ length: G }, (_, g) => book[g]![idx[r * G + g]!]!).flat()).flat().map(Math.fround));
      }),
      { numRuns: 20 },
    );
  });
});
