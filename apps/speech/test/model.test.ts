/**
 * The wav2vec 2.0-style pieces on tiny synthetic input: shapes, masking, the contrastive loss
 * against a direct computation, and a few training steps that lower the loss.
 */
import { describe, expect, it } from 'vitest';
import { Generator, noGrad, randn, tensor } from '@simplex-vq/tensor';
import { Adam } from '@simplex-vq/nn';
import { CONV_LAYERS, SpeechModel, framesOf, type SpeechModelConfig } from '../src/model.js';
import { makeMasks } from '../src/masking.js';
import { contrastiveLoss, sampleDistractors } from '../src/contrastive.js';
import fc from 'fast-check';

const CONFIG: SpeechModelConfig = { method: 'knn-ce', codebookSize: 16, groups: 2, convChannels: 8, dModel: 16, layers: 1, heads: 2, ffDim: 32, finalDim: 8, k: 1, shards: 1 };

describe('speech model', () => {
  it('frames every 160 samples', () => {
    expect(CONV_LAYERS.reduce((s, [, st]) => s * st, 1)).toBe(160);
    expect(framesOf(16000)).toBe(99);
    const m = new SpeechModel(CONFIG, new Generator(0));
    const z = noGrad(() => m.encode(randn([2, 4000], { generator: new Generator(1) })));
    expect(z.shape).toEqual([2, framesOf(4000), 8]);
  });

  it('hands the codebook init to the quantizer (none for a codebook-free method)', () => {
    const q = (c: Partial<SpeechModelConfig>) => new SpeechModel({ ...CONFIG, ...c }, new Generator(0)).quantizer as unknown as { init?: string; initStd?: number };
    expect(q({ init: 'data' })).toMatchObject({ init: 'data' });
    expect(q({ init: 'normal', initStd: 0.5 })).toMatchObject({ init: 'normal', initStd: 0.5 });
    expect(q({ method: 'ste', init: 'data' })).toMatchObject({ init: 'data' });
    expect(q({ method: 'fsq', init: 'data' }).init).toBeUndefined();
  });

  it('masks spans, at least minMasked steps, never past an utterance', () => {
    const g = new Generator(3);
    const { mask, padding } = makeMasks([20, 12], 20, { prob: 0.1, span: 3, minMasked: 4 }, g);
    const row = (a: Float32Array, b: number) => Array.from(a.subarray(b * 20, (b + 1) * 20));
    expect(row(mask, 0).reduce((s, v) => s + v, 0)).toBeGreaterThanOrEqual(4);
    expect(row(mask, 1).slice(12).every((v) => v === 0)).toBe(true);
    expect(row(padding, 1)).toEqual([...new Array(12).fill(0), ...new Array(8).fill(1)]);
  });

  it('the contrastive loss equals −log softmax of cosine similarities over κ', () => {
    const g = new Generator(5);
    const B = 1, T = 4, E = 3;
    const c = randn([B, T, E], { generator: g }), q = randn([B, T, E], { generator: g });
    const mask = Float32Array.from([1, 1, 0, 1]);
    const r = contrastiveLoss(c, q, mask, null, 1, { distractors: 2, temperature: 0.1, generator: new Generator(9) });
    expect(r.steps).toBe(3);
    // With 3 masked steps and 2 distractors each, the distractors are the two other masked steps
    // (sampling without the target; possibly repeated). Recompute directly with the same draws.
    const cv = c.toArray() as number[][][], qv = q.toArray() as number[][][];
    const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0) / Math.hypot(...a) / Math.hypot(...b);
    const gen = new Generator(9);
    const masked = [0, 1, 3];
    let total = 0;
    masked.forEach((i, pos) => {
      const cands = [i];
      for (let k = 0; k < 2; k++) {
        let rr = gen.randint(0, 2);
        if (rr >= pos) rr++;
        cands.push(masked[rr]!);
      }
      const logits = cands.map((j) => cos(cv[0]![i]!, qv[0]![j]!) / 0.1);
      const mx = Math.max(...logits);
      total += -(logits[0]! - mx - Math.log(logits.reduce((s, l) => s + Math.exp(l - mx), 0)));
    });
    expect(r.loss.item()).toBeCloseTo(total / 3, 4);
  });

  it('trains: a few steps lower the contrastive loss on a tiny batch', () => {
    const g = new Generator(11);
    const model = new SpeechModel(CONFIG, new Generator(12));
    const opt = new Adam(model.parameters(), { lr: 3e-3 });
    // Two "utterances": sine sweeps, 0.25 s each.
    const L = 4000;
    const wave = tensor(Float32Array.from({ length: 2 * L }, (_, i) => Math.sin((i % L) * (0.02 + 0.03 * Math.floor(i / L)) * (1 + (i % L) / L))), { shape: [2, L] });
    const T = framesOf(L);
    const { mask, padding } = makeMasks([T, T], T, { prob: 0.2, span: 3, minMasked: 6 }, g);
    const maskT = tensor(mask, { shape: [2, T] });
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      opt.zeroGrad();
      const out = model.forward(wave, maskT, tensor(padding, { shape: [2, T] }));
      const r = contrastiveLoss(out.context, out.targets, mask, null, 2, { distractors: 4, temperature: 0.1, generator: new Generator(step) });
      const loss = r.loss.add(out.quantizer.loss);
      loss.backward();
      opt.step();
      losses.push(r.loss.item());
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(Math.min(...losses.slice(-3))).toBeLessThan(losses[0]!);
  });
});

