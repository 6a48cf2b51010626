/**
 * Span masking as in wav2vec 2.0: every valid step starts a masked span of `span` steps with
 * probability `prob`; spans may overlap. At least `minMasked` steps of each utterance are masked
 * (so each has distractors to draw from).
 */
import type { Generator } from '@simplex-vq/tensor';

export interface MaskOptions {
  prob: number;
  span: number;
  minMasked: number;
}

/** A [B·T] 0/1 mask for utterances of `lengths` frames (each ≤ T), and the padding mask. */
export function makeMasks(lengths: readonly number[], T: number, o: MaskOptions, g: Generator): { mask: Float32Array; padding: Float32Array } {
  const B = lengths.length;
  const mask = new Float32Array(B * T);
  const padding = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    const n = lengths[b]!;
    for (let t = n; t < T; t++) padding[b * T + t] = 1;
    let count = 0;
    const mark = (start: number) => {
      for (let t = start; t < Math.min(n, start + o.span); t++) {
        if (!mask[b * T + t]) count++;
        mask[b * T + t] = 1;
      }
    };
    for (let t = 0; t < n; t++) if (g.random() < o.prob) mark(t);
    while (count < Math.min(o.minMasked, n)) mark(g.randint(0, Math.max(1, n - o.span + 1)));
  }
  return { mask, padding };
}
