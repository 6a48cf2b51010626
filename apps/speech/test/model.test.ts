/**
 * The wav2vec 2.0-style pieces on tiny synthetic input: shapes, masking, the contrastive loss
 * against a direct computation, and a few training steps that lower the loss.
 */
import { describe, expect, it } from 'vitest';
import { Generator, noGrad, randn, tensor } from '@simplex-vq/tensor';
import { Adam } from '@simplex-vq/nn';
import { CONV_LAYERS, SpeechModel, framesOf, type SpeechModelConfig } from '../src/model.js';
import { makeMasks } from '../src/masking.js';
import { contrastiveLoss } from '../src/contrastive.js';

const CONFIG: SpeechModelConfig = { method: 'knn-ce', codebookSize: 16, groups: 2, convChannels: 8, dModel: 16, layers: 1, heads: 2, ffDim: 32, finalDim: 8, k: 1, shards: 1 };

describe('speech model', () => {
  it('frames every 160 samples', () => {
    expect(CONV_LAYERS.reduce((s, [, st]) => s * st, 1)).toBe(160);
    expect(framesOf(16000)).toBe(99);
    const m = new SpeechModel(CONFIG, new Generator(0));
    const z = noGrad(() => m.encode(randn([2, 4000], { generator: new Generator(1) })));
    expect(z.shape).toEqual([2, framesOf(4000), 8]);
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