describe('masking and distractors (properties)', () => {
  const utterances = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 });

  it('masks only valid steps, at least min(minMasked, length) of each utterance', () => {
    fc.assert(
      fc.property(utterances, fc.double({ min: 0, max: 0.9, noNaN: true }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 1e6 }), (lengths, prob, span, seed) => {
        const T = Math.max(...lengths);
        const { mask, padding } = makeMasks(lengths, T, { prob, span, minMasked: 2 }, new Generator(seed));
        lengths.forEach((n, b) => {
          let count = 0;
          for (let t = 0; t < T; t++) {
            const m = mask[b * T + t]!, p = padding[b * T + t]!;
            expect(p).toBe(t >= n ? 1 : 0);
            if (t >= n) expect(m).toBe(0);
            count += m;
          }
          expect(count).toBeGreaterThanOrEqual(Math.min(2, n));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('never draws the positive as a distractor, and draws only masked steps of the same utterance', () => {
    fc.assert(
      fc.property(utterances, fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 1e6 }), (lengths, K, seed) => {
        const T = Math.max(...lengths);
        const { mask } = makeMasks(lengths, T, { prob: 0.2, span: 3, minMasked: 2 }, new Generator(seed));
        const { rows, candidates } = sampleDistractors(mask, lengths.length, T, K, new Generator(seed + 1));
        expect(candidates).toHaveLength(rows.length * (K + 1));
        rows.forEach((i, r) => {
          expect(mask[i]).toBe(1);
          expect(candidates[r * (K + 1)]).toBe(i);
          for (let k = 1; k <= K; k++) {
            const j = candidates[r * (K + 1) + k]!;
            expect(j).not.toBe(i);
            expect(mask[j]).toBe(1);
            expect(Math.floor(j / T)).toBe(Math.floor(i / T));
          }
        });
        // Every masked step of an utterance with ≥ 2 masked steps is a row.
        const expected = lengths.flatMap((_, b) => {
          const m = Array.from({ length: T }, (_, t) => b * T + t).filter((x) => mask[x]);
          return m.length >= 2 ? m : [];
        });
        expect(rows).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('leaves distractors with the target\'s codes out of the loss', () => {
    const g = new Generator(2);
    const c = randn([1, 3, 4], { generator: g }), q = randn([1, 3, 4], { generator: g });
    const mask = Float32Array.from([1, 1, 1]);
    // Steps 0 and 1 share their code: for row 0 only step 2 is a real distractor, and vice versa.
    const codes = Int32Array.from([5, 5, 7]);
    const withCodes = contrastiveLoss(c, q, mask, codes, 1, { distractors: 4, temperature: 0.1, generator: new Generator(1) });
    const cv = c.toArray() as number[][][], qv = q.toArray() as number[][][];
    const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0) / Math.hypot(...a) / Math.hypot(...b);
    const { candidates } = sampleDistractors(mask, 1, 3, 4, new Generator(1));
    let total = 0;
    for (let i = 0; i < 3; i++) {
      const cands = candidates.slice(i * 5, i * 5 + 5).filter((j, k) => k === 0 || codes[j] !== codes[i]);
      const logits = cands.map((j) => cos(cv[0]![i]!, qv[0]![j]!) / 0.1);
      const mx = Math.max(...logits);
      total += -(logits[0]! - mx - Math.log(logits.reduce((s, l) => s + Math.exp(l - mx), 0)));
    }
    expect(withCodes.loss.item()).toBeCloseTo(total / 3, 4);
  });
});
